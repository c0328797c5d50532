"""The FastAPI application: `create_app(settings)` builds it; the lifespan owns every connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from redis.asyncio import Redis

from api.deps import Services
from api.errors import install_error_handlers
from api.events import EventHub
from api.routes import dead_letter, events, health, queue, recordings, runs, schema, stats
from api.routes.dashboard import install_dashboard
from contract.settings import Settings
from jobs.queue import RetryPolicy, RunQueue
from jobs.registry import WorkerRegistry
from storage import LocalArtifactStore, RecordingRepository, RunRepository, create_pool, migrate

log = structlog.get_logger(__name__)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        applied = await migrate(settings.database_url)
        if applied:
            log.info("database migrated", versions=applied)
        pool = await create_pool(settings.database_url)
        redis = Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=5,
                               socket_connect_timeout=5)
        event_hub = EventHub(settings.database_url)
        event_hub.start()
        queue = RunQueue(settings.queue_name, settings.redis_url, redis,
                         RetryPolicy(settings.job_max_attempts, settings.job_backoff_ms))
        app.state.services = Services(
            settings=settings,
            pool=pool,
            redis=redis,
            queue=queue,
            runs=RunRepository(pool),
            artifacts=LocalArtifactStore(
                settings.video_storage_path, settings.screenshot_storage_path, settings.artifact_storage_path
            ),
            registry=WorkerRegistry(redis, settings.queue_name),
            recordings=RecordingRepository(pool),
            events=event_hub,
        )
        log.info("api started", queue=settings.queue_name)
        try:
            yield
        finally:
            await event_hub.close()
            await queue.close()
            await redis.aclose()
            await pool.close()

    app = FastAPI(
        title="Reprise",
        version="0.1.0",
        description="Replay recorded browser tests at scale and keep the recordings.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(runs.router)
    app.include_router(health.router)
    app.include_router(schema.router)
    app.include_router(queue.router)
    app.include_router(dead_letter.router)
    app.include_router(events.router)
    app.include_router(stats.router)
    app.include_router(recordings.router)
    install_dashboard(app)
    return app
