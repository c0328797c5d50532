"""Live step progress is written beside the replay, in order, and drained before the attempt is finished."""

from __future__ import annotations

import asyncio

from contract.results import StepResult
from contract.runs import StepStatus
from worker.progress import StepProgress


def step(index: int) -> StepResult:
    return StepResult(index=index, type="click", status=StepStatus.PASSED, duration_ms=1)


async def test_report_returns_before_the_write_and_drain_waits_for_every_write_in_order() -> None:
    release = asyncio.Event()
    written: list[int] = []

    async def slow_write(result: StepResult) -> None:
        await release.wait()
        written.append(result.index)

    progress = StepProgress(slow_write)
    for index in range(5):
        await progress.report(step(index))  # would hang here if the write were awaited
    assert written == []
    release.set()
    await progress.drain()
    assert written == [0, 1, 2, 3, 4]


async def test_a_failing_write_is_dropped_and_the_rest_still_written() -> None:
    written: list[int] = []

    async def flaky_write(result: StepResult) -> None:
        if result.index == 1:
            raise ConnectionError("database away")
        written.append(result.index)

    progress = StepProgress(flaky_write)
    for index in range(3):
        await progress.report(step(index))
    await progress.drain()
    assert written == [0, 2]


async def test_drain_gives_up_after_its_timeout_and_abandon_stops_the_writer() -> None:
    never = asyncio.Event()

    async def stuck_write(result: StepResult) -> None:
        await never.wait()

    progress = StepProgress(stuck_write)
    await progress.report(step(0))
    await progress.drain(timeout_s=0.05)  # returns: the write is dropped, not waited for forever
    await progress.report(step(1))
    progress.abandon()
    await progress.drain()  # nothing left to wait for
