"""Health: a cheap liveness answer and a detailed view of every dependency, the queue and the workers."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import needs
from api.deps import HealthServiceDep
from api.schemas import HealthDetail
from api.views import health_detail
from contract.access import Scope

router = APIRouter(prefix="/api/health", tags=["health"])


@router.get("")
async def health(service: HealthServiceDep) -> JSONResponse:
    """200 when Postgres and Redis answer, 503 otherwise."""
    report = await service.dependencies()
    body = {"status": "ok" if report.ok else "degraded", "database": report.database.ok, "redis": report.redis.ok}
    return JSONResponse(body, status_code=200 if report.ok else 503)


@router.get("/live")
async def live() -> dict[str, str]:
    """200 while this process serves requests, whatever its dependencies do (a liveness probe: restarting the
    API does not bring Postgres or Redis back)."""
    return {"status": "ok"}


@router.get("/detailed", response_model=HealthDetail, dependencies=needs(Scope.READ))
async def health_detailed(service: HealthServiceDep) -> JSONResponse:
    """Database and Redis reachability with latency, queue counts, and the workers alive now."""
    report = await service.detailed()
    return JSONResponse(health_detail(report).model_dump(mode="json", by_alias=True),
                        status_code=200 if report.ok else 503)
