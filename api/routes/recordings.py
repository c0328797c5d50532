"""Saved recordings: upload once (validated like a run's script), list, run now as often as needed."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Query, Request, Response

from api.auth import actor, needs
from api.deps import RecordingServiceDep
from api.params import NO_NUL, Limit, Offset
from api.responses import errors
from api.schemas import RecordingCreate, RecordingDetail, RecordingPage, RecordingPublic, RunSummary
from api.views import recording_public, run_summary, run_url
from contract import limits
from contract.access import Scope
from contract.options import RunOptions

router = APIRouter(prefix="/api/recordings", tags=["recordings"])


@router.post("", status_code=201, response_model=RecordingPublic, dependencies=needs(Scope.RUN))
async def create_recording(body: RecordingCreate, recordings: RecordingServiceDep) -> RecordingPublic:
    """Save a recording; an invalid one is a 422 naming the field, as for `POST /api/runs`."""
    return recording_public(await recordings.save(body.script, body.name, body.priority))


@router.get("", response_model=RecordingPage, dependencies=needs(Scope.READ))
async def list_recordings(
    recordings: RecordingServiceDep,
    limit: Limit = 50,
    offset: Offset = 0,
    name: Annotated[str | None, Query(max_length=limits.MAX_NAME_CHARS, pattern=NO_NUL,
                                      description="Only recordings named exactly this (case matters; names are "
                                                  "not unique: `reprise submit --recording NAME` refuses several)")
                    ] = None,
) -> RecordingPage:
    """Saved recordings, newest first."""
    page, total = await recordings.page(limit=limit, offset=offset, name=name)
    return RecordingPage(items=[recording_public(r) for r in page], total=total, limit=limit, offset=offset)


@router.get("/{recording_id}", dependencies=needs(Scope.READ), response_model=RecordingDetail, responses=errors(404))
async def get_recording(recording_id: UUID, recordings: RecordingServiceDep) -> RecordingDetail:
    recording = await recordings.get(recording_id)
    return RecordingDetail(**recording_public(recording).model_dump(), script=recording.script)


@router.delete("/{recording_id}", dependencies=needs(Scope.RUN), status_code=204, responses=errors(404))
async def delete_recording(recording_id: UUID, recordings: RecordingServiceDep) -> Response:
    """Its runs stay, unlinked."""
    await recordings.delete(recording_id)
    return Response(status_code=204)


@router.post("/{recording_id}/runs", dependencies=needs(Scope.RUN), status_code=201, response_model=RunSummary,
             responses=errors(404))
async def run_recording(
    recording_id: UUID, recordings: RecordingServiceDep, request: Request, response: Response,
    options: Annotated[RunOptions | None, Body()] = None,
) -> RunSummary:
    """Queue a run of the recording now, with the given replay options (all optional)."""
    run = await recordings.run(recording_id, options or RunOptions(), queued_by=actor(request))
    response.headers["Location"] = run_url(request, run.id)
    return run_summary(run, request)
