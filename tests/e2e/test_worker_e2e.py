"""A run end to end on real services: the API in-process, real `reprise worker` processes, Chromium and the
fixture site. POST -> Postgres -> BullMQ -> worker -> Playwright -> results and artifacts -> GET."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from media import video_seconds

from contract.settings import Settings

from flows import log_events, slow_recording
from recordings import load_recording
from services import WorkerProcess, wait_for, wait_for_final, wait_for_workers

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def test_recorder_run_passes_with_video_screenshots_and_steps(
    api_client: httpx.AsyncClient, settings: Settings, site_url: str,
    start_worker: Callable[..., WorkerProcess], tmp_path: Path,
) -> None:
    first, second = start_worker("worker-1"), start_worker("worker-2")
    workers = await wait_for_workers(api_client, {"worker-1", "worker-2"})
    assert {worker["concurrency"] for worker in workers} == {settings.worker_concurrency}

    recording = load_recording("recorder-signup.json", site_url)
    created = await api_client.post("/api/runs", json={"script": recording, "screenshots": "every-step"})
    assert created.status_code == 201, created.text
    run = await wait_for_final(api_client, created.json()["id"], timeout=90)

    assert run["status"] == "passed", run["error"]
    assert run["attempts"] == 1 and run["worker"] in {"worker-1", "worker-2"}
    assert run["actionsExecuted"] == len(recording["steps"]) == len(run["steps"])
    assert all(step["status"] == "passed" for step in run["steps"])
    assert run["startedAt"] and run["finishedAt"] and run["durationMs"] > 0
    [attempt] = run["attemptHistory"]
    assert attempt["worker"] == run["worker"] and attempt["status"] == "passed"

    assert run["videoUrl"]
    video = await api_client.get(run["videoUrl"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/webm"
    video_path = tmp_path / "downloaded.webm"
    video_path.write_bytes(video.content)
    assert video_seconds(video_path) > 0.5

    assert len(run["screenshotUrls"]) == len(recording["steps"])
    shot = await api_client.get(run["screenshotUrls"][-1])
    assert shot.status_code == 200 and shot.content.startswith(PNG_MAGIC)
    kinds = Counter(artifact["kind"] for artifact in run["artifacts"])
    assert kinds == {"video": 1, "screenshot": len(recording["steps"])}

    ranged = await api_client.get(run["videoUrl"], headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100
    assert ranged.headers["content-range"] == f"bytes 0-99/{len(video.content)}"
    assert ranged.content == video.content[:100]

    # The worker's JSON log line names the run with the fields operators search by.
    done = [event for worker in (first, second) for event in log_events(worker)
            if event.get("message") == "run finished" and event.get("runId") == run["id"]]
    assert len(done) == 1
    assert {"worker", "jobId", "status", "actionsExecuted", "duration"} <= set(done[0])
    assert done[0]["status"] == "passed" and done[0]["jobId"] == run["id"]


async def test_missing_selector_fails_naming_step_selector_and_timeout(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker("worker-1")
    recording = load_recording("recorder-missing-selector.json", site_url)
    created = await api_client.post("/api/runs", json={"script": recording, "stepTimeoutMs": 1500})
    run = await wait_for_final(api_client, created.json()["id"], timeout=60)

    assert run["status"] == "failed"
    assert "step 3 (click)" in run["error"] and "#missing" in run["error"] and "1500 ms" in run["error"]
    statuses = [step["status"] for step in run["steps"]]
    assert statuses == ["passed", "passed", "failed", "skipped", "skipped", "skipped"]
    assert "#missing" in run["steps"][2]["error"]
    assert run["attemptHistory"][0]["status"] == "failed"
    assert run["errorCategory"] == run["steps"][2]["category"] == "selector_not_found"
    assert run["attemptHistory"][0]["category"] == "selector_not_found"
    assert "[selector_not_found]" in run["error"]
    # on-failure screenshots by default: exactly one, of the failed step; and the debugging kit.
    by_kind = {artifact["kind"]: artifact for artifact in run["artifacts"]}
    assert set(by_kind) == {"video", "screenshot", "trace", "html", "console", "har"}
    assert [a["step"] for a in run["artifacts"] if a["kind"] == "screenshot"] == [2]
    assert all(by_kind[kind]["step"] == 2 and by_kind[kind]["sizeBytes"] > 0
               for kind in ("trace", "html", "console", "har"))
    trace = await api_client.get(by_kind["trace"]["url"])
    assert trace.status_code == 200 and trace.content[:2] == b"PK"
    page = await api_client.get(by_kind["html"]["url"])
    assert "Reprise fixture shop" in page.text
    # never runs in the API's origin, nor framed
    assert page.headers["content-security-policy"] == "sandbox; frame-ancestors 'none'"
    har = (await api_client.get(by_kind["har"]["url"])).json()
    assert har["log"]["entries"]


async def test_ten_runs_on_two_workers_each_execute_exactly_once(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    workers = [start_worker("worker-1"), start_worker("worker-2")]
    await wait_for_workers(api_client, {"worker-1", "worker-2"})
    script = {
        "version": 1,
        "name": "quick",
        "steps": [
            {"action": "navigate", "url": f"{site_url}/index.html"},
            {"action": "fill", "selector": "#name", "value": "Ada"},
            {"action": "click", "selector": "#submit"},
            {"action": "assertText", "selector": "#result", "text": "Hello Ada", "match": "contains"},
        ],
    }
    ids = []
    for index in range(10):
        response = await api_client.post("/api/runs", json={"script": script, "name": f"quick {index}",
                                                             "video": "off"})
        assert response.status_code == 201
        ids.append(response.json()["id"])
    runs = await asyncio.gather(*(wait_for_final(api_client, run_id, timeout=120) for run_id in ids))

    assert [run["status"] for run in runs] == ["passed"] * 10, [run["error"] for run in runs]
    assert all(run["attempts"] == 1 and len(run["attemptHistory"]) == 1 for run in runs)
    started = Counter(event["runId"] for worker in workers for event in log_events(worker)
                      if event.get("message") == "run started")
    assert started == dict.fromkeys(ids, 1)
    assert {run["worker"] for run in runs} == {"worker-1", "worker-2"}
    health = (await api_client.get("/api/health/detailed")).json()
    assert health["queue"]["counts"]["completed"] == 10
    assert health["queue"]["counts"]["active"] == health["queue"]["counts"]["waiting"] == 0


async def test_sigterm_lets_the_active_run_finish_and_exits_zero(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    worker = start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})
    created = await api_client.post("/api/runs", json={"script": slow_recording(site_url, 3), "video": "off"})
    run_id = created.json()["id"]

    async def running() -> bool:
        return (await api_client.get(f"/api/runs/{run_id}")).json()["status"] == "running"

    await wait_for(running, timeout=30, what="the run to start")
    exit_code = await asyncio.to_thread(worker.stop, signal.SIGTERM, 60)
    assert exit_code == 0, worker.log()[-3000:]
    run = (await api_client.get(f"/api/runs/{run_id}")).json()
    assert run["status"] == "passed", run["error"]
    # Its heartbeat is removed on the way out.
    assert (await api_client.get("/api/health/detailed")).json()["workers"] == []


async def test_cancel_a_running_run_stops_it(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})
    created = await api_client.post("/api/runs", json={"script": slow_recording(site_url, 20), "video": "off"})
    run_id = created.json()["id"]

    async def running() -> bool:
        return (await api_client.get(f"/api/runs/{run_id}")).json()["status"] == "running"

    await wait_for(running, timeout=30, what="the run to start")
    cancelled = await api_client.post(f"/api/runs/{run_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    async def attempt_closed() -> dict[str, Any] | None:
        run: dict[str, Any] = (await api_client.get(f"/api/runs/{run_id}")).json()
        return run if run["attemptHistory"][0]["status"] == "cancelled" else None

    run = await wait_for(attempt_closed, timeout=10, what="the worker to stop the run")
    assert run["status"] == "cancelled"
    # The 20 s wait was cut short, so the step after it never ran.
    assert [step["index"] for step in run["steps"] if step["status"] == "passed"] in ([], [0])


async def test_secrets_never_reach_results_logs_or_artifact_names(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess], settings: Settings,
) -> None:
    secret = "Hunter2-s3cr3t"
    worker = start_worker("worker-1", REPRISE_SECRET_SHOP_PASSWORD=secret)
    script = {
        "version": 1,
        "name": "log in as ${USER}",
        "steps": [
            {"action": "navigate", "url": "${BASE}/index.html"},
            {"action": "fill", "selector": "#name", "value": "${SHOP_PASSWORD}"},
            {"action": "click", "selector": "#submit"},
            {"action": "assertText", "selector": "#result", "text": "Hello ${USER} ${SHOP_PASSWORD}!",
             "timeoutMs": 500},
        ],
    }
    created = await api_client.post("/api/runs", json={
        "script": script, "variables": {"USER": "ada", "BASE": site_url}, "secrets": ["SHOP_PASSWORD"],
        "screenshots": "every-step",
    })
    assert created.status_code == 201, created.text
    run = await wait_for_final(api_client, created.json()["id"], timeout=60)

    assert run["status"] == "failed" and run["errorCategory"] == "assertion_failed"
    # The assertion echoes the expected and the actual text, both of which held the secret.
    assert 'to equal "Hello ada ***!" but it was "Hello ***, plan free' in run["error"]
    everything = [json.dumps(run), worker.log()]
    traces = []
    for artifact in run["artifacts"]:
        assert secret not in artifact["url"]
        if artifact["kind"] in ("html", "console", "har"):
            everything.append((await api_client.get(artifact["url"])).text)
        if artifact["kind"] == "trace":
            traces.append((await api_client.get(artifact["url"])).content)
    assert {"html", "har", "console", "trace"} <= {artifact["kind"] for artifact in run["artifacts"]}
    for text in everything:
        assert secret not in text
    # The trace is recorded, its actions (the fill's value) scrubbed of the secret in every file.
    with zipfile.ZipFile(io.BytesIO(traces[0])) as trace:
        files = {name: trace.read(name) for name in trace.namelist()}
    assert '"value":"***"' in files["trace.trace"].decode()
    assert not [name for name, data in files.items() if secret.encode() in data]
    stored = [str(path) for root in (settings.video_storage_path, settings.screenshot_storage_path,
                                     settings.artifact_storage_path) for path in root.rglob("*")]
    assert stored and not any(secret in path for path in stored)


async def test_a_secret_missing_on_the_worker_is_an_error_naming_it(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker("worker-1")
    script = {"version": 1, "name": "n", "steps": [{"action": "navigate", "url": f"{site_url}/index.html"},
                                                    {"action": "fill", "selector": "#name", "value": "${TOKEN}"}]}
    created = await api_client.post("/api/runs", json={"script": script, "secrets": ["TOKEN"]})
    run = await wait_for_final(api_client, created.json()["id"], timeout=60)
    assert run["status"] == "error" and "REPRISE_SECRET_TOKEN" in run["error"] and "worker-1" in run["error"]
    assert run["steps"] == []


async def test_stored_options_this_release_refuses_end_the_run_before_it_starts(
    api_client: httpx.AsyncClient, site_url: str, settings: Settings, start_worker: Callable[..., WorkerProcess],
) -> None:
    import asyncpg

    script = {"version": 1, "name": "n", "steps": [{"action": "navigate", "url": f"{site_url}/index.html"}]}
    created = await api_client.post("/api/runs", json={"script": script, "device": "iPhone 13"})
    assert created.status_code == 201, created.text
    # A device the API knew when the run was queued but this worker's catalogue does not (say, after an upgrade).
    connection = await asyncpg.connect(settings.database_url)
    try:
        await connection.execute("UPDATE runs SET options = $1::jsonb WHERE id = $2",
                                 json.dumps({"device": "Nokia 3310"}), created.json()["id"])
    finally:
        await connection.close()
    start_worker("worker-1")

    run = await wait_for_final(api_client, created.json()["id"], timeout=60)
    assert run["status"] == "error" and run["steps"] == [] and run["attempts"] == 0
    assert run["error"] == ("invalid run options: device: unknown device 'Nokia 3310' (Playwright's device names, "
                            "e.g. 'iPhone 13')")


async def test_a_saveaction_recording_replays_through_the_queue(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    from runner.formats import parse_script

    start_worker("worker-1")
    recording = load_recording("saveaction/signup.json", site_url)
    notes = [note.to_json() for note in parse_script(recording).warnings]
    created = await api_client.post("/api/runs", json={"script": recording, "video": "off"})
    assert created.status_code == 201, created.text
    assert created.json()["format"] == "saveaction" and created.json()["importWarnings"] == notes
    run = await wait_for_final(api_client, created.json()["id"], timeout=90)
    assert run["status"] == "passed", run["error"]
    assert run["name"] == recording["testName"] and run["importWarnings"] == notes


async def test_pause_holds_runs_in_the_queue_and_resume_releases_them(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})
    paused = await api_client.post("/api/queue/pause")
    assert paused.status_code == 200 and paused.json()["paused"] is True
    script = {"version": 1, "name": "held", "steps": [{"action": "navigate", "url": f"{site_url}/page2.html"}]}
    run_id = (await api_client.post("/api/runs", json={"script": script, "video": "off"})).json()["id"]
    # An idle worker claims a waiting job within milliseconds; give it two heartbeats' time to prove it won't.
    first_beat = (await wait_for_workers(api_client, {"worker-1"}))[0]["lastHeartbeat"]

    async def two_beats_later() -> bool:
        workers = (await api_client.get("/api/health/detailed")).json()["workers"]
        return bool(workers) and workers[0]["lastHeartbeat"] >= first_beat + 1.0

    await wait_for(two_beats_later, timeout=15, what="two more heartbeats of worker-1")
    state = (await api_client.get("/api/queue")).json()
    assert state["paused"] is True and state["counts"]["waiting"] == 1 and state["counts"]["active"] == 0
    assert (await api_client.get("/api/health/detailed")).json()["queue"]["paused"] is True
    assert (await api_client.get(f"/api/runs/{run_id}")).json()["status"] == "queued"

    resumed = await api_client.post("/api/queue/resume")
    assert resumed.status_code == 200 and resumed.json()["paused"] is False
    run = await wait_for_final(api_client, run_id, timeout=60)
    assert run["status"] == "passed", run["error"]
