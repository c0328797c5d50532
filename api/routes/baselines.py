"""Visual baselines: a saved recording's approved images of its compared `screenshot` steps
(`GET /api/recordings/{id}/baselines`, each image at `.../baselines/{baselineId}/image`), and approving a run's
compared image of a step as the new baseline (`POST /api/runs/{id}/steps/{index}/approve-baseline`)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Request, Response

from api.auth import actor, needs
from api.deps import BaselineServiceDep
from api.responses import errors
from api.schemas import BaselineList, BaselinePublic
from api.views import baseline_public
from contract import limits
from contract.access import Scope

router = APIRouter(tags=["baselines"])

_PNG = {"image/png": {"schema": {"type": "string", "format": "binary"}}}
IMAGE_HEADERS = {"Content-Security-Policy": "sandbox; frame-ancestors 'none'", "X-Content-Type-Options": "nosniff",
                 "Cache-Control": "no-store"}


@router.get("/api/recordings/{recording_id}/baselines", dependencies=needs(Scope.READ),
            response_model=BaselineList, responses=errors(404))
async def list_baselines(recording_id: UUID, baselines: BaselineServiceDep, request: Request) -> BaselineList:
    """The recording's approved baselines, by step and viewport, with their image URLs."""
    found = await baselines.of_recording(recording_id)
    return BaselineList(recording_id=recording_id, items=[baseline_public(item, request) for item in found])


@router.get("/api/recordings/{recording_id}/baselines/{baseline_id}/image", dependencies=needs(Scope.READ),
            responses={**errors(404), 200: {"content": _PNG}})
async def baseline_image(recording_id: UUID, baseline_id: Annotated[int, Path(ge=1, le=limits.MAX_INT64)],
                         baselines: BaselineServiceDep) -> Response:
    """The baseline's PNG."""
    return Response(await baselines.image(recording_id, baseline_id), media_type="image/png", headers=IMAGE_HEADERS)


@router.post("/api/runs/{run_id}/steps/{step_index}/approve-baseline", dependencies=needs(Scope.RUN),
             response_model=BaselinePublic, responses=errors(404, 422))
async def approve_baseline(run_id: UUID, step_index: Annotated[int, Path(ge=0, lt=limits.MAX_STEPS)],
                           baselines: BaselineServiceDep, request: Request) -> BaselinePublic:
    """The run's compared image of the step (`visual-actual`, its latest attempt that has one) becomes its
    recording's baseline for that step and viewport; later runs compare with it. 404 when the run has no such
    image; 422 for a run of no saved recording."""
    return baseline_public(await baselines.approve(run_id, step_index, actor(request)), request)
