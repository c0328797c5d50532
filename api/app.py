"""The FastAPI application: `create_app(settings)` builds it; the lifespan owns every connection.

The API never touches a browser: it imports the recording formats (`runner.formats`) and the contract,
never the Playwright replay (an import-linter contract in `make test` holds it to that).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from redis.asyncio import Redis

from api.auth import Authenticator
from api.docs import install_docs
from api.errors import install_error_handlers
from api.events import EventHub
from api.http_metrics import HttpMetrics, HttpMetricsMiddleware
from api.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from api.rate_limit import EXEMPT_PREFIXES, RateLimiter, RateLimitMiddleware, StreamSlots
from api.responses import declare_common_errors
from api.routes import (
    artifacts,
    baselines,
    dead_letter,
    events,
    flaky,
    health,
    history,
    keys,
    metrics,
    queue,
    recordings,
    runs,
    schedules,
    schema,
    session,
    stats,
    suites,
    webhooks,
)
from api.routes.dashboard import install_dashboard
from api.services.artifacts import ArtifactService
from api.services.baselines import BaselineService
from api.services.dead_letter import DeadLetterService
from api.services.flaky import FlakyService
from api.services.health import QUEUE_SNAPSHOT_TTL_S, HealthService, QueueSnapshot
from api.services.history import HistoryService
from api.services.metrics import MetricsService
from api.services.recordings import RecordingService
from api.services.runs import RunService
from api.services.schedules import ScheduleService
from api.services.stats import StatsService
from api.services.suites import SuiteService
from api.services.webhooks import WebhookService
from api.ttl_cache import TtlCache
from contract.network import NetworkPolicy
from contract.settings import Settings
from contract.webhooks import webhook_policy
from jobs.flows import SuiteFlows
from jobs.queue import RetryPolicy, RunQueue
from jobs.registry import WorkerRegistry
from jobs.schedules import ScheduleQueue
from storage import (
    BaselineRepository,
    FlakyRepository,
    KeyRepository,
    QueueActions,
    RecordingRepository,
    RunHistory,
    RunMetricsReader,
    RunRepository,
    ScheduleRepository,
    StorageUsage,
    SuiteRepository,
    WebhookRepository,
    create_pool,
    describe_store,
    migrate,
    open_artifact_store,
)

log = structlog.get_logger(__name__)


def create_app(settings: Settings) -> FastAPI:
    http_metrics = HttpMetrics()  # this app's own: each API process (and each app in tests) counts apart

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        applied = await migrate(settings.database_url)
        if applied:
            log.info("database migrated", versions=applied)
        async with AsyncExitStack() as stack:
            pool = await create_pool(settings.database_url)
            stack.push_async_callback(pool.close)
            redis = Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=5,
                                   socket_connect_timeout=5)
            stack.push_async_callback(redis.aclose)
            run_queue = RunQueue(settings.queue_name, settings.redis_url, redis,
                                 RetryPolicy(settings.job_max_attempts, settings.job_backoff_ms))
            stack.push_async_callback(run_queue.close)
            event_hub = EventHub(settings.database_url, settings.queue_name)
            event_hub.start()
            stack.push_async_callback(event_hub.close)
            store = await stack.enter_async_context(open_artifact_store(settings))
            runs_repository = RunRepository(pool, queue=settings.queue_name)
            run_service = RunService(runs_repository, run_queue, NetworkPolicy.from_settings(settings),
                                     idempotency_ttl_s=settings.idempotency_key_ttl_s)
            app.state.runs = run_service
            app.state.artifacts = ArtifactService(runs_repository, store, delivery=settings.artifact_delivery,
                                                  url_ttl_s=settings.artifact_url_ttl_s)
            schedulers = ScheduleQueue(settings.queue_name, settings.redis_url,
                                       RetryPolicy(settings.job_max_attempts, settings.job_backoff_ms))
            stack.push_async_callback(schedulers.close)
            recordings_repository = RecordingRepository(pool, queue=settings.queue_name)
            schedule_service = ScheduleService(ScheduleRepository(pool, queue=settings.queue_name),
                                               recordings_repository, schedulers, NetworkPolicy.from_settings(settings))
            app.state.schedules = schedule_service
            app.state.recordings = RecordingService(recordings_repository, run_service, schedule_service)
            app.state.flaky = FlakyService(FlakyRepository(pool, queue=settings.queue_name), recordings_repository,
                                           window_runs=settings.flaky_window_runs)
            app.state.history = HistoryService(RunHistory(pool, queue=settings.queue_name), recordings_repository,
                                               runs_repository, app.state.flaky)
            app.state.dead_letter = DeadLetterService(run_queue, run_service)
            app.state.baselines = BaselineService(BaselineRepository(pool), recordings_repository, runs_repository,
                                                  store)
            suite_flows = SuiteFlows(run_queue, settings.redis_url)
            stack.push_async_callback(suite_flows.close)
            app.state.suites = SuiteService(SuiteRepository(pool, queue=settings.queue_name), runs_repository,
                                            run_service, suite_flows, NetworkPolicy.from_settings(settings))
            # The queue's counts and workers, read from Redis at most once per TTL (owned here, shown with their age).
            app.state.health_snapshots = TtlCache[QueueSnapshot](QUEUE_SNAPSHOT_TTL_S)
            app.state.health = HealthService(pool, redis, run_queue, WorkerRegistry(redis, settings.queue_name),
                                             store, app.state.health_snapshots)
            app.state.stats = StatsService(StorageUsage(pool, queue=settings.queue_name))
            app.state.metrics = MetricsService(run_queue, WorkerRegistry(redis, settings.queue_name),
                                               RunMetricsReader(pool, queue=settings.queue_name), http_metrics)
            app.state.queue = run_queue
            app.state.queue_actions = QueueActions(pool, queue=settings.queue_name)
            app.state.auth = Authenticator(KeyRepository(pool), mode=settings.auth,
                                           session_ttl_s=settings.session_ttl_hours * 3600)
            app.state.rate_limiter = RateLimiter(redis, queue=settings.queue_name,
                                                 per_minute=settings.api_rate_limit_per_minute)
            app.state.events = event_hub
            app.state.webhooks = WebhookService(WebhookRepository(pool, queue=settings.queue_name),
                                                webhook_policy(settings))
            log.info("api started", queue=settings.queue_name, artifacts=describe_store(settings), auth=settings.auth)
            yield

    app = FastAPI(
        title="Reprise",
        version="0.1.0",
        description="Replay recorded browser tests at scale and keep the recordings.",
        lifespan=lifespan,
        docs_url=None,  # /docs is served without a CDN (api/docs.py)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.stream_slots = StreamSlots(settings.api_max_event_streams)
    install_error_handlers(app)
    # history first: its /api/runs/compare must be matched before /api/runs/{run_id}.
    routers = [module.router for module in (history, runs, artifacts, health, schema, queue, dead_letter, events,
                                            stats, recordings, schedules, metrics, session, keys, suites, webhooks,
                                            baselines, flaky)]
    declare_common_errors(routers, unlimited_prefixes=EXEMPT_PREFIXES)
    for router in routers:
        app.include_router(router)
    # What a 405's Allow header lists: every method of every route whose path matches (api/errors.py).
    app.state.method_table = [(route.path_regex, frozenset(route.methods or ())) for router in routers
                              for route in router.routes if isinstance(route, APIRoute)]
    install_dashboard(app)
    install_docs(app)
    # Outermost last: security headers on every response (a 413 or 429 too), then metrics, CORS (only with
    # API_CORS_ORIGINS), the body bound and the rate limit before any route runs.
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.api_max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Range"],
                           expose_headers=["Location", "Retry-After", "Content-Range"], max_age=600)
    app.add_middleware(HttpMetricsMiddleware, metrics=http_metrics)
    app.add_middleware(SecurityHeadersMiddleware)
    return app
