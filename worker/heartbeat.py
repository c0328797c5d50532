"""The worker's heartbeat: its registry entry, rewritten every interval with a TTL of three."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from jobs.registry import WorkerBeat, WorkerRegistry

log = structlog.get_logger(__name__)


async def heartbeat_loop(
    registry: WorkerRegistry,
    beat: WorkerBeat,
    interval_s: float,
    refresh: Callable[[WorkerBeat], None],
) -> None:
    """Runs until cancelled; a Redis hiccup is logged and retried at the next beat, never fatal."""
    while True:
        refresh(beat)
        try:
            await registry.beat(beat, ttl_seconds=interval_s * 3)
        except Exception as error:
            log.warning("heartbeat failed", error=str(error))
        await asyncio.sleep(interval_s)
