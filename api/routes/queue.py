"""Queue control: pause (workers finish what they hold and claim nothing new) and resume."""

from __future__ import annotations

import structlog
from fastapi import APIRouter

from api.deps import QueueDep
from api.schemas import QueueHealth
from jobs.queue import RunQueue

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/queue", tags=["queue"])


async def _state(queue: RunQueue) -> QueueHealth:
    return QueueHealth(name=queue.name, paused=await queue.is_paused(), counts=await queue.counts())


@router.get("", response_model=QueueHealth)
async def queue_state(queue: QueueDep) -> QueueHealth:
    """Job counts by state and whether the queue is paused."""
    return await _state(queue)


@router.post("/pause", response_model=QueueHealth)
async def pause_queue(queue: QueueDep) -> QueueHealth:
    """Stop workers from claiming runs; queued runs wait, running ones finish."""
    await queue.pause()
    log.info("queue paused", queue=queue.name)
    return await _state(queue)


@router.post("/resume", response_model=QueueHealth)
async def resume_queue(queue: QueueDep) -> QueueHealth:
    await queue.resume()
    log.info("queue resumed", queue=queue.name)
    return await _state(queue)
