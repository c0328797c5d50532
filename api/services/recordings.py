"""Saved recordings: validated once when saved, run again as often as needed."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog

from api.services.runs import RunService
from api.services.schedules import ScheduleService
from contract.options import DEFAULT_PRIORITY, Priority, RunOptions
from runner.formats import parse_bounded
from storage import RecordingRecord, RecordingRepository, RunRecord

log = structlog.get_logger(__name__)


class RecordingService:
    def __init__(self, recordings: RecordingRepository, runs: RunService,
                 schedules: ScheduleService | None = None) -> None:
        self._recordings = recordings
        self._runs = runs
        self._schedules = schedules

    async def save(self, script_data: dict[str, Any], name: str | None,
                   priority: Priority = DEFAULT_PRIORITY) -> RecordingRecord:
        """Save a recording; InvalidScript (a 422 naming the field) when it is not one."""
        script = parse_bounded(script_data)
        recording = await self._recordings.create(name=name or script.name, script_format=script.format,
                                                  script=script_data, step_count=len(script.steps), priority=priority)
        log.info("recording saved", recordingId=str(recording.id), name=recording.name)
        return recording

    async def get(self, recording_id: UUID) -> RecordingRecord:
        return await self._recordings.get(recording_id)

    async def page(self, *, limit: int, offset: int,
                   name: str | None = None) -> tuple[list[RecordingRecord], int]:
        return await self._recordings.list_page(limit=limit, offset=offset, name=name)

    async def delete(self, recording_id: UUID) -> None:
        """Its runs stay, unlinked; its schedules stop (`recording <name> was deleted`), their BullMQ schedulers
        removed at once."""
        stopped = await self._recordings.delete(recording_id)
        if stopped:
            log.info("recording's schedules stopped", recordingId=str(recording_id),
                     schedules=[str(schedule_id) for schedule_id in stopped])
        if self._schedules is not None:
            await self._schedules.stop_schedulers(stopped)

    async def run(self, recording_id: UUID, options: RunOptions, *, queued_by: str | None = None) -> RunRecord:
        """Queue a run of the saved recording now (with the recording's priority unless `options` name one)."""
        recording = await self._recordings.get(recording_id)
        run, _ = await self._runs.create(options, recording.script, recording.name, recording_id=recording.id,
                                       queued_by=queued_by, default_priority=recording.priority)
        return run
