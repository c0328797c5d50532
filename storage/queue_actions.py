"""Who paused or resumed a queue, and when (migration 0009): `GET /api/queue` shows the latest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from storage.queries import load_queries
from storage.records import _FromRow


@dataclass(frozen=True)
class QueueActionRecord(_FromRow):
    action: str
    actor: str
    at: datetime


class QueueActions:
    def __init__(self, pool: asyncpg.Pool, *, queue: str) -> None:
        self._pool = pool
        self._sql = load_queries()
        self.queue = queue

    async def record(self, action: str, actor: str) -> None:
        await self._pool.execute(self._sql["insert_queue_action"], self.queue, action, actor)

    async def latest(self) -> QueueActionRecord | None:
        row = await self._pool.fetchrow(self._sql["last_queue_action"], self.queue)
        return QueueActionRecord.from_row(row) if row is not None else None
