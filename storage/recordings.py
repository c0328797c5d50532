"""Saved recordings: a script people can run again and again from the dashboard (`POST .../runs`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from contract.options import DEFAULT_PRIORITY, Priority
from contract.runs import RunStatus
from storage.errors import RecordingNotFound
from storage.queries import load_queries
from storage.records import _FromRow


@dataclass(frozen=True)
class RecordingRecord(_FromRow):
    id: UUID
    name: str
    format: str
    script: dict[str, Any]
    step_count: int
    created_at: datetime
    priority: Priority
    last_run_id: UUID | None
    last_run_status: RunStatus | None
    last_run_number: int | None
    quarantined_at: datetime | None = None  # quarantined (migration 0018): its runs do not fail a suite or a submit
    quarantine_reason: str | None = None
    quarantined_by: str | None = None  # the API key's name, or `automatic`

    def __post_init__(self) -> None:
        if self.last_run_status is not None:
            object.__setattr__(self, "last_run_status", RunStatus(self.last_run_status))


class RecordingRepository:
    """Recordings are shared by every queue; `last_run_*` is the last run on this repository's queue."""

    def __init__(self, pool: asyncpg.Pool, *, queue: str) -> None:
        self._pool = pool
        self._sql = load_queries()
        self.queue = queue

    async def create(
        self, *, name: str, script_format: str, script: dict[str, Any], step_count: int,
        priority: Priority = DEFAULT_PRIORITY,
    ) -> RecordingRecord:
        row = await self._pool.fetchrow(
            self._sql["insert_recording"], uuid4(), name, script_format, script, step_count, priority
        )
        assert row is not None  # INSERT ... RETURNING
        return RecordingRecord.from_row(row)

    async def get(self, recording_id: UUID) -> RecordingRecord:
        row = await self._pool.fetchrow(self._sql["get_recording"], self.queue, recording_id)
        if row is None:
            raise RecordingNotFound(f"recording {recording_id} not found")
        return RecordingRecord.from_row(row)

    async def list_page(self, *, limit: int, offset: int,
                        name: str | None = None) -> tuple[list[RecordingRecord], int]:
        """Newest first; `name`: only recordings named exactly so (names are not unique)."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(self._sql["list_recordings"], self.queue, limit, offset, name)
            total = await connection.fetchval(self._sql["count_recordings"], name)
        return [RecordingRecord.from_row(row) for row in rows], int(total)

    async def delete(self, recording_id: UUID) -> list[UUID]:
        """Delete it, and stop its schedules (every queue's) in the same transaction, with the reason
        (`recording <name> was deleted`); returns this queue's schedules it stopped (their BullMQ schedulers are
        the caller's to remove)."""
        async with self._pool.acquire() as connection, connection.transaction():
            name = await connection.fetchval(self._sql["lock_recording"], recording_id)
            if name is None:
                raise RecordingNotFound(f"recording {recording_id} not found")
            stopped = await connection.fetch(self._sql["stop_recording_schedules"], recording_id,
                                             deleted_recording_reason(name))
            await connection.execute(self._sql["delete_recording"], recording_id)
        return [row["id"] for row in stopped if row["queue"] == self.queue]


def deleted_recording_reason(name: str) -> str:
    """What a schedule whose recording is gone says (stoppedReason)."""
    return f"recording {name} was deleted"
