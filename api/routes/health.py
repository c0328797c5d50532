"""Health: a cheap liveness answer and a detailed view of every dependency, the queue and the workers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ServicesDep
from api.schemas import DependencyHealth, HealthDetail, QueueHealth

router = APIRouter(prefix="/api/health", tags=["health"])
PROBE_TIMEOUT_S = 2.0


async def _probe(check: Callable[[], Awaitable[Any]]) -> DependencyHealth:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), PROBE_TIMEOUT_S)
    except Exception as error:
        return DependencyHealth(ok=False, latency_ms=None, error=f"{type(error).__name__}: {error}".strip())
    return DependencyHealth(ok=True, latency_ms=round((time.perf_counter() - started) * 1000, 2))


@router.get("")
async def health(services: ServicesDep) -> JSONResponse:
    """200 when Postgres and Redis answer, 503 otherwise."""
    database = await _probe(lambda: services.pool.fetchval("SELECT 1"))
    redis = await _probe(services.redis.ping)
    ok = database.ok and redis.ok
    body = {"status": "ok" if ok else "degraded", "database": database.ok, "redis": redis.ok}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/detailed", response_model=HealthDetail)
async def health_detailed(services: ServicesDep) -> JSONResponse:
    """Database and Redis reachability with latency, queue counts, and the workers alive now."""
    database = await _probe(lambda: services.pool.fetchval("SELECT 1"))
    redis = await _probe(services.redis.ping)
    counts: dict[str, int] = {}
    paused: bool | None = None
    workers: list[dict[str, Any]] = []
    if redis.ok:
        counts = await services.queue.counts()
        paused = await services.queue.is_paused()
        workers = await services.registry.live_workers()
    ok = database.ok and redis.ok
    detail = HealthDetail(
        status="ok" if ok else "degraded",
        database=database,
        redis=redis,
        queue=QueueHealth(name=services.queue.name, paused=paused, counts=counts),
        workers=workers,
    )
    return JSONResponse(detail.model_dump(mode="json", by_alias=True), status_code=200 if ok else 503)
