"""The orphan sweep in-process, on real Postgres and Redis (no worker process, no browser): what it does
with each kind of quiet unfinished run, and that it never touches another queue's runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import pytest
from bullmq import Job, Queue, Worker
from bullmq.custom_errors import UnrecoverableError
from redis.asyncio import Redis

from contract.runs import AttemptStatus, FailureCategory, RunStatus
from contract.settings import Settings
from jobs.queue import RetryPolicy, RunQueue, bullmq_connection
from jobs.registry import WorkerBeat, WorkerRegistry
from storage import NewRun, RunRepository, create_pool
from worker.sweep import OrphanSweeper

from services import wait_for


@dataclass
class Sweep:
    runs: RunRepository
    queue: RunQueue
    sweeper: OrphanSweeper
    registry: WorkerRegistry
    redis: Redis
    pool: asyncpg.Pool


@pytest.fixture
async def sweep(settings: Settings) -> AsyncIterator[Sweep]:
    pool = await create_pool(settings.database_url)
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    queue = RunQueue(settings.queue_name, settings.redis_url, redis, RetryPolicy(max_attempts=2, backoff_ms=100))
    runs = RunRepository(pool, queue=settings.queue_name)
    registry = WorkerRegistry(redis, settings.queue_name)
    sweeper = OrphanSweeper(runs=runs, queue=queue, registry=registry, redis=redis, worker_name="sweeper",
                            quiet_for_s=0)
    yield Sweep(runs, queue, sweeper, registry, redis, pool)
    await queue.close()
    await redis.aclose()
    await pool.close()


async def new_run(runs: RunRepository, **options: object) -> UUID:
    run, _ = await runs.create(NewRun(name="orphan", script_format="native", script={"version": 1, "steps": []},
                                      options=dict(options)))
    return run.id


async def test_a_queued_run_whose_job_vanished_is_queued_again_with_a_new_job(sweep: Sweep) -> None:
    run_id = await new_run(sweep.runs)  # recorded, never enqueued: as after a Redis flush
    report = await sweep.sweeper.sweep()
    assert report.requeued == [str(run_id)] and report.ended == []
    assert await sweep.queue.job_state(str(run_id)) == "prioritized"  # each run's job carries a priority
    assert (await sweep.runs.get(run_id)).status == RunStatus.QUEUED
    assert (await sweep.sweeper.sweep()).requeued == []  # the job is live now: left to BullMQ


async def test_a_running_run_whose_worker_and_job_are_gone_is_requeued_and_its_attempt_abandoned(
    sweep: Sweep,
) -> None:
    run_id = await new_run(sweep.runs)
    assert await sweep.runs.start_attempt(run_id, "lost-worker", None) == 1
    report = await sweep.sweeper.sweep()
    assert report.requeued == [str(run_id)]
    [attempt] = await sweep.runs.attempts(run_id)
    assert attempt.status == AttemptStatus.ABANDONED and "vanished" in (attempt.error or "")


async def test_a_run_a_live_worker_replays_is_left_alone(sweep: Sweep) -> None:
    run_id = await new_run(sweep.runs)
    await sweep.runs.start_attempt(run_id, "busy-worker", None)
    await sweep.registry.beat(WorkerBeat(name="busy-worker", concurrency=1, active_runs=[str(run_id)]),
                              ttl_seconds=30)
    report = await sweep.sweeper.sweep()
    assert report.checked == 1 and report.requeued == [] and report.ended == []
    assert (await sweep.runs.get(run_id)).status == RunStatus.RUNNING


async def test_attempts_used_up_end_the_run_error_lost(sweep: Sweep) -> None:
    run_id = await new_run(sweep.runs, retries=1)  # 2 attempts (JOB_MAX_ATTEMPTS here) + 1 retry
    for _ in range(3):
        await sweep.runs.start_attempt(run_id, "w", None)
    report = await sweep.sweeper.sweep()
    run = await sweep.runs.get(run_id)
    assert report.ended == [str(run_id)]
    assert (run.status, run.error_category) == (RunStatus.ERROR, FailureCategory.LOST)
    assert run.error == "its job vanished from the queue after 3 attempts"


async def test_a_run_whose_job_failed_for_good_ends_with_the_jobs_reason(sweep: Sweep, settings: Settings) -> None:
    run_id = await new_run(sweep.runs)
    await sweep.queue.enqueue(run_id)

    async def fail(job: Job, token: str) -> None:
        raise UnrecoverableError("job stalled more than allowable limit")

    consumer = Worker(settings.queue_name, fail, {"connection": bullmq_connection(settings.redis_url)})
    try:
        async def failed() -> bool:
            return await sweep.queue.job_state(str(run_id)) == "failed"

        await wait_for(failed, timeout=30, what="the job to fail")
    finally:
        await consumer.close()
    report = await sweep.sweeper.sweep()
    run = await sweep.runs.get(run_id)
    assert report.ended == [str(run_id)]
    assert (run.status, run.error_category) == (RunStatus.ERROR, FailureCategory.STALLED)
    assert run.error == "job failed: job stalled more than allowable limit"


async def test_the_sweep_never_touches_another_queues_runs(sweep: Sweep, settings: Settings) -> None:
    other_queue = f"{settings.queue_name}-other"
    other = RunRepository(sweep.pool, queue=other_queue)
    theirs = await new_run(other)  # queued on the other queue, with no job on ours
    mine = await new_run(sweep.runs)
    report = await sweep.sweeper.sweep()
    assert report.requeued == [str(mine)] and report.checked == 1
    assert (await other.get(theirs)).status == RunStatus.QUEUED
    bull = Queue(other_queue, {"connection": bullmq_connection(settings.redis_url)})
    try:
        assert sum((await bull.getJobCounts("waiting", "prioritized")).values()) == 0
    finally:
        await bull.close()
    assert await sweep.queue.job_state(str(theirs)) == "unknown"


async def test_one_worker_sweeps_per_interval(sweep: Sweep) -> None:
    await new_run(sweep.runs)
    assert await sweep.sweeper.sweep_if_due(interval_s=30) is not None
    assert await sweep.sweeper.sweep_if_due(interval_s=30) is None  # the lock holds for 0.9 x the interval
