"""Live events for the dashboard: Postgres NOTIFY (triggers on runs and run_steps, migration 0004; a step event
carries the step since 0013) fanned out to every open event stream of this API process.

One LISTEN connection per process, reconnected with backoff when Postgres restarts. Each subscriber gets a
bounded queue; one that falls behind is dropped (its stream ends and the browser reconnects) instead of
slowing the others. `None` in a queue means: the stream is over. While the listener is away (the API starting,
Postgres restarting) no event is heard, so when it listens it ends every stream opened before: their clients
reconnect and read afresh what they show, rather than go on missing what changed in between.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger(__name__)

CHANNEL = "reprise_events"
QUEUE_SIZE = 512
RECONNECT_MAX_S = 5.0
APPLICATION_NAME = "reprise-events"  # the listener in pg_stat_activity
Event = dict[str, Any]


class EventHub:
    """Events of one queue's runs (the notifications carry the run's queue; other queues' are dropped)."""

    def __init__(self, database_url: str, queue: str) -> None:
        self._database_url = database_url
        self._queue = queue
        self._subscribers: set[asyncio.Queue[Event | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="event-listener")

    async def _listen_forever(self) -> None:
        delay = 0.2
        deaf = True  # not listening (yet, or any more): streams open now may miss events
        while True:
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(self._database_url, timeout=10,
                                                   server_settings={"application_name": APPLICATION_NAME})
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, self._notified)
                if deaf:
                    self._end_streams()
                    deaf = False
                self.connected.set()
                delay = 0.2
                log.info("listening for run events")
                while not lost.is_set() and not connection.is_closed():
                    with suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), 5)
                    if not lost.is_set():
                        await connection.execute("SELECT 1")  # notices a dead socket the server never closed
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("event listener lost the database, reconnecting", error=repr(error), retryInS=delay)
            finally:
                self.connected.clear()
                deaf = True
                if connection is not None and not connection.is_closed():
                    with suppress(Exception):
                        await connection.close(timeout=2)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    def _notified(self, _connection: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            event: Event = json.loads(str(payload))
        except ValueError:
            return
        if event.pop("queue", None) != self._queue:
            return
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._subscribers.discard(queue)
                with suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(None)

    @contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[Event | None]]:
        """A queue of this hub's events from now on (a stream subscribes before it answers, so a client that
        reads a run once its stream is open misses no change made after that read)."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    def _end_streams(self) -> None:
        for queue in list(self._subscribers):
            with suppress(asyncio.QueueEmpty):
                queue.get_nowait()  # room for the end, which counts more than one event it may replace
            queue.put_nowait(None)
        self._subscribers.clear()

    async def close(self) -> None:
        self._end_streams()
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
