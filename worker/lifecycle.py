"""A worker's life: stop signals, its named side tasks (the first that dies stops the worker and sets its
exit code), and the two-stage shutdown (grace for active runs, then hand them back, then force).

Exit codes of `reprise worker`:

    0  stopped by SIGTERM/SIGINT (active runs finished or were handed back to the queue)
    1  crashed: a side task (heartbeat, cancel listener, orphan sweep, retention, metrics server) or the BullMQ
       consumer died
    2  invalid settings (reprise.cli), or METRICS_PORT cannot be bound (in use)
    3  a dependency was unreachable at start: Postgres, Redis, or Chromium would not launch
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from bullmq import Worker

from worker.replays import ActiveReplays

log = structlog.get_logger(__name__)

EXIT_STOPPED = 0
EXIT_CRASHED = 1
EXIT_INVALID_SETTINGS = 2
EXIT_DEPENDENCY = 3
# After the grace period, aborting replays and returning their jobs must not take longer than this.
HAND_BACK_TIMEOUT_S = 30.0


class StopSignal:
    """Set by the first SIGTERM/SIGINT; a second one asks for an immediate stop."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.urgent = asyncio.Event()

    def trigger(self, signum: int) -> None:
        if self.requested.is_set():
            log.warning("second stop signal: skipping the grace period", signal=signal.Signals(signum).name)
            self.urgent.set()
        else:
            log.info("stop signal: no new jobs, finishing active runs", signal=signal.Signals(signum).name)
            self.requested.set()


@contextmanager
def stop_signals(stop: StopSignal) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    handled = (signal.SIGTERM, signal.SIGINT)
    for signum in handled:
        loop.add_signal_handler(signum, stop.trigger, signum)
    try:
        yield
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


class SideTasks:
    """Tasks that run as long as the worker does. One that raises, or ends by itself before a stop was asked
    for, takes the worker down (procrastinate's habit) instead of letting it limp on; `exit_code` says so."""

    def __init__(self, stop: StopSignal) -> None:
        self._stop = stop
        self._tasks: list[asyncio.Task[Any]] = []
        self.died: str | None = None  # the first task that died, and why

    def start(self, name: str, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine, name=name)
        task.add_done_callback(self._ended)
        self._tasks.append(task)
        return task

    def _ended(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is None and self._stop.requested.is_set():
            return  # the BullMQ consumer ends by itself once it is closed
        reason = repr(error) if error is not None else "it ended by itself"
        log.error("side task died, stopping worker", task=task.get_name(), error=reason)
        if self.died is None:
            self.died = f"{task.get_name()}: {reason}"
        self._stop.requested.set()
        self._stop.urgent.set()

    @property
    def exit_code(self) -> int:
        return EXIT_CRASHED if self.died is not None else EXIT_STOPPED

    async def cancel_all(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def shut_down(worker: Worker, replays: ActiveReplays, stop: StopSignal, grace_s: float) -> None:
    """Stop claiming, wait for active runs up to the grace (or a second signal), then hand the rest back to
    the queue; force-close only if that does not finish either."""
    graceful = asyncio.create_task(worker.close(), name="graceful-close")
    urgent = asyncio.create_task(stop.urgent.wait())
    done, _ = await asyncio.wait({graceful, urgent}, timeout=grace_s, return_when=asyncio.FIRST_COMPLETED)
    urgent.cancel()
    if graceful in done:
        log.info("active runs finished, worker closed")
        return
    handed = replays.hand_back_all()
    log.warning("grace period over, handing active runs back to the queue", active=handed)
    done, _ = await asyncio.wait({graceful}, timeout=HAND_BACK_TIMEOUT_S)
    if graceful in done:
        log.info("active runs handed back, worker closed")
        return
    log.error("runs did not hand back in time; force-closing (their jobs return through stalled detection)",
              active=replays.count)
    await worker.close(force=True)
    graceful.cancel()
    await asyncio.gather(graceful, return_exceptions=True)
