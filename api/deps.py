"""What route handlers receive: built once in the lifespan, kept on app.state, exposed as Annotated deps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from redis.asyncio import Redis

from api.events import EventHub
from contract.settings import Settings
from jobs.queue import RunQueue
from jobs.registry import WorkerRegistry
from storage import ArtifactStore, RecordingRepository, RunRepository


@dataclass
class Services:
    settings: Settings
    pool: asyncpg.Pool
    redis: Redis
    queue: RunQueue
    runs: RunRepository
    artifacts: ArtifactStore
    registry: WorkerRegistry
    recordings: RecordingRepository
    events: EventHub


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
