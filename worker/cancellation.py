"""Listens on the queue's cancel channel and stops the named run if this worker is replaying it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from uuid import UUID

import structlog
from redis.asyncio import Redis

from jobs.keys import cancel_channel

log = structlog.get_logger(__name__)


async def cancel_listener(redis: Redis, queue_name: str, cancel: Callable[[UUID], bool]) -> None:
    """Runs until cancelled; reconnects after a Redis outage."""
    while True:
        try:
            async with redis.pubsub() as pubsub:
                await pubsub.subscribe(cancel_channel(queue_name))
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        run_id = UUID(str(message["data"]))
                    except ValueError:
                        log.warning("ignoring malformed cancel message", data=str(message["data"]))
                        continue
                    if cancel(run_id):
                        log.info("cancelling run on request", runId=str(run_id))
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("cancel listener lost Redis, retrying", error=str(error))
            await asyncio.sleep(1)
