"""A run's live step progress, written beside the replay instead of in its way.

Each finished step is written to the database (`RunRepository.record_step`, which the dashboard's step events
come from) and to the BullMQ job (`updateProgress`) by a background task, in step order, so the replay goes on
to its next step at once (two round trips per step no longer add to a run's time). `drain` waits for what is
pending before the attempt is finished, so no live write lands after the final one; a write that fails is
logged and dropped: the attempt's final write stores every step again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress

import structlog

from contract.results import StepResult

log = structlog.get_logger(__name__)

DRAIN_TIMEOUT_S = 10.0

StepWrite = Callable[[StepResult], Awaitable[None]]


class StepProgress:
    """Writes steps with `write`, one at a time, in the order `report` got them."""

    def __init__(self, write: StepWrite) -> None:
        self._write = write
        self._pending: asyncio.Queue[StepResult | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    async def report(self, step: StepResult) -> None:
        """The runner's step callback: queues the write and returns at once."""
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_in_order())
        self._pending.put_nowait(step)

    async def _write_in_order(self) -> None:
        while (step := await self._pending.get()) is not None:
            try:
                await self._write(step)
            except Exception as error:  # live progress only: the final write stores every step again
                log.warning("could not record step progress", step=step.index, error=repr(error))

    async def drain(self, timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        """Wait (up to `timeout_s`) for the queued writes, then stop the writer."""
        if self._writer is None:
            return
        self._pending.put_nowait(None)
        done, _ = await asyncio.wait({self._writer}, timeout=timeout_s)
        if not done:
            log.warning("step progress writes still pending, dropped", timeoutS=timeout_s)
            self._writer.cancel()
            with suppress(asyncio.CancelledError):
                await self._writer
        self._writer = None

    def abandon(self) -> None:
        """Stop writing (the worker is stopping): pending writes are dropped."""
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None
