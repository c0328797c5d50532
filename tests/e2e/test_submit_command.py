"""`reprise submit` as a CI job runs it: the command in a subprocess against `reprise api` and `reprise worker` as
real processes (one of each for the whole module, on a database and queue of its own), with an API key of scope
`run` in REPRISE_API_KEY."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from junitparser import Error, Failure, JUnitXml, Skipped
from redis import Redis

from contract.settings import Settings

from flows import numbered_slow_script, quick_script
from ports import free_port
from recordings import load_recording, write_recording
from services import ADMIN_DATABASE_URL, REPO_ROOT, TEST_REDIS_URL, WorkerProcess, api_process, worker_env

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Reprise:
    url: str
    key: str
    settings: Settings

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=10)


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(ADMIN_DATABASE_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def reprise(template_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reprise]:
    """`reprise api` (AUTH=keys) and one `reprise worker`, shared by the module's tests; a key of scope run."""
    root = tmp_path_factory.mktemp("submit")
    database = f"reprise_t_{uuid.uuid4().hex[:12]}"
    queue = f"test-runs-{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{database}" TEMPLATE "{template_database}"'))
    settings = Settings(
        database_url=f"{ADMIN_DATABASE_URL.rpartition('/')[0]}/{database}", redis_url=TEST_REDIS_URL,
        queue_name=queue, video_storage_path=root / "videos", screenshot_storage_path=root / "screenshots",
        artifact_storage_path=root / "files", work_dir=root / "work", worker_name="submit-worker",
        heartbeat_interval_s=0.5, log_format="json", browser_allowed_networks=("127.0.0.0/8", "::1/128"))
    try:
        with ExitStack() as stack:
            url = stack.enter_context(api_process(settings, root / "api.log", AUTH="keys"))
            created = subprocess.run([sys.executable, "-m", "reprise.cli", "keys", "create", "--name", "ci",
                                      "--scope", "run"], env=worker_env(settings, "unused"), cwd=REPO_ROOT,
                                     capture_output=True, text=True, timeout=60, check=True)
            key = created.stdout.splitlines()[-1]
            log_path = root / "worker.log"
            with log_path.open("wb") as log_file:
                process = subprocess.Popen([sys.executable, "-m", "reprise.cli", "worker"],
                                           env=worker_env(settings, "submit-worker"), stdout=log_file,
                                           stderr=subprocess.STDOUT, cwd=REPO_ROOT)
            worker = WorkerProcess(name="submit-worker", process=process, log_path=log_path)
            stack.callback(worker.stop)
            service = Reprise(url, key, settings)
            with service.client() as client:
                deadline = time.monotonic() + 60
                while not any(w["name"] == "submit-worker"
                              for w in client.get("/api/health/detailed").json().get("workers", [])):
                    assert process.poll() is None, worker.log()[-3000:]
                    assert time.monotonic() < deadline, "the worker did not come up"
                    time.sleep(0.2)
            yield service
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        redis = Redis.from_url(TEST_REDIS_URL)
        try:
            keys = list(redis.scan_iter(match=f"*{queue}*", count=500))
            if keys:
                redis.delete(*keys)
        finally:
            redis.close()


def submit_env(reprise: Reprise | None, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("REPRISE_API_KEY", "REPRISE_API_URL", "GITHUB_STEP_SUMMARY")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if reprise is not None:
        env.update({"REPRISE_API_KEY": reprise.key, "REPRISE_API_URL": reprise.url})
    env.update(extra)
    return env


def submit(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reprise.cli", "submit", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=240)


def submit_in_terminal(*args: str | Path, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """`reprise submit` with its stdout on a pseudo-terminal (120 columns): exit code, what the terminal got,
    stderr."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    stderr_path = cwd / "terminal-stderr.txt"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "reprise.cli", "submit", *map(str, args)], cwd=cwd,
                                   env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=stderr)
    os.close(follower)
    received = bytearray()
    deadline = time.monotonic() + 240
    try:
        while True:
            assert time.monotonic() < deadline, f"reprise submit did not end: {received.decode(errors='replace')}"
            ready, _, _ = select.select([leader], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other end closed (the process ended)
                break
            if not chunk:
                break
            received += chunk
        code = process.wait(timeout=30)
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
            process.wait()
    return code, received.decode(errors="replace"), stderr_path.read_text()


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_passing_and_a_failing_file_exit_1_with_lines_a_junit_report_and_a_job_summary(
    reprise: Reprise, site_url: str, tmp_path: Path,
) -> None:
    passing = write_json(tmp_path / "quick.json", quick_script(site_url, "quick greeting"))
    failing = write_recording("native-wrong-greeting.json", site_url, tmp_path)
    summary = tmp_path / "step-summary.md"
    junit = tmp_path / "reports" / "junit.xml"

    done = submit(passing, failing, "--wait", "--timeout", "180", "--junit", junit, cwd=tmp_path,
                  env=submit_env(reprise, GITHUB_STEP_SUMMARY=str(summary)))

    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr == ""
    queued = re.findall(r"^queued run #(\d+) (.+) \(([0-9a-f-]{36})\): (\S+)$", done.stdout, re.M)
    assert [name for _, name, _, _ in queued] == ["quick greeting", "A greeting that does not match"]
    assert all(link == f"{reprise.url}/#/runs/{run_id}" for _, _, run_id, link in queued)
    (quick_number, _, quick_id, _), (wrong_number, _, wrong_id, _) = queued
    # Not a terminal: plain lines, one per change, ending with each run's verdict and step count.
    assert "\r" not in done.stdout and "\x1b" not in done.stdout
    assert f"#{quick_number} quick greeting: passed, step 3/3" in done.stdout.splitlines()
    assert f"#{wrong_number} A greeting that does not match: failed, step 4/5" in done.stdout.splitlines()
    assert "reprise submit: 2 runs: 1 passed, 1 failed" in done.stdout

    with reprise.client() as client:
        failed = client.get(f"/api/runs/{wrong_id}").json()
        step = failed["steps"][3]
        assert (failed["status"], step["status"], step["type"]) == ("failed", "failed", "assertText")
        [case_quick, case_wrong] = list(next(iter(JUnitXml.fromfile(str(junit)))))
        assert (case_quick.name, case_quick.classname, case_quick.is_passed) == ("quick greeting", "reprise", True)
        assert case_wrong.name == "A greeting that does not match"
        [failure] = case_wrong.result
        assert isinstance(failure, Failure) and failure.message == " ".join(step["error"].split())
        assert failure.text is not None
        # The step by its number, type and recorded selector (none matched), then its error.
        assert failure.text.splitlines()[:2] == ["step 4 of 5 (assertText #result) failed", step["error"]]
        assert case_wrong.time == pytest.approx(failed["durationMs"] / 1000)
        out = (case_wrong.system_out or "").splitlines()
        assert out[0] == f"run: {reprise.url}/#/runs/{wrong_id}"
        attachments = [line[len("[[ATTACHMENT|"):-2] for line in out if line.startswith("[[ATTACHMENT|")]
        kinds = {artifact["url"]: artifact["kind"] for artifact in failed["artifacts"]}
        assert [kinds[url] for url in attachments] == ["video", "trace", "screenshot"]
        for url in attachments:  # the links lead to the files
            assert client.get(url).status_code == 200

    table = summary.read_text().splitlines()
    assert table[0] == "### reprise submit: 2 runs: 1 passed, 1 failed"
    assert table[2:4] == ["| status | name | duration | failing step | link |", "| --- | --- | --- | --- | --- |"]
    assert table[4].startswith("| ✅ passed | quick greeting | ")
    assert table[4].endswith(f" s |  | [#{quick_number}]({reprise.url}/#/runs/{quick_id}) |")  # no failing step
    assert table[5].startswith("| ❌ failed | A greeting that does not match | ")
    assert "| step 4 of 5 (assertText #result): step 4 (assertText) [assertion_failed]: expected " in table[5]
    assert table[5].endswith(f"| [#{wrong_number}]({reprise.url}/#/runs/{wrong_id}) |")


def test_a_saved_recording_by_name_in_a_terminal_shows_progress_bars_and_exits_0(
    reprise: Reprise, site_url: str, tmp_path: Path,
) -> None:
    name = f"Tour {uuid.uuid4().hex[:8]}"
    with reprise.client() as client:
        saved = client.post("/api/recordings", json={"script": load_recording("native-tour.json", site_url),
                                                     "name": name})
        assert saved.status_code == 201, saved.text
        recording = saved.json()

    code, terminal, stderr = submit_in_terminal("--recording", name, "--wait", "--junit", "tour.xml",
                                                cwd=tmp_path, env=submit_env(reprise))

    assert (code, stderr) == (0, ""), terminal
    total = recording["stepCount"]
    # Bars redrawn in place: each drawing starts its line again (\r, cleared), and later ones first go back up.
    drawings = re.findall(rf"\r\x1b\[2K#\d+ {name} +\[([#-]+)\] +(\d+)/{total}  (\w+)", terminal)
    assert len(drawings) >= 2, terminal
    assert drawings[-1] == ("#" * 24, str(total), "passed")
    assert "\x1b[1A" in terminal
    done_counts = [int(done) for _, done, _ in drawings]
    assert done_counts == sorted(done_counts)
    assert "reprise submit: 1 run: 1 passed" in terminal
    [case] = list(next(iter(JUnitXml.fromfile(str(tmp_path / "tour.xml")))))
    assert (case.name, case.is_passed) == (name, True)
    run_id = re.search(r"queued run #\d+ .+ \(([0-9a-f-]{36})\)", terminal)
    assert run_id is not None
    with reprise.client() as client:
        run = client.get(f"/api/runs/{run_id.group(1)}").json()
    assert (run["recordingId"], run["status"]) == (recording["id"], "passed")


def test_invalid_input_exits_2_naming_the_problem_and_queues_nothing(
    reprise: Reprise, site_url: str, tmp_path: Path,
) -> None:
    env = submit_env(reprise)
    good = write_json(tmp_path / "good.json", quick_script(site_url, "good"))
    bad_step = write_json(tmp_path / "bad-step.json", {"version": 1, "name": "bad", "steps": [
        {"action": "navigate", "url": "ftp://nowhere"}]})
    (tmp_path / "broken.json").write_text('{"version": 1,')
    with reprise.client() as client:
        before = client.get("/api/runs").json()["total"]

    cases: list[tuple[list[str | Path], list[str]]] = [
        ([tmp_path / "missing.json"], [f"cannot read {tmp_path / 'missing.json'}: No such file or directory"]),
        ([tmp_path / "broken.json"], ["is not JSON: Expecting"]),
        ([bad_step], ["the API refused the request (422):\n", f"  {bad_step}: script.steps[0].url: URL scheme"]),
        ([good, bad_step, "--wait"], ["(422)", f"{bad_step}: script.steps[0].url"]),
        ([good, "--base-url", "staging"], ["(422)", "--base-url (baseUrl): "]),
        (["--recording", "no such recording"], ["no saved recording is named 'no such recording'"]),
        ([good, "--var", "not a name=1"], ["argument --var: 'not a name' is not a variable name"]),
        ([good, "--junit", "x.xml"], ["--junit needs --wait"]),
    ]
    for args, expected in cases:
        done = submit(*args, cwd=tmp_path, env=env)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stdout == "", args
        for text in expected:
            assert text in done.stderr, (args, done.stderr)
    with reprise.client() as client:
        assert client.get("/api/runs").json()["total"] == before


def test_an_unreachable_api_or_a_refused_key_exits_3(reprise: Reprise, site_url: str, tmp_path: Path) -> None:
    good = write_json(tmp_path / "good.json", quick_script(site_url, "good"))
    nowhere = f"http://127.0.0.1:{free_port()}"

    done = submit(good, "--wait", "--api", nowhere, cwd=tmp_path, env=submit_env(reprise))
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr.startswith(f"reprise submit: cannot reach the API at {nowhere}: ConnectError")

    done = submit(good, "--wait", cwd=tmp_path, env=submit_env(reprise, REPRISE_API_KEY="rk_not_a_key"))
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr.startswith("reprise submit: POST /api/runs: 401 ") and "REPRISE_API_KEY" in done.stderr


def test_without_wait_the_queued_runs_are_printed_and_it_exits_0(
    reprise: Reprise, site_url: str, tmp_path: Path,
) -> None:
    good = write_json(tmp_path / "good.json", quick_script(site_url, "queued only"))
    done = submit(good, "--var", "WHO=Ada", cwd=tmp_path, env=submit_env(reprise))
    assert (done.returncode, done.stderr) == (0, "")
    [(run_id, link)] = re.findall(r"^queued run #\d+ queued only \(([0-9a-f-]{36})\): (\S+)$", done.stdout, re.M)
    assert link == f"{reprise.url}/#/runs/{run_id}"
    with reprise.client() as client:
        run = client.get(f"/api/runs/{run_id}").json()
    assert run["options"]["variables"] == {"WHO": "***"}  # a run key is not admin: the value is not shown


def test_past_the_timeout_the_runs_still_going_are_cancelled_and_the_exit_is_3(
    reprise: Reprise, site_url: str, tmp_path: Path,
) -> None:
    slow = write_json(tmp_path / "slow.json", numbered_slow_script(site_url, 60))
    junit = tmp_path / "junit.xml"

    done = submit(slow, "--wait", "--timeout", "2", "--junit", junit, cwd=tmp_path, env=submit_env(reprise))

    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr == "reprise submit: --timeout 2 s passed with 1 run(s) not finished; cancelled them\n"
    [run_id] = re.findall(r"^queued run #\d+ slow 60s \(([0-9a-f-]{36})\)", done.stdout, re.M)
    assert "1 run: 1 timed out" in done.stdout
    with reprise.client() as client:
        run = client.get(f"/api/runs/{run_id}").json()
    assert (run["status"], run["error"]) == ("cancelled", "cancelled by request")
    [case] = list(next(iter(JUnitXml.fromfile(str(junit)))))
    [error] = case.result
    assert isinstance(error, Error) and error.type == "timeout"


def test_a_suite_by_name_exits_1_with_one_testcase_per_recording_and_the_suites_verdict(
    reprise: Reprise, site_url: str, tmp_path: Path,
) -> None:
    suite_name = f"smoke {uuid.uuid4().hex[:8]}"
    with reprise.client() as client:
        ids = []
        for script, name in ((quick_script(site_url, "suite greeting"), "suite greeting"),
                             (load_recording("native-wrong-greeting.json", site_url), "suite wrong greeting")):
            saved = client.post("/api/recordings", json={"script": script, "name": name})
            assert saved.status_code == 201, saved.text
            ids.append(saved.json()["id"])
        created = client.post("/api/suites", json={"name": suite_name, "recordingIds": ids,
                                                   "defaults": {"video": "off"}})
        assert created.status_code == 201, created.text

    done = submit("--suite", suite_name, "--wait", "--timeout", "180", "--junit", "suite.xml", cwd=tmp_path,
                  env=submit_env(reprise))

    assert done.returncode == 1, done.stdout + done.stderr
    queued = re.search(rf"^queued suite run #\d+ of {suite_name} \(2 runs\): (\S+)$", done.stdout, re.M)
    assert queued is not None, done.stdout
    suite_run_id = queued.group(1).rsplit("/", 1)[-1]
    with reprise.client() as client:
        suite_run = client.get(f"/api/suite-runs/{suite_run_id}").json()
    # The command waited for the queue's decision, not only for the runs.
    assert suite_run["status"] == "failed" and suite_run["counts"]["passed"] == 1 and suite_run["counts"]["failed"] == 1
    assert queued.group(1) == f"{reprise.url}/#/suite-runs/{suite_run_id}"
    [suite] = list(JUnitXml.fromfile(str(tmp_path / "suite.xml")))
    cases = list(suite)
    assert suite.name == suite_name and [case.name for case in cases] == ["suite greeting", "suite wrong greeting"]
    assert cases[0].is_passed and isinstance(cases[1].result[0], Failure)
    assert cases[1].result[0].text is not None and "(assertText #result) failed" in cases[1].result[0].text


def test_a_suite_whose_only_failure_is_quarantined_exits_0_and_the_summary_says_quarantined(
    reprise: Reprise, site_url: str, tmp_path: Path,
) -> None:
    suite_name = f"quarantine {uuid.uuid4().hex[:8]}"
    with reprise.client() as client:
        ids = []
        for script, name in ((quick_script(site_url, "q greeting"), "q greeting"),
                             (load_recording("native-wrong-greeting.json", site_url), "q wrong greeting")):
            saved = client.post("/api/recordings", json={"script": script, "name": name})
            assert saved.status_code == 201, saved.text
            ids.append(saved.json()["id"])
        # A `run` key may quarantine, as it may write recordings.
        quarantined = client.post(f"/api/recordings/{ids[1]}/quarantine", json={"reason": "greeting copy in flux"})
        assert quarantined.status_code == 200, quarantined.text
        created = client.post("/api/suites", json={"name": suite_name, "recordingIds": ids,
                                                   "defaults": {"video": "off"}})
        assert created.status_code == 201, created.text
    summary = tmp_path / "summary.md"

    done = submit("--suite", suite_name, "--wait", "--timeout", "180", "--junit", "q.xml", cwd=tmp_path,
                  env=submit_env(reprise, GITHUB_STEP_SUMMARY=str(summary)))

    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(rf"^suite {suite_name} #\d+: 2 runs: 1 passed, 1 quarantined$", done.stdout, re.M), done.stdout
    assert re.search(r"^  QUARANTINED #\d+\s+q wrong greeting ", done.stdout, re.M), done.stdout
    assert "quarantined recording: this failure does not fail the build" in done.stdout
    assert "| 🚧 quarantined | q wrong greeting |" in summary.read_text()
    [suite] = list(JUnitXml.fromfile(str(tmp_path / "q.xml")))
    cases = {case.name: case for case in suite}
    assert cases["q greeting"].is_passed and (suite.failures, suite.errors, suite.skipped) == (0, 0, 1)
    [skipped] = cases["q wrong greeting"].result
    assert isinstance(skipped, Skipped) and skipped.message is not None
    assert skipped.message.startswith("quarantined: ")
