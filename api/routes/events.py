"""`GET /api/events`: Server-Sent Events of run and step changes, for live dashboards."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import ExitStack, suppress
from typing import Annotated, cast
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from api.auth import needs
from api.deps import EventHubDep
from api.events import Event
from api.rate_limit import StreamSlots, client_identity
from api.responses import errors
from contract.access import Scope as Access

router = APIRouter(prefix="/api/events", tags=["events"])
KEEPALIVE_S = 15.0
LISTENER_WAIT_S = 3.0


def _concerns(event: Event, run_id: str | None) -> bool:
    if run_id is None:
        return True
    return str(event.get("id") if event.get("kind") == "run" else event.get("runId")) == run_id


class _HeldStream(StreamingResponse):
    """A stream that gives its client's slot back when it ends, however it ends (the client left, the API
    stops)."""

    def __init__(self, content: AsyncIterator[str], held: ExitStack, **kwargs: object) -> None:
        super().__init__(content, **kwargs)  # type: ignore[arg-type]
        self._held = held

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self._held:
            await super().__call__(scope, receive, send)


@router.get("", response_class=StreamingResponse, dependencies=needs(Access.READ), responses=errors(422, 429),
            openapi_extra={"responses": {"200": {"content": {"text/event-stream": {"schema": {"type": "string"}}}}}})
async def events(
    hub: EventHubDep,
    request: Request,
    run_id: Annotated[UUID | None, Query(alias="runId", description="Only this run's run and step events")] = None,
) -> StreamingResponse:
    """`event: run` (`{id, number, status, attempts, flaky, quarantined}`) and `event: step` messages as they happen; a
    `: keepalive` comment every 15 s. A step message is the step as `GET /api/runs/{id}` shows it (`index`,
    `type`, `status`, `durationMs`, `startedOffsetMs`, `selector`, `error`, `category`) with its `runId` and
    `attempt`; one whose selector or error would not fit a Postgres notification (8000 bytes) comes with
    `"partial": true` and only `runId`, `attempt`, `index` and `status`: read the step from
    `GET /api/runs/{id}/attempts/{attempt}/steps`. The stream listens from before it answers: what a client
    reads once it is open is never older than the events it gets."""
    wanted = str(run_id) if run_id is not None else None
    held = ExitStack()
    held.enter_context(cast(StreamSlots, request.app.state.stream_slots).hold(client_identity(request.scope)))
    try:
        # A stream opened while the hub is not listening (the API starting, Postgres restarting) is ended when
        # it listens again; a short wait for it spares the client that round.
        with suppress(TimeoutError):
            await asyncio.wait_for(hub.connected.wait(), LISTENER_WAIT_S)
        queue = held.enter_context(hub.subscribe())
    except BaseException:
        held.close()
        raise

    async def stream() -> AsyncIterator[str]:
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

    return _HeldStream(stream(), held, media_type="text/event-stream",
                       headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
