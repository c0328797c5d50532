"""Flaky tests and quarantine: recordings ranked by flakiness over their last runs, and a recording quarantined or
released by hand (a `run` key, as for the other writes to recordings). README "Flaky tests and quarantine"."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Query, Request

from api.auth import actor, needs
from api.deps import FlakyServiceDep
from api.params import Limit, Offset
from api.responses import errors
from api.schemas import FlakyPage, QuarantineRequest, RecordingPublic
from api.views import flaky_recording, recording_public
from contract.access import Scope
from contract.flaky import MAX_WINDOW_RUNS

router = APIRouter(tags=["flaky"])


@router.get("/api/flaky", response_model=FlakyPage, dependencies=needs(Scope.READ))
async def list_flaky(
    flaky: FlakyServiceDep, request: Request, limit: Limit = 50, offset: Offset = 0,
    runs: Annotated[int | None, Query(ge=2, le=MAX_WINDOW_RUNS, description="Read each recording's last this many "
                                                                          "passed or failed runs (default "
                                                                          "FLAKY_WINDOW_RUNS)")] = None,
) -> FlakyPage:
    """The saved recordings with a passed or failed run on this queue, and every quarantined one, the most flaky
    first: each with its score, flips, flaky runs, the runs read and its quarantine."""
    window = runs or flaky.window_runs
    page, total = await flaky.page(window_runs=window, limit=limit, offset=offset)
    return FlakyPage(items=[flaky_recording(item, window, request) for item in page], total=total, limit=limit,
                     offset=offset)


@router.post("/api/recordings/{recording_id}/quarantine", response_model=RecordingPublic,
             dependencies=needs(Scope.RUN), responses=errors(404))
async def quarantine_recording(recording_id: UUID, flaky: FlakyServiceDep, request: Request,
                               body: Annotated[QuarantineRequest | None, Body()] = None) -> RecordingPublic:
    """Quarantine the recording: its runs still run and are reported, but their failures no longer fail a suite run or
    `reprise submit` (each run records whether its recording was quarantined when it ended). Again: the reason is
    replaced."""
    reason = body.reason if body is not None else None
    return recording_public(await flaky.quarantine(recording_id, reason, by=actor(request)))


@router.delete("/api/recordings/{recording_id}/quarantine", response_model=RecordingPublic,
               dependencies=needs(Scope.RUN), responses=errors(404))
async def unquarantine_recording(recording_id: UUID, flaky: FlakyServiceDep, request: Request) -> RecordingPublic:
    """Release the recording from quarantine (a no-op when it is not); its earlier runs stay as they were recorded."""
    return recording_public(await flaky.unquarantine(recording_id, by=actor(request)))
