"""A saved recording's run history on one queue: its last runs with the step each failed at, and over a window
of days its counts by status, pass rate and median duration, computed in Postgres (queries.sql)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from contract.runs import FailureCategory, RunStatus, StepStatus
from storage.queries import load_queries
from storage.records import _FromRow

# A pass rate counts the runs that ended with a verdict on the recording: a cancelled run says nothing of it.
VERDICT_STATUSES = (RunStatus.PASSED, RunStatus.FAILED, RunStatus.ERROR)


@dataclass(frozen=True)
class FailingStep:
    """The first step of a run's latest attempt that failed."""

    index: int
    type: str
    selector: str | None
    error: str | None


@dataclass(frozen=True)
class HistoryRun(_FromRow):
    id: UUID
    number: int
    status: RunStatus
    error: str | None
    error_category: FailureCategory | None
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    failing_index: int | None = None
    failing_type: str | None = None
    failing_selector: str | None = None
    failing_error: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", RunStatus(self.status))
        if self.error_category is not None:
            object.__setattr__(self, "error_category", FailureCategory(self.error_category))

    @property
    def failing_step(self) -> FailingStep | None:
        if self.failing_index is None or self.failing_type is None:
            return None
        return FailingStep(self.failing_index, self.failing_type, self.failing_selector, self.failing_error)


@dataclass(frozen=True)
class RecordingHistory:
    """The window is [window_from, window_to]: runs created in the last `days` days, as of the query."""

    days: int
    window_from: datetime
    window_to: datetime
    counts: dict[RunStatus, int]  # every status, 0 when none
    pass_rate: float | None  # passed / (passed + failed + error); None when no run ended with a verdict
    median_duration_ms: float | None  # of the runs that finished; None when none did
    runs: list[HistoryRun]  # the newest `limit` of the window, newest first


def _counts(raw: dict[str, Any]) -> dict[RunStatus, int]:
    return {status: int(raw.get(status.value, 0)) for status in RunStatus}


class RunHistory:
    """Histories of recordings, read from one queue's runs."""

    def __init__(self, pool: asyncpg.Pool, *, queue: str) -> None:
        self._pool = pool
        self._sql = load_queries()
        self.queue = queue

    async def of_recording(self, recording_id: UUID, *, days: int, limit: int) -> RecordingHistory:
        # One snapshot and one now(): the summary and the list describe the same runs and the same window.
        async with self._pool.acquire() as connection, connection.transaction(isolation="repeatable_read",
                                                                              readonly=True):
            summary = await connection.fetchrow(self._sql["recording_history_summary"], self.queue, recording_id,
                                                days, RunStatus.PASSED, list(VERDICT_STATUSES))
            rows = await connection.fetch(self._sql["recording_history_runs"], self.queue, recording_id, days,
                                          limit, StepStatus.FAILED)
        assert summary is not None  # an aggregate: always one row
        return RecordingHistory(
            days=days, window_from=summary["window_from"], window_to=summary["window_to"],
            counts=_counts(summary["counts"]), pass_rate=summary["pass_rate"],
            median_duration_ms=summary["median_duration_ms"], runs=[HistoryRun.from_row(row) for row in rows])
