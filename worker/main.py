"""`reprise worker`: a BullMQ Worker on the runs queue, one Chromium, a heartbeat and a cancel listener.

Lifecycle: connect (Postgres, Redis), migrate, launch Chromium, start the BullMQ worker and the side tasks.
SIGTERM or SIGINT: stop claiming jobs, let active runs finish within WORKER_SHUTDOWN_GRACE_SECONDS, then
force-close (unfinished jobs stay locked in Redis and come back through stalled-job detection), close
Redis and Postgres, exit 0. A second signal skips the grace.
"""

from __future__ import annotations

import asyncio
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from bullmq import Worker
from redis.asyncio import Redis

from reprise.queue import bullmq_connection
from reprise.registry import WorkerBeat, WorkerRegistry
from reprise.settings import Settings
from runner import PlaywrightRunner, launch_chromium
from runner.devices import DeviceCatalogue
from storage import LocalArtifactStore, RunRepository, create_pool, migrate
from worker.cancellation import cancel_listener
from worker.heartbeat import heartbeat_loop
from worker.processor import RunProcessor

log = structlog.get_logger(__name__)


class StopSignal:
    """Set by the first SIGTERM/SIGINT; a second one asks for an immediate stop."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.urgent = asyncio.Event()

    def trigger(self, signum: int) -> None:
        if self.requested.is_set():
            log.warning("second stop signal: skipping the grace period", signal=signal.Signals(signum).name)
            self.urgent.set()
        else:
            log.info("stop signal: no new jobs, finishing active runs", signal=signal.Signals(signum).name)
            self.requested.set()


@contextmanager
def stop_signals(stop: StopSignal) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    handled = (signal.SIGTERM, signal.SIGINT)
    for signum in handled:
        loop.add_signal_handler(signum, stop.trigger, signum)
    try:
        yield
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


def _watch(task: asyncio.Task[Any], stop: StopSignal) -> None:
    """A side task that dies takes the worker down (procrastinate's habit) instead of limping on."""

    def done(finished: asyncio.Task[Any]) -> None:
        if finished.cancelled():
            return
        error = finished.exception()
        if error is not None:
            log.error("side task died, stopping worker", task=finished.get_name(), error=repr(error))
            stop.requested.set()
            stop.urgent.set()

    task.add_done_callback(done)


async def run_worker(settings: Settings) -> int:
    structlog.contextvars.bind_contextvars(worker=settings.worker_name)
    await migrate(settings.database_url)
    pool = await create_pool(settings.database_url, max_size=settings.worker_concurrency + 2)
    redis = Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=5,
                           socket_connect_timeout=5)
    # Pub/sub blocks on reads, so its connection must not time out.
    pubsub_redis = Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=None,
                                  socket_connect_timeout=5)
    registry = WorkerRegistry(redis, settings.queue_name)
    stop = StopSignal()
    exit_code = 0
    try:
        with tempfile.TemporaryDirectory(prefix=f"reprise-{settings.worker_name}-") as work_dir:
            async with launch_chromium(settings.chromium_path) as browser:
                exit_code = await _serve(settings, pool, redis, pubsub_redis, registry, browser,
                                         Path(work_dir), stop)
    finally:
        try:
            await registry.remove(settings.worker_name)
        except Exception as error:  # the key expires by itself; Redis being down must not fail the stop
            log.warning("could not remove heartbeat", error=str(error))
        await pubsub_redis.aclose()
        await redis.aclose()
        await pool.close()
        log.info("worker stopped", exitCode=exit_code)
    return exit_code


async def _serve(
    settings: Settings,
    pool: Any,
    redis: Redis,
    pubsub_redis: Redis,
    registry: WorkerRegistry,
    browser: Any,
    work_dir: Path,
    stop: StopSignal,
) -> int:
    runner = PlaywrightRunner(browser)
    processor = RunProcessor(
        runs=RunRepository(pool),
        artifacts=LocalArtifactStore(
            settings.video_storage_path, settings.screenshot_storage_path, settings.artifact_storage_path
        ),
        replay=runner.run,
        worker_name=settings.worker_name,
        work_dir=work_dir,
        devices=DeviceCatalogue(),
    )
    beat = WorkerBeat(name=settings.worker_name, concurrency=settings.worker_concurrency)

    def refresh(current: WorkerBeat) -> None:
        current.active_jobs = processor.active_count
        current.processed = processor.stats.processed
        current.failed = processor.stats.failed
        current.state = "stopping" if stop.requested.is_set() else "running"

    with stop_signals(stop):
        worker = Worker(
            settings.queue_name,
            processor.process,
            {
                "connection": bullmq_connection(settings.redis_url),
                "concurrency": settings.worker_concurrency,
                "name": settings.worker_name,
                "stalledInterval": settings.stalled_interval_ms,
                "lockDuration": settings.lock_duration_ms,
                "maxStalledCount": settings.max_stalled_count,
                "autorun": False,
            },
        )
        worker.on("error", lambda error, *_: log.warning("bullmq worker error", error=str(error)))
        side_tasks = [
            asyncio.create_task(heartbeat_loop(registry, beat, settings.heartbeat_interval_s, refresh),
                                name="heartbeat"),
            asyncio.create_task(cancel_listener(pubsub_redis, settings.queue_name, processor.cancel),
                                name="cancel-listener"),
        ]
        for task in side_tasks:
            _watch(task, stop)
        consuming = asyncio.create_task(worker.run(), name="bullmq-worker")
        log.info("worker started", queue=settings.queue_name, concurrency=settings.worker_concurrency,
                 pid=beat.pid, host=beat.host)
        stop_wait = asyncio.create_task(stop.requested.wait())
        await asyncio.wait({consuming, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        stop.requested.set()
        await _shutdown(worker, processor, stop, settings.shutdown_grace_s)
        refresh(beat)
        for task in (*side_tasks, consuming, stop_wait):
            task.cancel()
        await asyncio.gather(*side_tasks, consuming, stop_wait, return_exceptions=True)
    return 0


async def _shutdown(worker: Worker, processor: RunProcessor, stop: StopSignal, grace_s: float) -> None:
    """Stop claiming, wait for active runs up to the grace (or a second signal), then force-close."""
    graceful = asyncio.create_task(worker.close(), name="graceful-close")
    urgent = asyncio.create_task(stop.urgent.wait())
    done, _ = await asyncio.wait({graceful, urgent}, timeout=grace_s, return_when=asyncio.FIRST_COMPLETED)
    urgent.cancel()
    if graceful in done:
        log.info("active runs finished, worker closed")
        return
    log.warning("grace period over, aborting active runs; their jobs return to the queue",
                active=processor.active_count)
    await worker.close(force=True)
    graceful.cancel()
    await asyncio.gather(graceful, return_exceptions=True)
