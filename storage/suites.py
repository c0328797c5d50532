"""Suites and suite runs (migration 0015): a suite names saved recordings and the options their runs share; a suite
run is one child run per recording, created with its children in one transaction, its result written once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from contract.options import Priority
from contract.runs import RunStatus
from contract.suites import SuiteRunStatus, suite_verdict
from storage.errors import ChildrenPending, RecordingsMissing, SuiteNameTaken, SuiteNotFound, SuiteRunNotFound
from storage.queries import load_queries
from storage.records import RunRecord, _FromRow
from storage.runs import NewRun

COUNTED = (RunStatus.PASSED, RunStatus.FAILED, RunStatus.ERROR, RunStatus.CANCELLED)


@dataclass(frozen=True)
class SuiteRecord(_FromRow):
    id: UUID
    name: str
    defaults: dict[str, Any]  # the RunOptions fields the suite sets (camelCase JSON)
    recording_ids: list[UUID]
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    last_run_id: UUID | None
    last_run_status: SuiteRunStatus | None
    last_run_number: int | None


@dataclass(frozen=True)
class SuiteRunRecord(_FromRow):
    id: UUID
    number: int
    queue: str
    suite_id: UUID | None
    suite_name: str
    status: str  # as stored: queued until decided
    current_status: str  # `running` once a child started
    options: dict[str, Any]
    passed: int
    failed: int
    error: int
    cancelled: int
    quarantined: int
    live_passed: int
    live_failed: int
    live_error: int
    live_cancelled: int
    live_quarantined: int
    total: int
    cancel_requested: bool
    queued_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def state(self) -> SuiteRunStatus:
        return SuiteRunStatus(self.current_status)

    @property
    def counts(self) -> dict[str, int]:
        """The children by final status: as decided once final, as they stand before. `quarantined`: failed and
        error children of quarantined recordings, not counted in `failed` and `error`."""
        if self.finished_at is not None:
            return {"passed": self.passed, "failed": self.failed, "error": self.error, "cancelled": self.cancelled,
                    "quarantined": self.quarantined}
        return {"passed": self.live_passed, "failed": self.live_failed, "error": self.live_error,
                "cancelled": self.live_cancelled, "quarantined": self.live_quarantined}

    @property
    def duration_ms(self) -> int | None:
        if self.finished_at is None:
            return None
        return int((self.finished_at - (self.started_at or self.created_at)).total_seconds() * 1000)


@dataclass(frozen=True)
class SuiteRecording:
    """A recording as a suite run reads it."""

    id: UUID
    name: str
    script: dict[str, Any]
    priority: Priority


class SuiteRepository:
    """Suites are shared by every queue; suite runs and `last_run_*` are this repository's queue's."""

    def __init__(self, pool: asyncpg.Pool, *, queue: str) -> None:
        self._pool = pool
        self._sql = load_queries()
        self.queue = queue

    async def create(self, *, name: str, recording_ids: Sequence[UUID], defaults: dict[str, Any],
                     created_by: str | None) -> SuiteRecord:
        """SuiteNameTaken, or RecordingsMissing (nothing stored)."""
        async with self._pool.acquire() as connection, connection.transaction():
            await self._check_recordings(connection, recording_ids)
            suite_id = await connection.fetchval(self._sql["insert_suite"], uuid4(), name, defaults, created_by)
            if suite_id is None:
                raise SuiteNameTaken(f"a suite named {name!r} exists already")
            await connection.execute(self._sql["set_suite_recordings"], suite_id, list(recording_ids))
        return await self.get(suite_id)

    async def _check_recordings(self, connection: PoolConnectionProxy, recording_ids: Sequence[UUID]) -> None:
        missing = {row["id"] for row in await connection.fetch(self._sql["missing_recordings"], list(recording_ids))}
        if missing:
            positions = [index for index, recording_id in enumerate(recording_ids) if recording_id in missing]
            raise RecordingsMissing(f"no saved recording {', '.join(str(recording_ids[i]) for i in positions)}",
                                    positions)

    async def get(self, suite_id: UUID) -> SuiteRecord:
        row = await self._pool.fetchrow(self._sql["get_suite"], self.queue, suite_id)
        if row is None:
            raise SuiteNotFound(f"suite {suite_id} not found")
        return SuiteRecord.from_row(row)

    async def list_page(self, *, name: str | None, limit: int, offset: int) -> tuple[list[SuiteRecord], int]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(self._sql["list_suites"], self.queue, name, limit, offset)
            total = await connection.fetchval(self._sql["count_suites"], name)
        return [SuiteRecord.from_row(row) for row in rows], int(total)

    async def update(self, suite_id: UUID, *, name: str | None, recording_ids: Sequence[UUID] | None,
                     defaults: dict[str, Any] | None) -> SuiteRecord:
        async with self._pool.acquire() as connection, connection.transaction():
            if recording_ids is not None:
                await self._check_recordings(connection, recording_ids)
            try:
                updated = await connection.fetchval(self._sql["update_suite"], suite_id, name, defaults)
            except asyncpg.UniqueViolationError as error:
                raise SuiteNameTaken(f"a suite named {name!r} exists already") from error
            if updated is None:
                raise SuiteNotFound(f"suite {suite_id} not found")
            if recording_ids is not None:
                await connection.execute(self._sql["clear_suite_recordings"], suite_id)
                await connection.execute(self._sql["set_suite_recordings"], suite_id, list(recording_ids))
        return await self.get(suite_id)

    async def delete(self, suite_id: UUID) -> None:
        if await self._pool.fetchval(self._sql["delete_suite"], suite_id) is None:
            raise SuiteNotFound(f"suite {suite_id} not found")

    async def recordings_to_run(self, suite_id: UUID) -> list[SuiteRecording]:
        rows = await self._pool.fetch(self._sql["suite_recordings_to_run"], suite_id)
        return [SuiteRecording(id=row["id"], name=row["name"], script=row["script"], priority=row["priority"])
                for row in rows]

    async def start_run(self, suite: SuiteRecord, children: Sequence[NewRun], *, options: dict[str, Any],
                        queued_by: str | None) -> tuple[UUID, list[RunRecord]]:
        """The suite run and its child runs (`queued`, in order), in one transaction: (its id, the children)."""
        suite_run_id = uuid4()
        ids = [uuid4() for _ in children]
        columns = (ids, [run.name for run in children], [run.script_format for run in children],
                   [json.dumps(run.script) for run in children], [json.dumps(run.options) for run in children],
                   [json.dumps(run.import_warnings) for run in children], [run.recording_id for run in children])
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(self._sql["insert_suite_run"], self.queue, suite_run_id, suite.id, suite.name,
                                     options, queued_by)
            rows = await connection.fetch(self._sql["insert_suite_children"], self.queue, *columns, queued_by,
                                          suite_run_id)
        by_id = {row["id"]: RunRecord.from_row(row) for row in rows}
        return suite_run_id, [by_id[run_id] for run_id in ids]

    async def get_run(self, suite_run_id: UUID) -> SuiteRunRecord:
        row = await self._pool.fetchrow(self._sql["get_suite_run"], self.queue, suite_run_id)
        if row is None:
            raise SuiteRunNotFound(f"suite run {suite_run_id} not found")
        return SuiteRunRecord.from_row(row)

    async def runs_page(self, *, suite_id: UUID | None, limit: int, offset: int,
                        ) -> tuple[list[SuiteRunRecord], int]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(self._sql["list_suite_runs"], self.queue, suite_id, limit, offset)
            total = await connection.fetchval(self._sql["count_suite_runs"], self.queue, suite_id)
        return [SuiteRunRecord.from_row(row) for row in rows], int(total)

    async def children(self, suite_run_id: UUID) -> list[RunRecord]:
        rows = await self._pool.fetch(self._sql["suite_run_children"], self.queue, suite_run_id)
        return [RunRecord.from_row(row) for row in rows]

    async def request_cancel(self, suite_run_id: UUID) -> bool:
        """Mark it cancelled-by-request (its result will say `cancelled`); False when it is final already.
        SuiteRunNotFound when there is no such suite run here."""
        if await self._pool.fetchval(self._sql["request_suite_cancel"], self.queue, suite_run_id) is not None:
            return True
        if await self._pool.fetchval(self._sql["suite_run_exists"], self.queue, suite_run_id) is None:
            raise SuiteRunNotFound(f"suite run {suite_run_id} not found")
        return False

    async def overdue(self, grace_s: float) -> list[UUID]:
        """Suite runs still undecided though every child has been final for `grace_s` seconds."""
        return [row["id"] for row in await self._pool.fetch(self._sql["overdue_suite_runs"], self.queue, grace_s)]

    async def finish(self, suite_run_id: UUID) -> SuiteRunStatus | None:
        """Decide the suite's result from its children, once (`contract.suites.suite_verdict`): the status written,
        or None when the suite run was final already (nothing written). ChildrenPending when a child is not final
        yet (nothing written)."""
        async with self._pool.acquire() as connection, connection.transaction():
            locked = await connection.fetchrow(self._sql["lock_suite_run"], self.queue, suite_run_id)
            if locked is None:
                raise SuiteRunNotFound(f"suite run {suite_run_id} not found")
            if SuiteRunStatus(locked["status"]) not in (SuiteRunStatus.QUEUED, SuiteRunStatus.RUNNING):
                return None
            counts: dict[RunStatus, int] = {}
            quarantined = 0
            for row in await connection.fetch(self._sql["suite_children_by_status"], suite_run_id):
                if row["quarantined"]:
                    quarantined += int(row["runs"])
                else:
                    counts[RunStatus(row["status"])] = counts.get(RunStatus(row["status"]), 0) + int(row["runs"])
            pending = sum(runs for status, runs in counts.items() if status not in COUNTED)
            if pending:
                raise ChildrenPending(pending)
            status = suite_verdict(counts, cancel_requested=locked["cancel_requested"], quarantined=quarantined)
            await connection.execute(self._sql["finish_suite_run"], self.queue, suite_run_id, status,
                                     *(counts.get(counted, 0) for counted in COUNTED), quarantined)
        return status

