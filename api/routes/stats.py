"""`GET /api/stats/throughput`: finished runs over the last hour or day, for the dashboard's chart;
`GET /api/stats/storage`: what this queue's artifacts take, and how that grows."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.auth import needs
from api.deps import RunServiceDep, StatsServiceDep
from api.schemas import StorageStats, Throughput, ThroughputBucket
from api.views import storage_stats
from contract.access import Scope

router = APIRouter(prefix="/api/stats", tags=["stats"])
WINDOWS = {"hour": (3600, 60), "day": (86_400, 3600)}


@router.get("/throughput", response_model=Throughput, dependencies=needs(Scope.READ))
async def throughput(runs: RunServiceDep, window: Annotated[Literal["hour", "day"], Query()] = "hour") -> Throughput:
    """This queue's runs finished per minute over the last hour, or per hour over the last day, by status."""
    window_s, bucket_s = WINDOWS[window]
    rows = await runs.throughput(window_s=window_s, bucket_s=bucket_s)
    return Throughput(window=window, bucket_seconds=bucket_s, buckets=[ThroughputBucket(**row) for row in rows])


@router.get("/storage", response_model=StorageStats, dependencies=needs(Scope.READ))
async def storage(stats: StatsServiceDep) -> StorageStats:
    """Bytes and counts of this queue's artifacts still in the store, by kind and by run status; bytes stored
    per UTC day over the last 7 days (every day present); the last retention pass's bytes freed."""
    return storage_stats(await stats.storage())
