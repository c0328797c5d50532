"""Queue control: pause (workers finish what they hold and claim nothing new) and resume, each recorded with the
name of the key that did it (shown as `lastAction`)."""

from __future__ import annotations

from typing import Literal, cast

import structlog
from fastapi import APIRouter, Request

from api.auth import actor, needs
from api.deps import QueueActionsDep, QueueDep
from api.schemas import QueueAction, QueueHealth
from contract.access import Scope
from jobs.queue import RunQueue
from storage import QueueActions

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/queue", tags=["queue"])


async def _state(queue: RunQueue, actions: QueueActions) -> QueueHealth:
    last = await actions.latest()
    last_action = None
    if last is not None:
        last_action = QueueAction(action=cast(Literal["pause", "resume"], last.action), by=last.actor, at=last.at)
    return QueueHealth(name=queue.name, paused=await queue.is_paused(), counts=await queue.counts(),
                       last_action=last_action)


@router.get("", response_model=QueueHealth, dependencies=needs(Scope.READ))
async def queue_state(queue: QueueDep, actions: QueueActionsDep) -> QueueHealth:
    """Job counts by state, whether the queue is paused, and the latest pause or resume (who, when)."""
    return await _state(queue, actions)


@router.post("/pause", response_model=QueueHealth, dependencies=needs(Scope.ADMIN))
async def pause_queue(queue: QueueDep, actions: QueueActionsDep, request: Request) -> QueueHealth:
    """Stop workers from claiming runs; queued runs wait, running ones finish."""
    await queue.pause()
    await actions.record("pause", actor(request))
    log.info("queue paused", queue=queue.name, by=actor(request))
    return await _state(queue, actions)


@router.post("/resume", response_model=QueueHealth, dependencies=needs(Scope.ADMIN))
async def resume_queue(queue: QueueDep, actions: QueueActionsDep, request: Request) -> QueueHealth:
    await queue.resume()
    await actions.record("resume", actor(request))
    log.info("queue resumed", queue=queue.name, by=actor(request))
    return await _state(queue, actions)
