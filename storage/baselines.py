"""Visual baselines (migration 0019): a saved recording's approved images of its compared `screenshot` steps,
one per step and viewport key (contract/visual.py). The rows live in Postgres, the images in the artifact store
under `files/baselines/<recording>/` (`storage.artifacts.baseline_key`), copied there from the approved run's
`visual-actual` artifact so that the run's retention never takes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from storage.queries import load_queries
from storage.records import _FromRow


@dataclass(frozen=True)
class BaselineRecord(_FromRow):
    id: int
    recording_id: UUID
    step_index: int
    viewport_key: str
    storage_key: str
    width: int
    height: int
    size_bytes: int
    run_id: UUID | None
    approved_by: str | None
    approved_at: datetime


@dataclass(frozen=True)
class NewBaseline:
    recording_id: UUID
    step_index: int
    viewport_key: str
    storage_key: str
    width: int
    height: int
    size_bytes: int
    run_id: UUID
    approved_by: str | None


class BaselineRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._sql = load_queries()

    async def of_recording(self, recording_id: UUID) -> list[BaselineRecord]:
        rows = await self._pool.fetch(self._sql["list_baselines"], recording_id)
        return [BaselineRecord.from_row(row) for row in rows]

    async def get(self, recording_id: UUID, baseline_id: int) -> BaselineRecord | None:
        row = await self._pool.fetchrow(self._sql["get_baseline"], recording_id, baseline_id)
        return BaselineRecord.from_row(row) if row is not None else None

    async def approve(self, new: NewBaseline) -> tuple[BaselineRecord, str | None]:
        """The baseline now, and the storage key of the image it replaced (None: it is the first)."""
        row = await self._pool.fetchrow(
            self._sql["approve_baseline"], new.recording_id, new.step_index, new.viewport_key, new.storage_key,
            new.width, new.height, new.size_bytes, new.run_id, new.approved_by)
        assert row is not None  # an upsert returns its row
        return BaselineRecord.from_row(row), row["replaced_key"]
