"""Schedules: a saved recording run on a cron pattern or every N ms, by BullMQ job schedulers (jobs/schedules.py);
the rows say what each tick runs (storage/schedules.py), the worker makes the tick's run (worker/schedules.py).

The row is written first and the scheduler after, so a tick never finds its schedule missing or paused for a
moment it was not; when Redis refuses, the row goes back as it was and the answer is a 503.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

import structlog
from pydantic import ValidationError

from api.errors import InvalidField, ServiceUnavailable
from api.schemas import ScheduleCreate, ScheduleUpdate
from contract.network import NetworkPolicy
from contract.options import RunOptions
from contract.schedules import ScheduleState, ScheduleTiming
from jobs.schedules import ScheduleQueue
from runner.formats.admission import admit
from storage import (
    NewSchedule,
    RecordingNotFound,
    RecordingRepository,
    ScheduleChange,
    ScheduleRecord,
    ScheduleRepository,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class ScheduleView:
    schedule: ScheduleRecord
    next_tick_ms: int | None  # from BullMQ; None when it has no scheduler (paused, stopped)


def merged_timing(current: ScheduleTiming, change: ScheduleUpdate) -> ScheduleTiming:
    """The timing after a PATCH: `everyMs` or `cron` replaces it (a cron keeps its timezone unless one is given),
    a `timezone` alone changes the cron's; InvalidField names what does not fit."""
    given = change.model_fields_set
    if "every_ms" in given and change.every_ms is not None:
        fields = {"cron": None, "every_ms": change.every_ms, "timezone": change.timezone}
    elif "cron" in given and change.cron is not None:
        fields = {"cron": change.cron, "every_ms": None,
                  "timezone": change.timezone if "timezone" in given else current.timezone}
    elif "timezone" in given:
        fields = {"cron": current.cron, "every_ms": current.every_ms, "timezone": change.timezone}
    else:
        return current
    try:
        return ScheduleTiming.model_validate(fields)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in problem["loc"]) or "cron"
        raise InvalidField(field, str(problem["msg"]).removeprefix("Value error, ")) from None


class ScheduleService:
    def __init__(self, schedules: ScheduleRepository, recordings: RecordingRepository, schedulers: ScheduleQueue,
                 network: NetworkPolicy | None = None) -> None:
        self._schedules = schedules
        self._recordings = recordings
        self._schedulers = schedulers
        self._network = network if network is not None else NetworkPolicy()

    async def create(self, body: ScheduleCreate, *, created_by: str | None = None) -> ScheduleView:
        """InvalidField (recordingId) for a recording that does not exist; InvalidScript or BlockedUrl when its
        recording could not run with these options here (as `POST /api/recordings/{id}/runs` would say)."""
        try:
            recording = await self._recordings.get(body.recording_id)
        except RecordingNotFound:
            raise InvalidField("recordingId", f"no saved recording {body.recording_id}") from None
        admit(recording.script, body.options, self._network)
        timing = ScheduleTiming(cron=body.cron, timezone=body.timezone, every_ms=body.every_ms)
        try:
            schedule = await self._schedules.create(NewSchedule(
                name=body.name or recording.name, recording_id=recording.id, recording_name=recording.name,
                timing=timing, options=body.options.stored(), skip_if_running=body.skip_if_running,
                created_by=created_by))
        except RecordingNotFound:  # deleted meanwhile
            raise InvalidField("recordingId", f"no saved recording {body.recording_id}") from None
        try:
            await self._upsert(schedule)
        except ServiceUnavailable:
            await self._schedules.delete(schedule.id)
            raise
        log.info("schedule created", scheduleId=str(schedule.id), name=schedule.name, timing=timing.describe(),
                 by=created_by)
        return await self.view(schedule.id)

    async def view(self, schedule_id: UUID) -> ScheduleView:
        schedule = await self._schedules.get(schedule_id)
        next_tick = None
        if schedule.state == ScheduleState.ACTIVE:
            next_tick = await self._redis(self._schedulers.next_tick(schedule_id))
        return ScheduleView(schedule, next_tick)

    async def page(self, *, limit: int, offset: int) -> tuple[list[ScheduleView], int]:
        schedules, total = await self._schedules.list_page(limit=limit, offset=offset)
        ticks = await self._redis(self._schedulers.next_ticks()) if schedules else {}
        return [ScheduleView(s, ticks.get(s.id) if s.state == ScheduleState.ACTIVE else None)
                for s in schedules], total

    async def update(self, schedule_id: UUID, change: ScheduleUpdate) -> ScheduleView:
        """InvalidTransition for a stopped schedule; InvalidField for a timing that does not fit."""
        current = await self._schedules.get(schedule_id)
        given = change.model_fields_set
        options = change.options.stored() if change.options is not None else current.options
        if change.options is not None and current.recording_id is not None:
            recording = await self._recordings.get(current.recording_id)
            admit(recording.script, RunOptions.model_validate(options), self._network)
        updated = await self._schedules.update(schedule_id, ScheduleChange(
            name=change.name if change.name is not None else current.name,
            timing=merged_timing(current.timing, change),
            options=options,
            skip_if_running=change.skip_if_running if change.skip_if_running is not None else current.skip_if_running))
        if updated.state == ScheduleState.ACTIVE:
            await self._upsert(updated)
        log.info("schedule changed", scheduleId=str(schedule_id), fields=sorted(given))
        return await self.view(schedule_id)

    async def pause(self, schedule_id: UUID) -> ScheduleView:
        """No tick runs until it is resumed (its BullMQ scheduler is removed; a tick already due is ignored)."""
        await self._schedules.set_state(schedule_id, ScheduleState.PAUSED)
        await self._remove_scheduler(schedule_id)
        log.info("schedule paused", scheduleId=str(schedule_id))
        return await self.view(schedule_id)

    async def resume(self, schedule_id: UUID) -> ScheduleView:
        before = await self._schedules.get(schedule_id)
        schedule = await self._schedules.set_state(schedule_id, ScheduleState.ACTIVE)
        try:
            await self._upsert(schedule)
        except ServiceUnavailable:
            if before.state == ScheduleState.PAUSED:
                await self._schedules.set_state(schedule_id, ScheduleState.PAUSED)
            raise
        log.info("schedule resumed", scheduleId=str(schedule_id))
        return await self.view(schedule_id)

    async def delete(self, schedule_id: UUID) -> None:
        """Its runs stay, unlinked."""
        await self._schedules.delete(schedule_id)
        await self._remove_scheduler(schedule_id)
        log.info("schedule deleted", scheduleId=str(schedule_id))

    async def stop_schedulers(self, schedule_ids: list[UUID]) -> None:
        """Remove the BullMQ schedulers of schedules just stopped (their recording was deleted)."""
        for schedule_id in schedule_ids:
            await self._remove_scheduler(schedule_id)

    async def _upsert(self, schedule: ScheduleRecord) -> None:
        options = schedule.run_options()
        await self._redis(self._schedulers.upsert(schedule.id, schedule.timing, schedule.priority, options.retries))

    async def _remove_scheduler(self, schedule_id: UUID) -> None:
        try:
            await self._schedulers.remove(schedule_id)
        except Exception as error:  # the worker removes it at its next tick (the row says it may not run)
            log.warning("could not remove the schedule's BullMQ scheduler", scheduleId=str(schedule_id),
                        error=repr(error))

    @staticmethod
    async def _redis(call: Awaitable[T]) -> T:
        try:
            return await call
        except Exception as error:
            raise ServiceUnavailable("redis", str(error) or type(error).__name__) from error
