"""Health: whether Postgres and Redis answer (cheap), and the detailed view with latencies, the queue's job
counts and the workers alive now (from their heartbeats: BullMQ's own worker list cannot see Python workers
from Node tools and the other way round).

The probes (Postgres, Redis, the artifact store) and `paused` are read at every call; the job counts and the
workers (several Redis calls, a SCAN of the keyspace for the heartbeats) are read at most once per
`QUEUE_SNAPSHOT_TTL_S` and shown with their age (`countsAgeMs`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg
from redis.asyncio import Redis

from api.ttl_cache import TtlCache
from jobs.queue import RunQueue
from jobs.registry import WorkerRegistry
from storage import ArtifactStore

PROBE_TIMEOUT_S = 2.0
QUEUE_SNAPSHOT_TTL_S = 1.0


@dataclass(frozen=True)
class QueueSnapshot:
    """What the detailed view reads of the queue at most once per TTL."""

    counts: dict[str, int]
    workers: list[dict[str, Any]]


@dataclass(frozen=True)
class Probe:
    ok: bool
    latency_ms: float | None
    error: str | None = None


@dataclass(frozen=True)
class HealthReport:
    database: Probe
    redis: Probe
    queue_name: str
    artifact_store: Probe | None = None  # in the detailed view
    artifact_store_kind: str | None = None
    paused: bool | None = None
    counts: dict[str, int] = field(default_factory=dict)
    workers: list[dict[str, Any]] = field(default_factory=list)
    counts_age_ms: int | None = None  # how old `counts` and `workers` are (read at most once per TTL)

    @property
    def ok(self) -> bool:
        store_ok = self.artifact_store is None or self.artifact_store.ok
        return self.database.ok and self.redis.ok and store_ok


async def _probe(check: Callable[[], Awaitable[Any]]) -> Probe:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), PROBE_TIMEOUT_S)
    except Exception as error:
        return Probe(ok=False, latency_ms=None, error=f"{type(error).__name__}: {error}".strip())
    return Probe(ok=True, latency_ms=round((time.perf_counter() - started) * 1000, 2))


class HealthService:
    def __init__(self, pool: asyncpg.Pool, redis: Redis, queue: RunQueue, registry: WorkerRegistry,
                 store: ArtifactStore, snapshots: TtlCache[QueueSnapshot]) -> None:
        self._store = store
        self._snapshots = snapshots
        self._pool = pool
        self._redis = redis
        self._queue = queue
        self._registry = registry

    async def dependencies(self) -> HealthReport:
        """Both dependencies probed (at once), nothing more (the liveness answer)."""
        database, redis = await asyncio.gather(_probe(lambda: self._pool.fetchval("SELECT 1")),
                                               _probe(self._redis.ping))
        return HealthReport(database=database, redis=redis, queue_name=self._queue.name)

    async def detailed(self) -> HealthReport:
        """Every probe at once; then, when Redis answers, `paused` and the queue's snapshot (at most TTL old)."""
        report, store = await asyncio.gather(self.dependencies(), _probe(self._store.check))
        detail = replace(report, artifact_store=store, artifact_store_kind=self._store.kind)
        if not report.redis.ok:
            return detail
        (snapshot, age_s), paused = await asyncio.gather(self._snapshots.get(self._queue_snapshot),
                                                         self._queue.is_paused())
        return replace(detail, paused=paused, counts=snapshot.counts, workers=snapshot.workers,
                       counts_age_ms=round(age_s * 1000))

    async def _queue_snapshot(self) -> QueueSnapshot:
        return QueueSnapshot(counts=await self._queue.counts(), workers=await self._registry.live_workers())
