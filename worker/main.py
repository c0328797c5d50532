"""`reprise worker`: a BullMQ Worker on the runs queue, one Chromium, a heartbeat and a cancel listener.

Lifecycle: connect (Postgres, Redis), migrate, launch Chromium, start the BullMQ worker and the side tasks
(heartbeat, cancel listener, orphan sweep). SIGTERM or SIGINT: stop claiming jobs, let active runs finish
within WORKER_SHUTDOWN_GRACE_SECONDS, then abort the rest and hand their jobs back to the queue (their
attempts are recorded `abandoned`, the runs `queued`), close Redis and Postgres, exit 0. A second signal
skips the grace.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from bullmq import Worker
from redis.asyncio import Redis

from contract.options import RunOptions
from contract.results import RunResult
from contract.runs import FailureCategory, RunStatus
from contract.settings import Settings
from jobs.queue import RetryPolicy, RunQueue, bullmq_connection
from jobs.registry import WorkerBeat, WorkerRegistry
from runner.formats import Script
from runner.replay import BrowserError, ChromiumLauncher, PlaywrightRunner, StepCallback
from storage import LocalArtifactStore, RunRepository, create_pool, migrate
from worker.browser_health import BrowserSupervisor
from worker.cancellation import cancel_listener
from worker.heartbeat import heartbeat_loop
from worker.processor import ReplayFunction, RunProcessor
from worker.sweep import OrphanSweeper, sweep_loop
from worker.workdir import work_directory

log = structlog.get_logger(__name__)

REDIS_RETRY_DELAY_MS = 1_000
# A new run waits this long for a relaunching browser before its attempt counts as an infrastructure error.
BROWSER_WAIT_S = 30.0
# After the grace period, aborting replays and returning their jobs must not take longer than this.
HAND_BACK_TIMEOUT_S = 30.0


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
    pool = await create_pool(settings.database_url, max_size=settings.worker_concurrency + 3)
    redis = Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=5,
                           socket_connect_timeout=5)
    # Pub/sub blocks on reads, so its connection must not time out.
    pubsub_redis = Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=None,
                                  socket_connect_timeout=5)
    registry = WorkerRegistry(redis, settings.queue_name)
    queue = RunQueue(settings.queue_name, settings.redis_url, redis,
                     RetryPolicy(settings.job_max_attempts, settings.job_backoff_ms))
    claiming = ClaimControl()
    browser = BrowserSupervisor(
        ChromiumLauncher(settings.chromium_path, js_heap_mb=settings.browser_js_heap_mb),
        failures_to_open=settings.browser_failures_to_open,
        retry_s=settings.browser_retry_s,
        on_open=claiming.pause,
        on_close=claiming.resume,
    )
    stop = StopSignal()
    exit_code = 0
    try:
        with work_directory(settings.work_dir, settings.worker_name) as work_dir:
            await browser.start()
            try:
                exit_code = await _serve(settings, pool, redis, pubsub_redis, registry, queue, browser, claiming,
                                         work_dir, stop)
            finally:
                await browser.close()
    finally:
        try:
            await registry.remove(settings.worker_name)
        except Exception as error:  # the key expires by itself; Redis being down must not fail the stop
            log.warning("could not remove heartbeat", error=str(error))
        await queue.close()
        await pubsub_redis.aclose()
        await redis.aclose()
        await pool.close()
        log.info("worker stopped", exitCode=exit_code)
    return exit_code


class ClaimControl:
    """Pauses and resumes claiming new jobs (the browser circuit breaker), once the BullMQ worker exists."""

    def __init__(self) -> None:
        self.worker: Worker | None = None
        self._pausing: asyncio.Task[None] | None = None

    def pause(self) -> None:
        if self.worker is not None:
            # Active runs are not waited for: they are failing with the browser anyway.
            self._pausing = asyncio.create_task(self.worker.pause(do_not_wait_active=True))

    def resume(self) -> None:
        if self.worker is not None:
            self.worker.resume()


def _replay_with(browser: BrowserSupervisor, browser_wait_s: float) -> ReplayFunction:
    async def replay(script: Script, options: RunOptions, output_dir: Path, *, secret_values: Sequence[str] = (),
                     on_step: StepCallback | None = None, stop: asyncio.Event | None = None) -> RunResult:
        try:
            live = await browser.browser(browser_wait_s)
        except BrowserError as error:
            return RunResult(status=RunStatus.ERROR, error=str(error), category=FailureCategory.BROWSER_CRASHED)
        return await PlaywrightRunner(live).run(script, options, output_dir, secret_values=secret_values,
                                                on_step=on_step, stop=stop)

    return replay


async def _serve(
    settings: Settings,
    pool: Any,
    redis: Redis,
    pubsub_redis: Redis,
    registry: WorkerRegistry,
    queue: RunQueue,
    browser: BrowserSupervisor,
    claiming: ClaimControl,
    work_dir: Path,
    stop: StopSignal,
) -> int:
    runs = RunRepository(pool, retry_for_s=settings.database_retry_s)
    processor = RunProcessor(
        runs=runs,
        artifacts=LocalArtifactStore(
            settings.video_storage_path, settings.screenshot_storage_path, settings.artifact_storage_path
        ),
        replay=_replay_with(browser, BROWSER_WAIT_S),
        worker_name=settings.worker_name,
        work_dir=work_dir,
        max_attempts=settings.job_max_attempts,
    )
    sweeper = OrphanSweeper(runs=runs, queue=queue, registry=registry, redis=redis,
                            worker_name=settings.worker_name, quiet_for_s=settings.orphan_grace_s,
                            replaying_here=lambda: processor.active_run_ids)
    beat = WorkerBeat(name=settings.worker_name, concurrency=settings.worker_concurrency)

    def refresh(current: WorkerBeat) -> None:
        current.active_jobs = processor.active_count
        current.active_runs = processor.active_run_ids
        current.processed = processor.stats.processed
        current.failed = processor.stats.failed
        current.browser = browser.status()
        if stop.requested.is_set():
            current.state = "stopping"
        elif browser.state == "circuit_open":
            current.state = "circuit_open"
        else:
            current.state = "running"

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
                # bullmq waits 15 s before retrying a lost Redis connection by default.
                "runRetryDelay": REDIS_RETRY_DELAY_MS,
                "autorun": False,
            },
        )
        claiming.worker = worker
        worker.on("error", lambda error, *_: log.warning("bullmq worker error", error=str(error)))
        worker.on("stalled", lambda job_id, *_: log.warning("stalled job returned to the queue", jobId=job_id))
        side_tasks = [
            asyncio.create_task(heartbeat_loop(registry, beat, settings.heartbeat_interval_s, refresh),
                                name="heartbeat"),
            asyncio.create_task(cancel_listener(pubsub_redis, settings.queue_name, processor.cancel),
                                name="cancel-listener"),
            asyncio.create_task(sweep_loop(sweeper, settings.sweep_interval_s), name="orphan-sweep"),
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
    """Stop claiming, wait for active runs up to the grace (or a second signal), then hand the rest back to
    the queue; force-close only if that does not finish either."""
    graceful = asyncio.create_task(worker.close(), name="graceful-close")
    urgent = asyncio.create_task(stop.urgent.wait())
    done, _ = await asyncio.wait({graceful, urgent}, timeout=grace_s, return_when=asyncio.FIRST_COMPLETED)
    urgent.cancel()
    if graceful in done:
        log.info("active runs finished, worker closed")
        return
    handed = processor.hand_back_all()
    log.warning("grace period over, handing active runs back to the queue", active=handed)
    done, _ = await asyncio.wait({graceful}, timeout=HAND_BACK_TIMEOUT_S)
    if graceful in done:
        log.info("active runs handed back, worker closed")
        return
    log.error("runs did not hand back in time; force-closing (their jobs return through stalled detection)",
              active=processor.active_count)
    await worker.close(force=True)
    graceful.cancel()
    await asyncio.gather(graceful, return_exceptions=True)
