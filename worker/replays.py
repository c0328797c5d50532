"""The replays in progress on this worker: each started with a hard timeout, stoppable on request
(cancel: its browser context is closed, what it made so far is kept) and at shutdown (handed back).

`run` returns how the replay ended (`worker.outcomes.ReplayEnd`); it raises CancelledError only when the
worker itself is stopped without handing the run back (its job then returns through stalled detection).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol
from uuid import UUID

from contract.options import RunOptions
from contract.results import RunResult, StepResult
from contract.runs import RunStatus
from contract.visual import VisualBaselines
from runner.formats import Script
from worker.outcomes import Ending, ReplayEnd

# The runner bounds a run by its own timeout; this margin covers browser start and artifact writes.
HARD_TIMEOUT_MARGIN_S = 60
CANCEL_FORCE_AFTER_S = 5.0

StepCallback = Callable[[StepResult], Awaitable[None]]


class ReplayFunction(Protocol):
    """`PlaywrightRunner.run` in the worker's browser (see worker.main)."""

    async def __call__(self, script: Script, options: RunOptions, output_dir: Path, *,
                       secret_values: Sequence[str] = (), on_step: StepCallback | None = None,
                       stop: asyncio.Event | None = None, visual: VisualBaselines | None = None) -> RunResult: ...


class ActiveReplays:
    def __init__(self, replay: ReplayFunction) -> None:
        self._replay = replay
        self._tasks: dict[UUID, asyncio.Future[RunResult]] = {}
        self._stops: dict[UUID, asyncio.Event] = {}
        self._cancel_requested: set[UUID] = set()
        self._handed_back: set[UUID] = set()

    @property
    def count(self) -> int:
        return len(self._tasks)

    @property
    def run_ids(self) -> list[str]:
        return sorted(str(run_id) for run_id in self._tasks)

    async def run(self, run_id: UUID, script: Script, options: RunOptions, output_dir: Path, *,
                  secret_values: Sequence[str], on_step: StepCallback,
                  visual: VisualBaselines | None = None) -> ReplayEnd:
        """`visual`: passed on only when given (a script without compared screenshots has none)."""
        started = time.monotonic()
        stop = asyncio.Event()
        extra = {"visual": visual} if visual is not None else {}
        task = asyncio.ensure_future(self._replay(script, options, output_dir, secret_values=secret_values,
                                                  on_step=on_step, stop=stop, **extra))
        self._tasks[run_id] = task
        self._stops[run_id] = stop
        try:
            result = await asyncio.wait_for(asyncio.shield(task), options.timeout_ms / 1000 + HARD_TIMEOUT_MARGIN_S)
            ending = Ending.CANCELLED if run_id in self._cancel_requested else Ending.FINISHED
        except asyncio.CancelledError:
            if run_id in self._handed_back:
                result, ending = RunResult(status=RunStatus.ERROR), Ending.HANDED_BACK
            elif run_id in self._cancel_requested:
                result, ending = RunResult(status=RunStatus.FAILED, error="cancelled by request"), Ending.CANCELLED
            else:
                task.cancel()
                raise
        except TimeoutError:
            task.cancel()
            result, ending = RunResult(status=RunStatus.FAILED), Ending.TIMED_OUT
        finally:
            self._tasks.pop(run_id, None)
            self._stops.pop(run_id, None)
            self._cancel_requested.discard(run_id)
            self._handed_back.discard(run_id)
        return ReplayEnd(ending=ending, result=result, duration_ms=int((time.monotonic() - started) * 1000))

    def cancel(self, run_id: UUID) -> bool:
        """Stop a run replaying here; False when it is not here. A replay that does not stop within
        CANCEL_FORCE_AFTER_S is cancelled outright."""
        task = self._tasks.get(run_id)
        stop = self._stops.get(run_id)
        if task is None or task.done() or stop is None:
            return False
        self._cancel_requested.add(run_id)
        stop.set()
        asyncio.get_running_loop().call_later(CANCEL_FORCE_AFTER_S, task.cancel)
        return True

    def hand_back_all(self) -> int:
        """Abort every replay so that its job returns to the queue (shutdown after the grace period)."""
        handed = 0
        for run_id, task in list(self._tasks.items()):
            if not task.done():
                self._handed_back.add(run_id)
                task.cancel()
                handed += 1
        return handed
