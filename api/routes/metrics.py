"""`GET /metrics`: Prometheus metrics (what they are, and how to aggregate them across replicas:
api.services.metrics)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.auth import needs
from api.deps import MetricsServiceDep
from contract.access import Scope

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response, dependencies=needs(Scope.READ))
async def metrics(service: MetricsServiceDep, request: Request) -> Response:
    """The queue's job counts, live workers, runs finished and their durations (the same from every replica),
    and this process's HTTP latency, in Prometheus text format (OpenMetrics when asked for)."""
    body, content_type = await service.exposition(request.headers.get("accept", ""))
    return Response(body, media_type=content_type)
