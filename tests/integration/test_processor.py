"""The run processor in-process, on real Postgres, Redis (a real BullMQ job) and Chromium: one job -> one
attempt, from the stored run to the recorded result, without a worker process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from bullmq import Job
from bullmq.custom_errors import UnrecoverableError
from redis.asyncio import Redis

from contract.network import NetworkPolicy
from contract.runs import AttemptStatus, RunStatus, StepStatus
from contract.settings import Settings
from jobs.queue import RetryPolicy, RunQueue
from runner.replay import ChromiumLauncher
from storage import LocalArtifactStore, NewRun, RunRepository, create_pool
from worker.browser_health import BrowserSupervisor
from worker.intake import JobIntake
from worker.main import replay_in
from worker.processor import RetryRun, RunProcessor
from worker.replays import ActiveReplays

from flows import numbered_slow_script, quick_script
from services import wait_for


@dataclass
class Setup:
    runs: RunRepository
    queue: RunQueue
    processor: RunProcessor
    store: LocalArtifactStore
    work_dir: Path


@pytest.fixture
async def setup(settings: Settings, chromium_path: str, tmp_path: Path) -> AsyncIterator[Setup]:
    pool = await create_pool(settings.database_url)
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    queue = RunQueue(settings.queue_name, settings.redis_url, redis, RetryPolicy(max_attempts=3, backoff_ms=100))
    supervisor = BrowserSupervisor(ChromiumLauncher(chromium_path))
    await supervisor.start()
    runs = RunRepository(pool, queue=settings.queue_name)
    store = LocalArtifactStore(tmp_path / "videos", tmp_path / "screenshots", tmp_path / "files")
    work_dir = tmp_path / "work"
    processor = RunProcessor(runs=runs, artifacts=store, replays=ActiveReplays(replay_in({"chromium": supervisor}, 30)),
                             worker_name="in-process", work_dir=work_dir, intake=JobIntake(runs, NetworkPolicy()))
    try:
        yield Setup(runs, queue, processor, store, work_dir)
    finally:
        await supervisor.close()
        await queue.close()
        await redis.aclose()
        await pool.close()


async def queued_run(setup: Setup, script: dict[str, Any], **options: Any) -> tuple[UUID, Job]:
    run, _ = await setup.runs.create(NewRun(name=script.get("name", "run"), script_format="native", script=script,
                                            options=options))
    await setup.queue.enqueue(run.id, int(options.get("retries", 0)))
    job = await Job.fromId(setup.queue._queue, str(run.id))
    assert job is not None
    return run.id, job


async def test_a_passing_run_keeps_its_steps_and_video_and_leaves_no_scratch(setup: Setup, site_url: str) -> None:
    run_id, job = await queued_run(setup, quick_script(site_url, "pass"), video="on")

    answer = await setup.processor.process(job, "token")

    assert answer["status"] == "passed" and answer["attempt"] == 1
    run = await setup.runs.get(run_id)
    assert (run.status, run.attempts, run.worker_name, run.actions_executed) == (RunStatus.PASSED, 1, "in-process", 3)
    assert [(s.index, s.status) for s in await setup.runs.steps(run_id, 1)] == [
        (0, StepStatus.PASSED), (1, StepStatus.PASSED), (2, StepStatus.PASSED)]
    [attempt] = await setup.runs.attempts(run_id)
    assert attempt.status == AttemptStatus.PASSED
    [video] = await setup.runs.artifacts(run_id)
    assert video.kind == "video" and setup.store.local_path(video.storage_key).stat().st_size == video.size_bytes > 0
    assert not (setup.work_dir / str(run_id)).exists() or not any((setup.work_dir / str(run_id)).iterdir())
    assert setup.processor.stats.processed == 1 and setup.processor.stats.failed == 0


async def test_a_failed_test_with_a_retry_left_is_requeued_then_final(setup: Setup, site_url: str) -> None:
    script = quick_script(site_url, "wrong value")
    script["steps"][-1]["value"] = "Grace"  # assertValue fails: the field holds "Ada"
    # 3 s: the fill before the assertion must not time out on a loaded machine; the assertion waits it out.
    run_id, job = await queued_run(setup, script, video="off", retries=1, stepTimeoutMs=3000)

    with pytest.raises(RetryRun, match=r"step 3 \(assertValue\) \[assertion_failed\]"):
        await setup.processor.process(job, "token")
    run = await setup.runs.get(run_id)
    assert (run.status, run.attempts) == (RunStatus.QUEUED, 1)

    answer = await setup.processor.process(job, "token")  # BullMQ's retry of the same job
    assert answer["status"] == "failed"
    attempts = await setup.runs.attempts(run_id)
    assert [(a.attempt, a.status) for a in attempts] == [(1, AttemptStatus.FAILED), (2, AttemptStatus.FAILED)]
    assert (await setup.runs.get(run_id)).status == RunStatus.FAILED


async def test_stored_options_naming_a_browser_the_worker_lacks_end_the_run_error(setup: Setup, site_url: str) -> None:
    # Issue 13, defect 7: the `browser` option was stored but never read; a run that asks for another browser
    # must not be replayed in Chromium as if it had asked for it.
    run_id, job = await queued_run(setup, quick_script(site_url, "firefox please"), browser="firefox")

    with pytest.raises(UnrecoverableError, match="invalid run options: browser"):
        await setup.processor.process(job, "token")
    run = await setup.runs.get(run_id)
    assert run.status == RunStatus.ERROR and run.attempts == 0
    assert run.error is not None and run.error.startswith("invalid run options: browser: Input should be 'chromium'")


async def test_a_run_cancelled_mid_step_ends_cancelled_with_what_it_made(setup: Setup, site_url: str) -> None:
    run_id, job = await queued_run(setup, numbered_slow_script(site_url, 30), video="on")
    processing = asyncio.create_task(setup.processor.process(job, "token"))

    async def first_step_done() -> bool:
        return bool(await setup.runs.steps(run_id, 1))

    await wait_for(first_step_done, timeout=30, what="the first step to be recorded")
    await setup.runs.cancel(run_id, "cancelled by request")  # what POST /api/runs/{id}/cancel writes
    assert setup.processor.replays.cancel(run_id)  # and what the cancel message makes the worker do
    answer = await asyncio.wait_for(processing, 30)  # well before the 30 s wait step would end

    assert answer["status"] == "cancelled"
    steps = await setup.runs.steps(run_id, 1)
    assert [(s.index, s.status) for s in steps] == [(0, StepStatus.PASSED), (1, StepStatus.FAILED),
                                                    (2, StepStatus.SKIPPED), (3, StepStatus.SKIPPED)]
    assert steps[1].error == "cancelled by request"
    [attempt] = await setup.runs.attempts(run_id)
    assert attempt.status == AttemptStatus.CANCELLED
    assert "video" in {a.kind for a in await setup.runs.artifacts(run_id)}


async def test_a_run_that_is_already_final_is_not_replayed(setup: Setup, site_url: str) -> None:
    run_id, job = await queued_run(setup, quick_script(site_url, "cancelled first"))
    await setup.runs.cancel(run_id)
    answer = await setup.processor.process(job, "token")
    assert (answer["runId"], answer["status"], answer["skipped"], answer["attempt"]) == (str(run_id), "cancelled",
                                                                                      True, 0)
    assert (await setup.runs.get(run_id)).attempts == 0


async def test_a_job_with_an_invalid_run_id_fails_at_once(setup: Setup, settings: Settings) -> None:
    job = Job(setup.queue._queue, "run", {"runId": "not-a-uuid"}, {})
    with pytest.raises(UnrecoverableError, match="runId: not a run id: 'not-a-uuid'"):
        await setup.processor.process(job, "token")


async def test_artifacts_past_the_run_cap_are_skipped_and_noted(setup: Setup, site_url: str) -> None:
    capped = RunProcessor(runs=setup.runs, artifacts=setup.store, replays=setup.processor.replays,
                          worker_name="in-process", work_dir=setup.work_dir, max_run_artifact_bytes=1,
                          intake=JobIntake(setup.runs, NetworkPolicy()))
    run_id, job = await queued_run(setup, quick_script(site_url, "pass"), video="on")

    answer = await capped.process(job, "token")

    assert answer["status"] == "passed", "a skipped artifact does not change the verdict"
    assert await setup.runs.artifacts(run_id) == []
    run = await setup.runs.get(run_id)
    [skipped] = run.artifacts_skipped
    assert skipped["kind"] == "video" and skipped["attempt"] == 1 and skipped["bytes"] > 1
