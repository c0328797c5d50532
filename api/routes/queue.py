"""Queue control: pause (workers finish what they hold and claim nothing new) and resume."""

from __future__ import annotations

import structlog
from fastapi import APIRouter

from api.deps import ServicesDep
from api.schemas import QueueHealth

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/queue", tags=["queue"])


async def _state(services: ServicesDep) -> QueueHealth:
    return QueueHealth(name=services.queue.name, paused=await services.queue.is_paused(),
                       counts=await services.queue.counts())


@router.get("", response_model=QueueHealth)
async def queue_state(services: ServicesDep) -> QueueHealth:
    """Job counts by state and whether the queue is paused."""
    return await _state(services)


@router.post("/pause", response_model=QueueHealth)
async def pause_queue(services: ServicesDep) -> QueueHealth:
    """Stop workers from claiming runs; queued runs wait, running ones finish."""
    await services.queue.pause()
    log.info("queue paused", queue=services.queue.name)
    return await _state(services)


@router.post("/resume", response_model=QueueHealth)
async def resume_queue(services: ServicesDep) -> QueueHealth:
    await services.queue.resume()
    log.info("queue resumed", queue=services.queue.name)
    return await _state(services)
