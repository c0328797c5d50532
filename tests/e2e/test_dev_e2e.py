"""`reprise dev` for real: the API and two workers as child processes, a Chrome Recorder recording POSTed
over HTTP, replayed to `passed` with a playable video and screenshots, then Ctrl-C stops everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from media import video_seconds

from contract.runs import FINAL_RUN_STATUSES
from contract.settings import Settings

from ports import free_port
from recordings import load_recording
from services import REPO_ROOT


class DevProcess:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no line containing {text!r} within {timeout}s:\n{self.output()[-4000:]}")


@pytest.fixture
def dev(settings: Settings, tmp_path: Path) -> Iterator[tuple[DevProcess, str]]:
    port = free_port()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        QUEUE_NAME=settings.queue_name,
        VIDEO_STORAGE_PATH=str(tmp_path / "videos"),
        SCREENSHOT_STORAGE_PATH=str(tmp_path / "screenshots"),
        ARTIFACT_STORAGE_PATH=str(tmp_path / "files"),
        WORKER_HEARTBEAT_INTERVAL="0.5",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "reprise.cli", "dev", "--workers", "2", "--port", str(port),
         "--state-dir", str(tmp_path / "state")],
        env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    running = DevProcess(process)
    try:
        yield running, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def wait_json(client: httpx.Client, path: str, ok: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(path).json()
        if ok(body):
            return body
        time.sleep(0.2)
    raise AssertionError(f"{path} never satisfied the condition; last: {body}")


def test_reprise_dev_runs_a_recording_to_passed_and_stops_on_ctrl_c(
    dev: tuple[DevProcess, str], site_url: str, tmp_path: Path
) -> None:
    process, url = dev
    process.wait_for_line(f"Reprise is running at {url}", timeout=60)
    # Local apps are on loopback: dev opens it for runs, and says so (docs/network-policy.md).
    process.wait_for_line("Runs may reach public addresses and 127.0.0.0/8,::1/128", timeout=10)
    key = (tmp_path / "state" / "admin-key").read_text().strip()  # made by this first start
    with httpx.Client(base_url=url, timeout=10, headers={"Authorization": f"Bearer {key}"}) as client:
        health = wait_json(
            client, "/api/health/detailed",
            lambda body: {"worker-1", "worker-2"} <= {worker["name"] for worker in body.get("workers", [])},
            timeout=60,
        )
        assert health["status"] == "ok"
        assert {"waiting", "active", "completed", "failed", "delayed", "paused"} <= set(health["queue"]["counts"])

        recording = load_recording("recorder-signup.json", site_url)
        created = client.post("/api/runs", json={"script": recording, "screenshots": "every-step"})
        assert created.status_code == 201, created.text
        run = wait_json(client, f"/api/runs/{created.json()['id']}",
                        lambda body: body["status"] in FINAL_RUN_STATUSES, timeout=90)
        assert run["status"] == "passed", run["error"]
        assert run["worker"] in {"worker-1", "worker-2"}

        video = tmp_path / "video.webm"
        video.write_bytes(client.get(run["videoUrl"]).content)
        assert video_seconds(video) > 0.5
        shot = client.get(run["screenshotUrls"][0])
        assert shot.status_code == 200 and shot.headers["content-type"] == "image/png"
        assert client.get("/api/health/detailed").json()["queue"]["counts"]["completed"] >= 1

        # Loopback is open, but not dev's own API: a page's POST to the pause route is blocked, the queue runs on.
        pause = json.dumps(f"{url}/api/queue/pause")
        attack = {"version": 1, "name": "pause the queue", "steps": [
            {"action": "navigate", "url": f"{site_url}/index.html"},
            {"action": "waitForFunction", "expression": f"(window.sent ??= fetch({pause}, {{method: 'POST', mode: "
             "'no-cors'}).then(() => 'answered', () => 'refused')) && window.sent.then(v => window.result = v) "
             "&& window.result !== undefined"}]}
        created = client.post("/api/runs", json={"script": attack, "video": "off"})
        assert created.status_code == 201, created.text
        blocked = wait_json(client, f"/api/runs/{created.json()['id']}",
                            lambda body: body["status"] in FINAL_RUN_STATUSES, timeout=90)
        assert (blocked["status"], blocked["errorCategory"]) == ("failed", "blocked"), blocked["error"]
        assert "the Reprise API" in blocked["error"]
        assert client.get("/api/queue").json()["paused"] is False

        # An open dashboard (its event stream never ends by itself) must not hold the stop up.
        with client.stream("GET", "/api/events") as events:
            assert next(events.iter_lines()) == ": connected"
            process.process.send_signal(signal.SIGINT)
            assert process.process.wait(timeout=60) == 0, process.output()[-4000:]
    output = process.output()
    assert "[api] " in output and "[worker-1] " in output and "[worker-2] " in output
