"""The FastAPI application: `create_app(settings)` builds it; the lifespan owns every connection.

The API never touches a browser: it imports the recording formats (`runner.formats`) and the contract,
never the Playwright replay (an import-linter contract in `make test` holds it to that).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import structlog
from fastapi import FastAPI
from redis.asyncio import Redis

from api.auth import Authenticator
from api.errors import install_error_handlers
from api.events import EventHub
from api.http_metrics import HttpMetrics, HttpMetricsMiddleware
from api.routes import (
    artifacts,
    dead_letter,
    events,
    health,
    keys,
    metrics,
    queue,
    recordings,
    runs,
    schema,
    session,
    stats,
)
from api.routes.dashboard import install_dashboard
from api.services.artifacts import ArtifactService
from api.services.dead_letter import DeadLetterService
from api.services.health import HealthService
from api.services.metrics import MetricsService
from api.services.recordings import RecordingService
from api.services.runs import RunService
from api.services.stats import StatsService
from contract.network import NetworkPolicy
from contract.settings import Settings
from jobs.queue import RetryPolicy, RunQueue
from jobs.registry import WorkerRegistry
from storage import (
    KeyRepository,
    QueueActions,
    RecordingRepository,
    RunMetricsReader,
    RunRepository,
    StorageUsage,
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
            run_service = RunService(runs_repository, run_queue, NetworkPolicy.from_settings(settings))
            app.state.runs = run_service
            app.state.artifacts = ArtifactService(runs_repository, store, delivery=settings.artifact_delivery,
                                                  url_ttl_s=settings.artifact_url_ttl_s)
            app.state.recordings = RecordingService(RecordingRepository(pool, queue=settings.queue_name), run_service)
            app.state.dead_letter = DeadLetterService(run_queue, run_service)
            app.state.health = HealthService(pool, redis, run_queue, WorkerRegistry(redis, settings.queue_name), store)
            app.state.stats = StatsService(StorageUsage(pool, queue=settings.queue_name))
            app.state.metrics = MetricsService(run_queue, WorkerRegistry(redis, settings.queue_name),
                                               RunMetricsReader(pool, queue=settings.queue_name), http_metrics)
            app.state.queue = run_queue
            app.state.queue_actions = QueueActions(pool, queue=settings.queue_name)
            app.state.auth = Authenticator(KeyRepository(pool), mode=settings.auth,
                                           session_ttl_s=settings.session_ttl_hours * 3600)
            app.state.events = event_hub
            log.info("api started", queue=settings.queue_name, artifacts=describe_store(settings), auth=settings.auth)
            yield

    app = FastAPI(
        title="Reprise",
        version="0.1.0",
        description="Replay recorded browser tests at scale and keep the recordings.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for module in (runs, artifacts, health, schema, queue, dead_letter, events, stats, recordings, metrics, session,
                   keys):
        app.include_router(module.router)
    install_dashboard(app)
    app.add_middleware(HttpMetricsMiddleware, metrics=http_metrics)
    return app
