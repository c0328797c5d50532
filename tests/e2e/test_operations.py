"""The operational contract of the SaveAction worker document, as an operator meets it: the log line shape,
LOG_LEVEL in any case, a worker that cannot write its artifact folder, and `reprise health`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from contract.settings import Settings

from flows import post_run, quick_script
from services import REPO_ROOT, WorkerProcess, wait_for_final, wait_for_workers, worker_env

LEVELS = {"debug", "info", "warn", "error"}


def lines_of(worker: WorkerProcess) -> list[dict[str, Any]]:
    """Every line the worker wrote, each of which must be one JSON object."""
    parsed = []
    for line in worker.log().splitlines():
        if line.strip():
            parsed.append(json.loads(line))  # a line that is not JSON fails here, naming it
    return parsed


def reprise(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reprise.cli", *args], env=env, cwd=REPO_ROOT, timeout=120,
                          capture_output=True, text=True)


async def test_every_worker_line_is_json_with_level_timestamp_worker_and_message(
    api_client: httpx.AsyncClient, start_worker: Callable[..., WorkerProcess], site_url: str,
) -> None:
    worker = start_worker("worker-7", LOG_LEVEL="info")
    await wait_for_workers(api_client, {"worker-7"})
    run_id = await post_run(api_client, {"script": quick_script(site_url, "log shape"), "video": "off"})
    assert (await wait_for_final(api_client, run_id))["status"] == "passed"
    worker.stop()

    lines = lines_of(worker)
    for line in lines:
        assert line["level"] in LEVELS and isinstance(line["message"], str) and "event" not in line, line
        assert datetime.fromisoformat(line["timestamp"]).utcoffset() is not None, line
    assert all(line["worker"] == "worker-7" for line in lines if "logger" not in line)
    [done] = [line for line in lines if line["message"] == "run finished"]
    assert (done["jobId"], done["runId"], done["status"]) == (run_id, run_id, "passed")
    assert done["actionsExecuted"] == 3 and isinstance(done["duration"], int) and done["duration"] > 0


async def test_log_level_warn_in_any_case_runs_and_keeps_only_warnings_and_errors(
    api_client: httpx.AsyncClient, start_worker: Callable[..., WorkerProcess], site_url: str,
) -> None:
    worker = start_worker("quiet", LOG_LEVEL="Warn")
    await wait_for_workers(api_client, {"quiet"})
    run_id = await post_run(api_client, {"script": quick_script(site_url, "quiet"), "video": "off"})
    assert (await wait_for_final(api_client, run_id))["status"] == "passed"
    assert worker.stop() == 0
    assert {line["level"] for line in lines_of(worker)} <= {"warn", "error"}


def test_a_worker_that_cannot_write_its_artifact_folder_exits_3_naming_it(settings: Settings, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = worker_env(settings, "no-disk", VIDEO_STORAGE_PATH=str(blocker / "videos"))
    completed = reprise("worker", env=env)
    assert completed.returncode == 3, completed.stderr[-2000:]
    assert (f"reprise worker: the artifact store failed: artifact folder {blocker / 'videos'} is not writable: "
            "Not a directory") in completed.stderr
    assert "Traceback" not in completed.stderr


async def test_reprise_health_asks_the_api_or_the_worker_this_container_runs(
    live_api: str, settings: Settings, start_worker: Callable[..., WorkerProcess], api_client: httpx.AsyncClient,
) -> None:
    port = live_api.rsplit(":", 1)[1]
    env = worker_env(settings, "health-probe", API_PORT=port)

    def health(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return reprise("health", *args, env={**env, **extra})

    # The API is served by this test's event loop: the probes run in a thread so that it can answer.
    assert (await asyncio.to_thread(health, REPRISE_ROLE="api")).returncode == 0
    missing = await asyncio.to_thread(health, "--role", "worker")
    assert missing.returncode == 1
    assert missing.stderr.strip() == (f"reprise health: unhealthy: no heartbeat from worker health-probe on queue "
                                      f"{settings.queue_name}")
    start_worker("health-probe")
    await wait_for_workers(api_client, {"health-probe"})
    assert (await asyncio.to_thread(health, "--role", "worker")).returncode == 0
    down = await asyncio.to_thread(health, REPRISE_ROLE="api", API_PORT="9")
    assert down.returncode == 1 and "did not answer" in down.stderr
