"""A worker's uploads to S3 when the store goes away: in-process run processor, real Chromium, a real S3
server (moto) behind a TCP proxy the test cuts. Retried until the store is back, or the run ends `error`
[storage] with the reason, listing only what is really in the bucket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import structlog
from bullmq import Job
from bullmq.custom_errors import UnrecoverableError
from redis.asyncio import Redis

from contract.network import NetworkPolicy
from contract.runs import FailureCategory, RunStatus
from contract.settings import Settings
from jobs.queue import RetryPolicy, RunQueue
from runner.replay import ChromiumLauncher
from storage import NewRun, RunRepository, create_pool
from storage.s3_artifacts import S3ArtifactStore
from worker.browser_health import BrowserSupervisor
from worker.intake import JobIntake
from worker.main import replay_in
from worker.processor import RunProcessor
from worker.replays import ActiveReplays

from flows import quick_script
from s3_server import Bucket, TcpProxy, object_keys, open_multipart_uploads
from services import wait_for


@dataclass
class Worker:
    runs: RunRepository
    queue: RunQueue
    work_dir: Path

    def processor(self, store: S3ArtifactStore, supervisor: BrowserSupervisor, retry_s: float) -> RunProcessor:
        replays = ActiveReplays(replay_in({"chromium": supervisor}, 30))
        return RunProcessor(runs=self.runs, artifacts=store, replays=replays, worker_name="in-process",
                            work_dir=self.work_dir, storage_retry_s=retry_s,
                            intake=JobIntake(self.runs, NetworkPolicy()))

    async def job(self, script: dict[str, Any], **options: Any) -> tuple[UUID, Job]:
        run, _ = await self.runs.create(NewRun(name="upload", script_format="native", script=script, options=options))
        await self.queue.enqueue(run.id)
        job = await Job.fromId(self.queue._queue, str(run.id))
        assert job is not None
        return run.id, job


@pytest.fixture
async def parts(settings: Settings, chromium_path: str,
                tmp_path: Path) -> AsyncIterator[tuple[Worker, BrowserSupervisor]]:
    pool = await create_pool(settings.database_url)
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    queue = RunQueue(settings.queue_name, settings.redis_url, redis, RetryPolicy(max_attempts=3, backoff_ms=100))
    supervisor = BrowserSupervisor(ChromiumLauncher(chromium_path))
    await supervisor.start()
    try:
        yield Worker(RunRepository(pool, queue=settings.queue_name), queue, tmp_path / "work"), supervisor
    finally:
        await supervisor.close()
        await queue.close()
        await redis.aclose()
        await pool.close()


async def test_uploads_wait_for_a_store_that_comes_back(
    parts: tuple[Worker, BrowserSupervisor], s3_bucket: Bucket, s3_proxy: TcpProxy, site_url: str,
) -> None:
    worker, supervisor = parts
    async with AsyncExitStack() as stack:
        store = await S3ArtifactStore.connect(s3_bucket.name, "a", endpoint_url=s3_proxy.url, stack=stack)
        run_id, job = await worker.job(quick_script(site_url, "store down"), video="on", screenshots="every-step")
        s3_proxy.cut()
        with structlog.testing.capture_logs() as logs:
            processing = asyncio.create_task(worker.processor(store, supervisor, retry_s=120).process(job, "t"))

            async def retrying() -> bool:
                return any(entry["event"] == "artifact store unavailable, retrying" for entry in logs)

            await wait_for(retrying, timeout=60, what="an upload to be retried")
            s3_proxy.restore()
            answer = await asyncio.wait_for(processing, 90)

    assert answer["status"] == "passed"
    artifacts = await worker.runs.artifacts(run_id)
    assert sorted(a.kind for a in artifacts) == ["screenshot", "screenshot", "screenshot", "video"]
    in_bucket = await object_keys(s3_bucket)
    assert {f"a/{a.storage_key}": a.size_bytes for a in artifacts} == in_bucket
    assert not any(worker.work_dir.rglob("*.*"))  # nothing left on the worker's disk


async def test_a_store_gone_for_good_ends_the_run_error_storage_listing_nothing_half_written(
    parts: tuple[Worker, BrowserSupervisor], s3_bucket: Bucket, s3_proxy: TcpProxy, site_url: str,
) -> None:
    worker, supervisor = parts
    async with AsyncExitStack() as stack:
        store = await S3ArtifactStore.connect(s3_bucket.name, "a", endpoint_url=s3_proxy.url, stack=stack)
        run_id, job = await worker.job(quick_script(site_url, "store gone"), video="on")
        s3_proxy.cut()
        with pytest.raises(UnrecoverableError, match=r"could not store the video \(video.webm\)"):
            await worker.processor(store, supervisor, retry_s=2).process(job, "t")

    run = await worker.runs.get(run_id)
    assert (run.status, run.error_category) == (RunStatus.ERROR, FailureCategory.STORAGE)
    assert run.error is not None and run.error.endswith("(the replay itself: passed)")
    assert await worker.runs.artifacts(run_id) == []
    s3_proxy.restore()
    assert await object_keys(s3_bucket) == {} and await open_multipart_uploads(s3_bucket) == []
    assert not any(worker.work_dir.rglob("*.*"))
