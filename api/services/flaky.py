"""Flaky tests and quarantine: the recordings ranked by flakiness over their last runs (contract/flaky.py's score),
and a recording quarantined or released by hand. The automatic quarantine is the worker's (worker/processor.py)."""

from __future__ import annotations

from uuid import UUID

import structlog

from contract.flaky import Flakiness
from storage import FlakyRepository, RecordingFlakiness, RecordingRecord, RecordingRepository

log = structlog.get_logger(__name__)


class FlakyService:
    def __init__(self, flaky: FlakyRepository, recordings: RecordingRepository, *, window_runs: int) -> None:
        self._flaky = flaky
        self._recordings = recordings
        self.window_runs = window_runs  # FLAKY_WINDOW_RUNS: what `runs` defaults to

    async def page(self, *, window_runs: int, limit: int, offset: int) -> tuple[list[RecordingFlakiness], int]:
        ranked = await self._flaky.ranking(window_runs)
        return ranked[offset:offset + limit], len(ranked)

    async def of_recording(self, recording_id: UUID) -> Flakiness:
        return await self._flaky.of_recording(recording_id, self.window_runs)

    async def quarantine(self, recording_id: UUID, reason: str | None, *, by: str | None) -> RecordingRecord:
        """RecordingNotFound (404). Quarantining a quarantined recording replaces its reason."""
        await self._flaky.quarantine(recording_id, reason, by)
        log.info("recording quarantined", recordingId=str(recording_id), reason=reason, by=by)
        return await self._recordings.get(recording_id)

    async def unquarantine(self, recording_id: UUID, *, by: str | None) -> RecordingRecord:
        """RecordingNotFound (404). Its runs keep what they recorded (`quarantined` as they ended)."""
        await self._flaky.unquarantine(recording_id)
        log.info("recording released from quarantine", recordingId=str(recording_id), by=by)
        return await self._recordings.get(recording_id)
