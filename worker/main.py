"""`reprise worker`: a BullMQ Worker on the runs queue, one Chromium, a heartbeat, a cancel listener, the
orphan sweep, the suite runs' results (worker.suites), the webhook deliveries (worker.webhooks), (with a retention
rule set) the fleet's retention passes on the maintenance queue, and (with METRICS_PORT set) `/metrics` and
`/healthz` for Prometheus and probes (worker.metrics).

`run_worker` connects (Postgres, Redis), migrates, launches Chromium and serves a `WorkerRuntime` until
SIGTERM/SIGINT: stop claiming jobs, let active runs finish within WORKER_SHUTDOWN_GRACE_SECONDS, then hand
the rest back to the queue (their attempts `abandoned`, the runs `queued`), close everything. A second
signal skips the grace. Exit codes: worker.lifecycle.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from bullmq import Worker
from playwright.async_api import Browser
from redis.asyncio import Redis

from contract.flaky import QuarantinePolicy
from contract.network import NetworkPolicy
from contract.options import BrowserName, RunOptions
from contract.results import RunResult
from contract.retention import RetentionPolicy
from contract.runs import FailureCategory, RunStatus
from contract.settings import Settings
from contract.visual import VisualBaselines
from jobs.queue import RetryPolicy, RunQueue, consumer_options, visible_worker
from jobs.registry import WorkerBeat, WorkerRegistry
from jobs.schedules import ScheduleQueue
from runner.formats import Script
from runner.formats.variables import SecretMasker
from runner.replay import BrowserError, ChromiumLauncher, PlaywrightRunner, StepCallback
from storage import (
    ArtifactStore,
    ArtifactStoreError,
    BaselineRepository,
    FlakyRepository,
    Retention,
    RunRepository,
    ScheduleRepository,
    SuiteRepository,
    create_pool,
    describe_store,
    migrate,
    open_artifact_store,
)
from worker.browser_health import BrowserSupervisor
from worker.cancellation import cancel_listener
from worker.egress import (
    EgressProxy,
    Resolver,
    blocked_verdict,
    explain_network_errors,
    resolve_protected,
    system_resolver,
)
from worker.heartbeat import heartbeat_loop
from worker.intake import JobIntake
from worker.lifecycle import EXIT_DEPENDENCY, EXIT_INVALID_SETTINGS, SideTasks, StopSignal, shut_down, stop_signals
from worker.metrics import (
    CIRCUIT_OPEN,
    RUNNING,
    STOPPING,
    Health,
    WorkerMetrics,
    exposition,
    judge_health,
    worker_registry,
)
from worker.metrics_server import MetricsPortUnavailable, MetricsServer
from worker.process_memory import tree_memory
from worker.processor import RunProcessor
from worker.replays import ActiveReplays, ReplayFunction
from worker.retention import RetentionJobs, retention_loop
from worker.schedules import ScheduledRuns
from worker.suites import SuiteDecider, suites_loop
from worker.sweep import OrphanSweeper, sweep_loop
from worker.warm import WarmContexts
from worker.webhooks import webhook_loop
from worker.workdir import work_directory

log = structlog.get_logger(__name__)

# A new run waits this long for a relaunching browser before its attempt counts as an infrastructure error.
BROWSER_WAIT_S = 30.0


@dataclass(frozen=True)
class Connections:
    pool: asyncpg.Pool
    redis: Redis
    pubsub_redis: Redis  # pub/sub blocks on reads, so this connection never times out
    queue: RunQueue
    store: ArtifactStore
    schedulers: ScheduleQueue  # the schedules' BullMQ schedulers on the runs queue


@asynccontextmanager
async def open_connections(settings: Settings) -> AsyncIterator[Connections]:
    async with AsyncExitStack() as stack:
        pool = await create_pool(settings.database_url, max_size=settings.worker_concurrency + 4)
        stack.push_async_callback(pool.close)
        redis = Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5)
        stack.push_async_callback(redis.aclose)
        pubsub_redis = Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=None,
                                      socket_connect_timeout=5)
        stack.push_async_callback(pubsub_redis.aclose)
        queue = RunQueue(settings.queue_name, settings.redis_url, redis,
                         RetryPolicy(settings.job_max_attempts, settings.job_backoff_ms))
        stack.push_async_callback(queue.close)
        schedulers = ScheduleQueue(settings.queue_name, settings.redis_url,
                                   RetryPolicy(settings.job_max_attempts, settings.job_backoff_ms))
        stack.push_async_callback(schedulers.close)
        store = await stack.enter_async_context(open_artifact_store(settings))
        try:
            await store.check()
        except ArtifactStoreError as error:
            if not error.transient:  # a folder it cannot write, a bucket that does not exist: say so, now
                raise
            # Unreachable for now: uploads retry; a store that stays away ends runs error [storage].
            log.warning("artifact store unavailable at start", error=str(error), store=describe_store(settings))
        yield Connections(pool, redis, pubsub_redis, queue, store, schedulers)


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


def replay_in(browsers: Mapping[BrowserName, BrowserSupervisor], browser_wait_s: float,
              network: NetworkPolicy | None = None, resolver: Resolver = system_resolver,
              warm: WarmContexts | None = None) -> ReplayFunction:
    """The replay of one run in the browser its options name (the worker's live one, waiting for a relaunch
    up to `browser_wait_s`), its requests through an egress proxy of its own enforcing `network` (None: no
    proxy, for tests of the replay alone). A request the policy blocked makes the run `failed` [blocked].
    `warm`: the run starts in the context opened ahead when it fits, and the next one is opened meanwhile (its
    proxies made with `network`, as warm's `new_proxy`)."""

    async def replay(script: Script, options: RunOptions, output_dir: Path, *, secret_values: Sequence[str] = (),
                     on_step: StepCallback | None = None, stop: asyncio.Event | None = None,
                     visual: VisualBaselines | None = None) -> RunResult:
        supervisor = browsers.get(options.browser)
        if supervisor is None:
            return RunResult(status=RunStatus.ERROR, error=f"this worker has no {options.browser} browser "
                             f"(it has {', '.join(sorted(browsers))})", category=FailureCategory.BROWSER_CRASHED)
        try:
            # Leaving the lease may recycle the browser (BrowserSupervisor): after this run, before the next.
            async with supervisor.lease(browser_wait_s) as live:
                return await replay_with(live, script, options, output_dir, secret_values=secret_values,
                                         on_step=on_step, stop=stop, visual=visual)
        except BrowserError as error:  # only the wait for a browser raises it
            return RunResult(status=RunStatus.ERROR, error=str(error), category=FailureCategory.BROWSER_CRASHED)

    async def replay_with(live: Browser, script: Script, options: RunOptions, output_dir: Path, *,
                          secret_values: Sequence[str], on_step: StepCallback | None,
                          stop: asyncio.Event | None, visual: VisualBaselines | None) -> RunResult:
        spare = None
        if warm is not None:
            plan = PlaywrightRunner(live).plan(script, options, secret_values=secret_values)
            spare = await warm.take(live, plan)
            if spare is not None and network is not None and spare.proxy is None:
                await spare.close()  # opened without the egress proxy this run must go through
                spare = None
        prepared = spare.opened if spare is not None else None
        try:
            if network is None:
                return await PlaywrightRunner(live).run(script, options, output_dir, secret_values=secret_values,
                                                        on_step=on_step, stop=stop, prepared=prepared,
                                                        visual=visual)
            proxy = spare.proxy if spare is not None and spare.proxy is not None else None
            if proxy is None:
                proxy = EgressProxy(network, resolver=resolver)
                await proxy.start()
            try:
                result = await PlaywrightRunner(live, proxy=proxy.playwright_proxy()).run(
                    script, options, output_dir, secret_values=secret_values, on_step=on_step, stop=stop,
                    prepared=prepared, visual=visual)
            finally:
                await proxy.close()
        finally:
            if warm is not None:
                # After the replay, not during it: opening a context beside a running replay slows the replay
                # more than it saves (two cores). It opens while this run's files are stored and the next job
                # is fetched, and the next run waits for the rest.
                warm.open_next(live, plan)
        mask = SecretMasker(secret_values).mask
        return blocked_verdict(explain_network_errors(result, proxy.unreachable, mask), proxy.blocked, mask)

    return replay


class WorkerRuntime:
    """What one worker process runs, wired from its connections, its browser and its scratch folder."""

    def __init__(self, settings: Settings, connections: Connections, browser: BrowserSupervisor,
                 claiming: ClaimControl, work_dir: Path, network: NetworkPolicy | None = None) -> None:
        self.settings = settings
        # What the runs' browser may reach (the caller resolves the protected names: `resolve_protected`).
        self.network = network if network is not None else NetworkPolicy.from_settings(settings)
        self.connections = connections
        self.browser = browser
        self.claiming = claiming
        self.registry = WorkerRegistry(connections.redis, settings.queue_name)
        # The next runs' contexts, opened after each replay (a third of a short run's time), one per run slot.
        self.warm = WarmContexts(work_dir / "ahead", new_proxy=lambda: EgressProxy(self.network),
                                 size=settings.worker_concurrency)
        runs = RunRepository(connections.pool, queue=settings.queue_name, retry_for_s=settings.database_retry_s)
        self.processor = RunProcessor(
            runs=runs,
            artifacts=connections.store,
            replays=ActiveReplays(replay_in({"chromium": browser}, BROWSER_WAIT_S, self.network, warm=self.warm)),
            worker_name=settings.worker_name,
            work_dir=work_dir,
            intake=JobIntake(runs, self.network, schedules=ScheduledRuns(
                ScheduleRepository(connections.pool, queue=settings.queue_name), connections.schedulers,
                self.network)),
            api_base_url=settings.api_base_url,
            max_attempts=settings.job_max_attempts,
            max_run_artifact_bytes=settings.run_artifacts_max_bytes,
            storage_retry_s=settings.storage_retry_s,
            baselines=BaselineRepository(connections.pool),
            flaky=FlakyRepository(connections.pool, queue=settings.queue_name),
            quarantine=QuarantinePolicy(flips=settings.flaky_quarantine_flips, window_runs=settings.flaky_window_runs),
        )
        self.sweeper = OrphanSweeper(runs=runs, queue=connections.queue, registry=self.registry,
                                     redis=connections.redis, worker_name=settings.worker_name,
                                     quiet_for_s=settings.orphan_grace_s,
                                     replaying_here=lambda: self.processor.replays.run_ids)
        self.beat = WorkerBeat(name=settings.worker_name, concurrency=settings.worker_concurrency)
        self.metrics = worker_registry(WorkerMetrics(
            worker=settings.worker_name, queue=settings.queue_name, concurrency=settings.worker_concurrency,
            stats=self.processor.stats, replays=self.processor.replays, browser=browser))
        self.suites = SuiteDecider(SuiteRepository(connections.pool, queue=settings.queue_name))
        policy = RetentionPolicy.from_settings(settings)
        # No rule set: this worker takes no part in retention (the others' scheduler, if any, runs on).
        self.retention = None if policy.is_empty else RetentionJobs(
            Retention(connections.pool, connections.store, queue=settings.queue_name, policy=policy),
            settings.worker_name)

    def refresh_beat(self, beat: WorkerBeat, stop: StopSignal) -> None:
        beat.active_jobs = self.processor.replays.count
        beat.active_runs = self.processor.replays.run_ids
        beat.processed = self.processor.stats.processed
        beat.failed = self.processor.stats.failed
        beat.browser = self.browser.status()
        beat.state = self.state(stop)

    def state(self, stop: StopSignal) -> str:
        """What the heartbeat and /healthz say: running, circuit_open (Chromium cannot launch, no job is claimed)
        or stopping."""
        if stop.requested.is_set():
            return STOPPING
        if self.browser.state == "circuit_open":
            return CIRCUIT_OPEN
        return RUNNING

    def health(self, stop: StopSignal) -> Health:
        return judge_health(worker=self.settings.worker_name, queue=self.settings.queue_name, state=self.state(stop),
                            chromium=self.browser.state, active_runs=self.processor.replays.count)

    async def open_metrics_server(self, stop: StopSignal) -> MetricsServer | None:
        """`/metrics` and `/healthz` bound on METRICS_PORT (None when unset); MetricsPortUnavailable when the port
        cannot be had."""
        if self.settings.metrics_port is None:
            return None
        server = MetricsServer(self.settings.metrics_port, metrics=lambda accept: exposition(self.metrics, accept),
                               health=lambda: self.health(stop))
        await server.start()
        return server

    def side_tasks(self, stop: StopSignal) -> dict[str, Coroutine[Any, Any, None]]:
        settings = self.settings
        tasks = {
            "heartbeat": heartbeat_loop(self.registry, self.beat, settings.heartbeat_interval_s,
                                        lambda beat: self.refresh_beat(beat, stop)),
            "cancel-listener": cancel_listener(self.connections.pubsub_redis, settings.queue_name,
                                               self.processor.replays.cancel),
            "orphan-sweep": sweep_loop(self.sweeper, settings.sweep_interval_s),
            "suites": suites_loop(settings, self.suites),
        }
        if self.retention is not None:
            tasks["retention"] = retention_loop(settings, self.retention)
        # Webhook deliveries: the outbox pumped into `<queue>-webhooks`, and its jobs sent (worker/webhooks.py).
        tasks["webhooks"] = webhook_loop(settings, self.connections.pool)
        return tasks

    def consumer(self) -> Worker:
        settings = self.settings
        worker = visible_worker(settings.queue_name, self.processor.process,
                                consumer_options(settings, concurrency=settings.worker_concurrency))
        worker.on("error", lambda error, *_: log.warning("bullmq worker error", error=str(error)))
        worker.on("stalled", lambda job_id, *_: log.warning("stalled job returned to the queue", jobId=job_id))
        return worker

    async def serve(self, stop: StopSignal) -> int:
        """Consume jobs until a stop signal or a side task's death; returns the exit code."""
        tasks = SideTasks(stop)
        metrics_server = await self.open_metrics_server(stop)  # first: a port in use stops the worker before it claims
        if metrics_server is not None:
            tasks.start("metrics-server", metrics_server.serve())
        worker = self.consumer()
        self.claiming.worker = worker
        for name, coroutine in self.side_tasks(stop).items():
            tasks.start(name, coroutine)
        tasks.start("bullmq-worker", worker.run())
        log.info("worker started", queue=self.settings.queue_name, concurrency=self.settings.worker_concurrency,
                 pid=self.beat.pid, host=self.beat.host, artifacts=describe_store(self.settings),
                 retention=self.retention.retention.policy.describe() if self.retention is not None else None,
                 network=self.network.describe())
        await stop.requested.wait()
        await shut_down(worker, self.processor.replays, stop, self.settings.shutdown_grace_s)
        await self.warm.close()
        self.refresh_beat(self.beat, stop)
        await tasks.cancel_all()
        if tasks.died is not None:
            log.error("worker crashed", cause=tasks.died, exitCode=tasks.exit_code)
        return tasks.exit_code


async def run_worker(settings: Settings) -> int:
    structlog.contextvars.bind_contextvars(worker=settings.worker_name)
    await migrate(settings.database_url)
    claiming = ClaimControl()

    def new_launcher() -> ChromiumLauncher:
        return ChromiumLauncher(settings.chromium_path, js_heap_mb=settings.browser_js_heap_mb)

    browser = BrowserSupervisor(
        new_launcher(),
        new_launcher=new_launcher,
        failures_to_open=settings.browser_failures_to_open,
        retry_s=settings.browser_retry_s,
        on_open=claiming.pause,
        on_close=claiming.resume,
        recycle_after_runs=settings.browser_recycle_runs,
        recycle_above_bytes=settings.browser_recycle_mb * 2**20,
        memory=lambda: tree_memory().children_bytes,
    )
    stop = StopSignal()
    exit_code = EXIT_DEPENDENCY
    async with open_connections(settings) as connections:
        registry = WorkerRegistry(connections.redis, settings.queue_name)
        try:
            with work_directory(settings.work_dir, settings.worker_name) as work_dir, stop_signals(stop):
                try:
                    await browser.start()
                except BrowserError as error:
                    log.error("chromium did not start; not serving", error=str(error))
                    return EXIT_DEPENDENCY
                try:
                    network = await resolve_protected(NetworkPolicy.from_settings(settings))
                    exit_code = await WorkerRuntime(settings, connections, browser, claiming, work_dir,
                                                    network).serve(stop)
                except MetricsPortUnavailable as error:
                    log.error("metrics port unavailable; not serving", error=str(error))
                    exit_code = EXIT_INVALID_SETTINGS
                finally:
                    await browser.close()
        finally:
            try:
                await registry.remove(settings.worker_name)
            except Exception as error:  # the key expires by itself; Redis being down must not fail the stop
                log.warning("could not remove heartbeat", error=str(error))
            log.info("worker stopped", exitCode=exit_code)
    return exit_code
