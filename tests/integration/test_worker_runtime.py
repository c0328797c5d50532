"""A worker's exit code tells a crash from a clean stop (issue 13, defect 3): the runtime in-process on real
Postgres, Redis and Chromium, and the command's exit codes as a supervisor sees them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest

from contract.settings import Settings
from jobs.registry import WorkerRegistry
from runner.replay import ChromiumLauncher
from worker.browser_health import BrowserSupervisor
from worker.lifecycle import EXIT_CRASHED, EXIT_DEPENDENCY, EXIT_STOPPED, StopSignal
from worker.main import ClaimControl, Connections, WorkerRuntime, open_connections

from services import REPO_ROOT, wait_for, worker_env


class RuntimeWithADoomedTask(WorkerRuntime):
    """The real runtime plus one side task that dies, as a buggy heartbeat or listener would."""

    def side_tasks(self, stop: StopSignal) -> dict[str, Coroutine[Any, Any, None]]:
        async def doomed() -> None:
            await asyncio.sleep(0.2)
            raise RuntimeError("the side task broke")

        return {**super().side_tasks(stop), "doomed": doomed()}


@pytest.fixture
async def parts(settings: Settings, chromium_path: str) -> AsyncIterator[tuple[Connections, BrowserSupervisor]]:
    async with open_connections(settings) as connections:
        supervisor = BrowserSupervisor(ChromiumLauncher(chromium_path))
        await supervisor.start()
        try:
            yield connections, supervisor
        finally:
            await supervisor.close()


async def test_a_side_task_that_dies_stops_the_worker_with_exit_code_1(
    settings: Settings, parts: tuple[Connections, BrowserSupervisor], tmp_path: Path,
) -> None:
    connections, supervisor = parts
    runtime = RuntimeWithADoomedTask(settings, connections, supervisor, ClaimControl(), tmp_path)
    assert await asyncio.wait_for(runtime.serve(StopSignal()), 60) == EXIT_CRASHED == 1


async def test_a_stop_request_is_a_clean_stop_with_exit_code_0(
    settings: Settings, parts: tuple[Connections, BrowserSupervisor], tmp_path: Path,
) -> None:
    connections, supervisor = parts
    stop = StopSignal()
    runtime = WorkerRuntime(settings, connections, supervisor, ClaimControl(), tmp_path)
    serving = asyncio.create_task(runtime.serve(stop))
    registry = WorkerRegistry(connections.redis, settings.queue_name)

    async def beating() -> bool:
        return any(worker["name"] == settings.worker_name for worker in await registry.live_workers())

    await wait_for(beating, timeout=30, what="the worker's heartbeat")
    stop.requested.set()
    assert await asyncio.wait_for(serving, 60) == EXIT_STOPPED == 0


def test_a_worker_whose_chromium_cannot_start_exits_3(settings: Settings, tmp_path: Path) -> None:
    completed = subprocess.run([sys.executable, "-m", "reprise.cli", "worker"], cwd=REPO_ROOT, timeout=120,
                               env=worker_env(settings, "no-browser", CHROMIUM_PATH=str(tmp_path / "no-chromium")),
                               capture_output=True, text=True)
    assert completed.returncode == EXIT_DEPENDENCY == 3, completed.stderr[-2000:]
    assert "chromium did not start; not serving" in completed.stderr
    assert "Traceback" not in completed.stderr
