"""Schedule rows in Postgres (migration 0012), one queue's each: create, read, change, and a tick's run.

A tick (`ScheduleRepository.tick`) holds the schedule's row locked from the moment it reads it until its run is
recorded or it is skipped, so two ticks of one schedule (two workers, a tick retried) are taken one after the
other and never both find "nothing running".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from contract.options import DEFAULT_PRIORITY, Priority, RunOptions
from contract.runs import RunStatus
from contract.schedules import ScheduleState, ScheduleTiming
from storage.errors import InvalidTransition, RecordingNotFound, RunNotFound, ScheduleNotFound
from storage.queries import load_queries
from storage.records import RunRecord, _FromRow
from storage.runs import NewRun, insert_run_args


@dataclass(frozen=True)
class ScheduleRecord(_FromRow):
    id: UUID
    queue: str
    name: str
    recording_id: UUID | None  # None once the recording is deleted (the schedule is stopped then)
    recording_name: str
    cron: str | None
    timezone: str | None
    every_ms: int | None
    options: dict[str, Any]  # RunOptions.stored()
    skip_if_running: bool
    state: ScheduleState
    stopped_reason: str | None
    runs_made: int
    ticks_skipped: int
    last_tick_at: datetime | None
    last_skip_reason: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    recording_priority: Priority | None = None  # None once the recording is deleted
    last_run_id: UUID | None = None
    last_run_number: int | None = None
    last_run_status: RunStatus | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", ScheduleState(self.state))
        if self.last_run_status is not None:
            object.__setattr__(self, "last_run_status", RunStatus(self.last_run_status))

    @property
    def timing(self) -> ScheduleTiming:
        return ScheduleTiming(cron=self.cron, timezone=self.timezone, every_ms=self.every_ms)

    def run_options(self) -> RunOptions:
        return RunOptions.model_validate(self.options)

    @property
    def priority(self) -> Priority:
        """Its runs' priority: the options', else the recording's."""
        chosen: Priority = self.options.get("priority") or self.recording_priority or DEFAULT_PRIORITY
        return chosen


@dataclass(frozen=True)
class NewSchedule:
    name: str
    recording_id: UUID
    recording_name: str
    timing: ScheduleTiming
    options: dict[str, Any]  # RunOptions.stored()
    skip_if_running: bool = True
    created_by: str | None = None


@dataclass(frozen=True)
class ScheduleChange:
    """A schedule's fields after a change (all of them, the unchanged ones as they were)."""

    name: str
    timing: ScheduleTiming
    options: dict[str, Any]
    skip_if_running: bool


@dataclass(frozen=True)
class TickedSchedule:
    """What a tick reads of its schedule, under the lock: the schedule and its recording (None once deleted)."""

    id: UUID
    name: str
    state: ScheduleState
    recording_id: UUID | None
    recording_name: str
    options: dict[str, Any]
    skip_if_running: bool
    recording_script: dict[str, Any] | None
    recording_priority: Priority | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", ScheduleState(self.state))


class Tick:
    """One tick of one schedule, inside its transaction (the schedule's row locked)."""

    def __init__(self, connection: asyncpg.Connection | PoolConnectionProxy, queue: str,
                 schedule: TickedSchedule | None) -> None:
        self._connection = connection
        self._sql = load_queries()
        self._queue = queue
        self.schedule = schedule  # None: no such schedule on this queue (deleted)

    def _id(self) -> UUID:
        assert self.schedule is not None, "the schedule is gone"
        return self.schedule.id

    async def unfinished_run(self) -> int | None:
        """The number of the schedule's oldest run still queued or running, if one is."""
        number = await self._connection.fetchval(self._sql["unfinished_schedule_run"], self._queue, self._id())
        return int(number) if number is not None else None

    async def skip(self, reason: str) -> None:
        """Count the tick as skipped, with why."""
        await self._connection.execute(self._sql["count_skipped_tick"], self._id(), reason)

    async def stop(self, reason: str) -> None:
        await self._connection.execute(self._sql["stop_schedule"], self._queue, self._id(), reason)

    async def record(self, new_run: NewRun) -> tuple[RunRecord, bool]:
        """Insert the tick's run and count it; (the run, False) when its job already has one."""
        row = await self._connection.fetchrow(self._sql["insert_run"], *insert_run_args(self._queue, new_run))
        if row is not None:
            await self._connection.execute(self._sql["count_schedule_run"], self._id())
            return RunRecord.from_row(row), True
        existing = await self._connection.fetchrow(self._sql["get_run_by_job"], self._queue, new_run.job_id)
        if existing is None:
            raise RunNotFound(f"the run of job {new_run.job_id} vanished")
        return RunRecord.from_row(existing), False


class ScheduleRepository:
    """One queue's schedules."""

    def __init__(self, pool: asyncpg.Pool, *, queue: str) -> None:
        self._pool = pool
        self._sql = load_queries()
        self.queue = queue

    async def create(self, new: NewSchedule) -> ScheduleRecord:
        """RecordingNotFound when the recording was deleted meanwhile."""
        timing = new.timing
        try:
            schedule_id = await self._pool.fetchval(
                self._sql["insert_schedule"], self.queue, uuid4(), new.name, new.recording_id, new.recording_name,
                timing.cron, timing.timezone, timing.every_ms, new.options, new.skip_if_running, new.created_by)
        except asyncpg.ForeignKeyViolationError:
            raise RecordingNotFound(f"recording {new.recording_id} not found") from None
        return await self.get(schedule_id)

    async def get(self, schedule_id: UUID) -> ScheduleRecord:
        row = await self._pool.fetchrow(self._sql["get_schedule"], self.queue, schedule_id)
        if row is None:
            raise ScheduleNotFound(f"schedule {schedule_id} not found")
        return ScheduleRecord.from_row(row)

    async def list_page(self, *, limit: int, offset: int) -> tuple[list[ScheduleRecord], int]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(self._sql["list_schedules"], self.queue, limit, offset)
            total = await connection.fetchval(self._sql["count_schedules"], self.queue)
        return [ScheduleRecord.from_row(row) for row in rows], int(total)

    async def update(self, schedule_id: UUID, change: ScheduleChange) -> ScheduleRecord:
        """InvalidTransition for a stopped schedule (its recording is gone: nothing to change it to run)."""
        timing = change.timing
        updated = await self._pool.fetchval(
            self._sql["update_schedule"], self.queue, schedule_id, change.name, timing.cron, timing.timezone,
            timing.every_ms, change.options, change.skip_if_running)
        if updated is None:
            current = await self.get(schedule_id)
            raise InvalidTransition(f"schedule {schedule_id} is stopped ({current.stopped_reason}); it cannot "
                                    "be changed, only deleted")
        return await self.get(schedule_id)

    async def set_state(self, schedule_id: UUID, state: ScheduleState) -> ScheduleRecord:
        """Pause (active -> paused) or resume (paused -> active); setting the state it has changes nothing.
        InvalidTransition for a stopped schedule."""
        movable = [ScheduleState.ACTIVE.value, ScheduleState.PAUSED.value]
        updated = await self._pool.fetchval(self._sql["set_schedule_state"], self.queue, schedule_id, state.value,
                                            movable)
        if updated is None:
            current = await self.get(schedule_id)
            raise InvalidTransition(f"schedule {schedule_id} is stopped ({current.stopped_reason}); it cannot be "
                                    f"{'resumed' if state == ScheduleState.ACTIVE else 'paused'}")
        return await self.get(schedule_id)

    async def delete(self, schedule_id: UUID) -> None:
        """Its runs stay, unlinked."""
        if await self._pool.fetchval(self._sql["delete_schedule"], self.queue, schedule_id) is None:
            raise ScheduleNotFound(f"schedule {schedule_id} not found")

    @asynccontextmanager
    async def tick(self, schedule_id: UUID) -> AsyncIterator[Tick]:
        """The schedule locked for one tick (until the block ends: committed, or rolled back on an error)."""
        async with self._pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(self._sql["lock_schedule_for_tick"], self.queue, schedule_id)
            yield Tick(connection, self.queue, TickedSchedule(**dict(row)) if row is not None else None)
