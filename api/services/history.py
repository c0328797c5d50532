"""Run history of a saved recording (its last runs, pass rate and median duration over a window) and the
step-by-step comparison of two of its runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from api.errors import InvalidField
from api.services.flaky import FlakyService
from contract.flaky import Flakiness
from contract.results import StepResult
from storage import RecordingHistory, RecordingRecord, RecordingRepository, RunHistory, RunRecord, RunRepository


@dataclass(frozen=True)
class StepComparison:
    """One step index of two runs: each side's result (None: that run has no such step, it ended before or its
    recording had fewer steps), the change in duration from a to b, and whether the step differs."""

    index: int
    type: str
    selector: str | None
    a: StepResult | None
    b: StepResult | None
    duration_delta_ms: int | None
    differs: bool


@dataclass(frozen=True)
class RunComparison:
    a: RunRecord
    b: RunRecord
    steps: list[StepComparison]

    @property
    def first_difference(self) -> int | None:
        return first_difference(self.steps)


def first_difference(steps: Sequence[StepComparison]) -> int | None:
    """The index of the first step that differs; None when none does."""
    return next((step.index for step in steps if step.differs), None)


def step_differs(a: StepResult | None, b: StepResult | None) -> bool:
    """A step differs when it exists on one side only, its status differs, or its error text does (the same
    failure says the same thing; durations alone never make a difference)."""
    if a is None or b is None:
        return a is not b
    return a.status != b.status or (a.error or None) != (b.error or None)


def compare_steps(a_steps: Sequence[StepResult], b_steps: Sequence[StepResult]) -> list[StepComparison]:
    """Both runs' steps side by side by index, in order."""
    by_index_a = {step.index: step for step in a_steps}
    by_index_b = {step.index: step for step in b_steps}
    compared = []
    for index in sorted(by_index_a.keys() | by_index_b.keys()):
        a, b = by_index_a.get(index), by_index_b.get(index)
        shown = a if a is not None else b
        assert shown is not None  # the index is one side's at least
        compared.append(StepComparison(
            index=index, type=shown.type,
            selector=next((side.selector for side in (a, b) if side is not None and side.selector), None),
            a=a, b=b,
            duration_delta_ms=b.duration_ms - a.duration_ms if a is not None and b is not None else None,
            differs=step_differs(a, b)))
    return compared


class HistoryService:
    def __init__(self, history: RunHistory, recordings: RecordingRepository, runs: RunRepository,
                 flaky: FlakyService | None = None) -> None:
        self._history = history
        self._recordings = recordings
        self._runs = runs
        self._flaky = flaky

    async def of_recording(self, recording_id: UUID, *, days: int,
                           limit: int) -> tuple[RecordingRecord, RecordingHistory]:
        """RecordingNotFound (404) for an unknown recording."""
        recording = await self._recordings.get(recording_id)
        return recording, await self._history.of_recording(recording_id, days=days, limit=limit)

    async def flakiness(self, recording_id: UUID) -> tuple[Flakiness, int] | None:
        """Its flakiness over its last FLAKY_WINDOW_RUNS passed or failed runs, and that window (None: not known
        here)."""
        if self._flaky is None:
            return None
        return await self._flaky.of_recording(recording_id), self._flaky.window_runs

    async def compare(self, a_id: UUID, b_id: UUID) -> RunComparison:
        """Two runs of one saved recording, step by step (each run's latest attempt). RunNotFound (404) for an
        unknown run; InvalidField (422 naming `a` or `b`) for a run made from no saved recording, or runs of two
        different recordings."""
        a = await self._runs.get(a_id)
        b = await self._runs.get(b_id)
        if a.recording_id is None:
            raise InvalidField("a", f"run {a.id} was not made from a saved recording: it has no history to compare")
        if b.recording_id is None:
            raise InvalidField("b", f"run {b.id} was not made from a saved recording: it has no history to compare")
        if a.recording_id != b.recording_id:
            raise InvalidField("b", f"run {b.id} is of another recording ({b.recording_id}) than run {a.id} "
                                    f"({a.recording_id}); compare two runs of one recording")
        a_steps = await self._runs.steps(a.id, a.attempts) if a.attempts else []
        b_steps = await self._runs.steps(b.id, b.attempts) if b.attempts else []
        return RunComparison(a=a, b=b, steps=compare_steps(a_steps, b_steps))
