"""Saved recordings: upload once (validated like a run's script), list, run now as often as needed."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import structlog
from fastapi import APIRouter, Body, Query, Request, Response

from api.deps import ServicesDep
from api.routes.runs import create_and_enqueue, new_run_from
from api.schemas import (
    LastRun,
    RecordingCreate,
    RecordingDetail,
    RecordingPage,
    RecordingPublic,
    RunSummary,
)
from contract.options import RunOptions
from runner.formats import parse_script
from storage import RecordingRecord

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/recordings", tags=["recordings"])


def _public(recording: RecordingRecord) -> RecordingPublic:
    last = None
    if recording.last_run_id is not None and recording.last_run_status and recording.last_run_number:
        last = LastRun(id=recording.last_run_id, status=recording.last_run_status, number=recording.last_run_number)
    return RecordingPublic(id=recording.id, name=recording.name, format=recording.format,
                           step_count=recording.step_count, created_at=recording.created_at, last_run=last)


@router.post("", status_code=201, response_model=RecordingPublic)
async def create_recording(body: RecordingCreate, services: ServicesDep) -> RecordingPublic:
    """Save a recording; an invalid one is a 422 naming the field, as for `POST /api/runs`."""
    script = parse_script(body.script)
    recording = await services.recordings.create(name=body.name or script.name, script_format=script.format,
                                                 script=body.script, step_count=len(script.steps))
    log.info("recording saved", recordingId=str(recording.id), name=recording.name)
    return _public(recording)


@router.get("", response_model=RecordingPage)
async def list_recordings(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RecordingPage:
    recordings, total = await services.recordings.list_page(limit=limit, offset=offset)
    return RecordingPage(items=[_public(r) for r in recordings], total=total, limit=limit, offset=offset)


@router.get("/{recording_id}", response_model=RecordingDetail)
async def get_recording(recording_id: UUID, services: ServicesDep) -> RecordingDetail:
    recording = await services.recordings.get(recording_id)
    return RecordingDetail(**_public(recording).model_dump(), script=recording.script)


@router.delete("/{recording_id}", status_code=204)
async def delete_recording(recording_id: UUID, services: ServicesDep) -> Response:
    """Its runs stay, unlinked."""
    await services.recordings.delete(recording_id)
    return Response(status_code=204)


@router.post("/{recording_id}/runs", status_code=201, response_model=RunSummary)
async def run_recording(
    recording_id: UUID, services: ServicesDep, request: Request, response: Response,
    options: Annotated[RunOptions | None, Body()] = None,
) -> RunSummary:
    """Queue a run of the recording now, with the given replay options (all optional)."""
    recording = await services.recordings.get(recording_id)
    new_run = await new_run_from(services, options or RunOptions(), recording.script, recording.name,
                                 recording_id=recording.id)
    return await create_and_enqueue(services, new_run, request, response)
