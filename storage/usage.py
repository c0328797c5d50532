"""What a queue's artifacts take in the store: bytes and counts by kind and run status (those still there),
what was stored per day, and the last retention pass (`GET /api/stats/storage`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import asyncpg

from contract.runs import RunStatus
from storage.queries import load_queries
from storage.records import RetentionPassRecord, _FromRow

GROWTH_DAYS = 7


@dataclass(frozen=True)
class UsageRecord(_FromRow):
    """Artifacts of one kind whose runs ended (or stand) in one status, still in the store."""

    kind: str
    status: RunStatus
    artifacts: int
    bytes: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", RunStatus(self.status))


@dataclass(frozen=True)
class GrowthRecord(_FromRow):
    """What the queue's runs stored on one UTC day (artifacts removed since included)."""

    day: date
    artifacts: int
    bytes: int


class StorageUsage:
    """One queue's artifact usage, read from the run_artifacts rows (the store is not listed)."""

    def __init__(self, pool: asyncpg.Pool, *, queue: str) -> None:
        self._pool = pool
        self._sql = load_queries()
        self.queue = queue

    async def by_kind_and_status(self) -> list[UsageRecord]:
        rows = await self._pool.fetch(self._sql["artifact_usage"], self.queue)
        return [UsageRecord.from_row(row) for row in rows]

    async def growth(self, days: int = GROWTH_DAYS) -> list[GrowthRecord]:
        """The last `days` UTC days, today included, oldest first, every day present."""
        rows = await self._pool.fetch(self._sql["artifact_growth"], self.queue, days)
        return [GrowthRecord.from_row(row) for row in rows]

    async def last_pass(self) -> RetentionPassRecord | None:
        row = await self._pool.fetchrow(self._sql["last_retention_pass"], self.queue)
        return RetentionPassRecord.from_row(row) if row is not None else None
