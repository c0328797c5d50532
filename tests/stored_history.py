"""Saved recordings and their finished runs written through the storage layer as the API and the worker write
them (a recording row; a run made from it, its attempts started and finished with their steps): what the history
and compare tests start from, with no replay."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from contract.results import StepResult
from contract.runs import AttemptStatus, RunStatus, StepStatus
from storage import AttemptOutcome, NewRun, RecordingRepository, RunRepository


def step(index: int, status: StepStatus, duration_ms: int, *, type: str = "click", selector: str | None = None,
         error: str | None = None) -> StepResult:
    return StepResult(index=index, type=type, status=status, duration_ms=duration_ms, selector=selector, error=error)


async def store_recording(pool: asyncpg.Pool, queue: str, name: str) -> UUID:
    steps = [{"action": "navigate", "url": "http://127.0.0.1:9/"}]
    recording = await RecordingRepository(pool, queue=queue).create(
        name=name, script_format="native", script={"version": 1, "name": name, "steps": steps}, step_count=len(steps))
    return recording.id


async def store_recording_run(runs: RunRepository, recording_id: UUID | None, status: RunStatus,
                              steps: Sequence[StepResult] = (), *, duration_ms: int | None = None,
                              error: str | None = None, earlier_attempts: Sequence[Sequence[StepResult]] = (),
                              name: str = "stored") -> UUID:
    """A run of the recording that ended `status` (cancelled: while queued, no attempt). Each of
    `earlier_attempts` is an attempt that failed and was retried, with its steps; the last attempt has `steps`."""
    run, _ = await runs.create(NewRun(name=name, script_format="native", script={}, options={},
                                      recording_id=recording_id))
    if status == RunStatus.CANCELLED:
        await runs.cancel(run.id, "cancelled by the test")
        return run.id
    for earlier in earlier_attempts:
        attempt = await runs.start_attempt(run.id, "test-worker", None)
        assert attempt is not None
        await runs.finish(run.id, attempt, AttemptOutcome(
            status=RunStatus.FAILED, error="retried", category=None, steps=earlier, artifacts=[],
            actions_executed=len(earlier), duration_ms=sum(s.duration_ms for s in earlier), requeue=True,
            attempt_status=AttemptStatus.FAILED))
    attempt = await runs.start_attempt(run.id, "test-worker", None)
    assert attempt is not None
    finished = await runs.finish(run.id, attempt, AttemptOutcome(
        status=status, error=error, category=None, steps=steps, artifacts=[], actions_executed=len(steps),
        duration_ms=duration_ms if duration_ms is not None else sum(s.duration_ms for s in steps)))
    assert finished is not None and finished.status == status
    return run.id
