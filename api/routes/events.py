"""`GET /api/events`: Server-Sent Events of run and step changes, for live dashboards."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.auth import needs
from api.deps import EventHubDep
from api.events import Event
from contract.access import Scope

router = APIRouter(prefix="/api/events", tags=["events"])
KEEPALIVE_S = 15.0


def _concerns(event: Event, run_id: str | None) -> bool:
    if run_id is None:
        return True
    return str(event.get("id") if event.get("kind") == "run" else event.get("runId")) == run_id


@router.get("", response_class=StreamingResponse, dependencies=needs(Scope.READ))
async def events(
    hub: EventHubDep,
    run_id: Annotated[UUID | None, Query(alias="runId", description="Only this run's run and step events")] = None,
) -> StreamingResponse:
    """`event: run` (`{id, number, status, attempts}`) and `event: step` (`{runId, attempt, index, status}`)
    messages as they happen; a `: keepalive` comment every 15 s."""
    wanted = str(run_id) if run_id is not None else None

    async def stream() -> AsyncIterator[str]:
        async with hub.subscribe() as queue:
            yield ": connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if event is None:
                    return
                if _concerns(event, wanted):
                    yield f"event: {event.get('kind', 'run')}\ndata: {json.dumps(event)}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
