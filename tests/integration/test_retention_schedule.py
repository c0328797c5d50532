"""Retention once per interval across the fleet: one BullMQ job scheduler on the maintenance queue, upserted
by every worker, consumed by every worker's maintenance consumer (in-process, real Redis and Postgres); and
the worker runtime runs it as a side task only when a retention rule is set."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from bullmq import Queue

from contract.retention import RetentionPolicy
from contract.runs import RunStatus
from contract.settings import Settings
from jobs.keys import maintenance_queue
from jobs.maintenance import RETENTION_SCHEDULER, MaintenanceQueue
from jobs.queue import bullmq_connection
from runner.replay import ChromiumLauncher
from storage import Retention, RunRepository, create_pool, open_artifact_store
from worker.browser_health import BrowserSupervisor
from worker.lifecycle import EXIT_STOPPED, StopSignal
from worker.main import ClaimControl, WorkerRuntime, open_connections
from worker.retention import RetentionJobs, retention_loop

from services import wait_for
from stored_runs import age_run, passes, store_run

INTERVAL_S = 2


def fleet_settings(settings: Settings, name: str) -> Settings:
    return settings.model_copy(update={"worker_name": name, "retention_video_passed_days": 7.0,
                                       "retention_interval_s": float(INTERVAL_S)})


async def finished_passes(settings: Settings, at_least: int) -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]] | None:
        done = [row for row in await passes(settings.database_url, settings.queue_name) if row["finished_at"]]
        return done if len(done) >= at_least else None

    return await wait_for(enough, timeout=60, interval=0.2, what=f"{at_least} retention passes")


@pytest.fixture
async def maintenance(settings: Settings) -> AsyncIterator[Queue]:
    queue = Queue(maintenance_queue(settings.queue_name), {"connection": bullmq_connection(settings.redis_url)})
    yield queue
    await queue.close()


async def test_two_workers_and_one_scheduler_make_one_pass_per_interval(
    settings: Settings, maintenance: Queue, tmp_path: Path,
) -> None:
    pool = await create_pool(settings.database_url)
    loops: list[asyncio.Task[None]] = []
    try:
        async with open_artifact_store(settings) as store:
            expired = await store_run(RunRepository(pool, queue=settings.queue_name), store, tmp_path,
                                      RunStatus.PASSED, [("video", 1234)])
            await age_run(settings.database_url, expired.id, 10)
            for name in ("worker-a", "worker-b"):
                mine = fleet_settings(settings, name)
                jobs = RetentionJobs(Retention(pool, store, queue=settings.queue_name,
                                               policy=RetentionPolicy.from_settings(mine)), name)
                loops.append(asyncio.create_task(retention_loop(mine, jobs), name=f"retention-{name}"))
            await finished_passes(settings, 2)
            # A third worker starting now upserts the same scheduler: the schedule keeps its times.
            late = MaintenanceQueue(settings.queue_name, settings.redis_url)
            await late.schedule_retention(INTERVAL_S)
            await late.close()
            done = await finished_passes(settings, 5)
            assert await store.exists(expired.artifacts[0].storage_key) is False
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await pool.close()

    assert all(not loop.done() or loop.cancelled() for loop in loops)  # no loop died on its own
    # Each pass came from its own scheduler slot, the slots one interval (or whole intervals) apart: never two
    # passes for one interval, whichever of the workers took the job.
    slots = [int(str(row["job_id"]).removeprefix(f"repeat:{RETENTION_SCHEDULER}:")) for row in done]
    assert len(set(slots)) == len(slots), slots
    gaps = [later - earlier for earlier, later in zip(sorted(slots), sorted(slots)[1:], strict=False)]
    assert all(gap > 0 and gap % (INTERVAL_S * 1000) == 0 for gap in gaps), gaps
    for row, slot in zip(done, slots, strict=True):
        assert row["started_at"].timestamp() >= slot / 1000 - 0.1, (row, slot)  # never before its slot
        assert row["worker"] in ("worker-a", "worker-b") and not row["dry_run"] and row["error"] is None
    assert sum(row["artifacts_removed"] for row in done) == 1  # the expired video went once
    assert await maintenance.getJobSchedulersCount() == 1
    schedule = await maintenance.getJobScheduler(RETENTION_SCHEDULER)
    assert schedule is not None and int(schedule["every"]) == INTERVAL_S * 1000


async def test_the_worker_runtime_takes_part_only_with_a_retention_rule(
    settings: Settings, chromium_path: str, maintenance: Queue, tmp_path: Path,
) -> None:
    async with open_connections(settings) as connections:
        idle = WorkerRuntime(settings, connections, BrowserSupervisor(ChromiumLauncher(chromium_path)),
                             ClaimControl(), tmp_path)
        assert idle.retention is None
        tasks = idle.side_tasks(StopSignal())
        for coroutine in tasks.values():
            coroutine.close()
        assert set(tasks) == {"heartbeat", "cancel-listener", "orphan-sweep", "suites", "webhooks"}

        mine = fleet_settings(settings, "worker-r")
        supervisor = BrowserSupervisor(ChromiumLauncher(chromium_path))
        await supervisor.start()
        try:
            runtime = WorkerRuntime(mine, connections, supervisor, ClaimControl(), tmp_path)
            stop = StopSignal()
            serving = asyncio.create_task(runtime.serve(stop))
            [first] = await finished_passes(settings, 1)
            stop.requested.set()
            assert await asyncio.wait_for(serving, 60) == EXIT_STOPPED
        finally:
            await supervisor.close()
    assert first["worker"] == "worker-r" and str(first["job_id"]).startswith(f"repeat:{RETENTION_SCHEDULER}:")
    assert await maintenance.getJobSchedulersCount() == 1
