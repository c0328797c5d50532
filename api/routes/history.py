"""Run history: a saved recording's last runs, pass rate and median duration over a window of days, and two of
its runs compared step by step. Only this API's queue's runs, as everywhere."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request

from api.auth import needs
from api.deps import HistoryServiceDep
from api.responses import errors
from api.schemas import RecordingHistoryPublic, RunComparisonPublic
from api.views import flakiness_public, recording_history, run_comparison
from contract.access import Scope

router = APIRouter(tags=["history"])

MAX_HISTORY_RUNS = 200
MAX_HISTORY_DAYS = 366


@router.get("/api/recordings/{recording_id}/history", dependencies=needs(Scope.READ),
            response_model=RecordingHistoryPublic, responses=errors(404))
async def get_recording_history(
    recording_id: UUID,
    history: HistoryServiceDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_HISTORY_RUNS, description="Runs listed, newest first")] = 20,
    days: Annotated[int, Query(ge=1, le=MAX_HISTORY_DAYS, description="The window: runs created in the last "
                                                                      "this many days")] = 30,
) -> RecordingHistoryPublic:
    """The recording's runs created in the window (newest first, with the step each failed at), their counts by
    status, pass rate (passed among passed, failed and error) and median duration (of those that finished); and its
    flakiness over its last FLAKY_WINDOW_RUNS passed or failed runs (README "Flaky tests and quarantine")."""
    recording, found = await history.of_recording(recording_id, days=days, limit=limit)
    flakiness = await history.flakiness(recording_id)
    return recording_history(recording, found, request,
                             flakiness_public(*flakiness) if flakiness is not None else None)


@router.get("/api/runs/compare", dependencies=needs(Scope.READ), response_model=RunComparisonPublic,
            responses=errors(404))
async def compare_runs(
    history: HistoryServiceDep,
    request: Request,
    a: Annotated[UUID, Query(description="A run of a saved recording (the earlier one, usually)")],
    b: Annotated[UUID, Query(description="Another run of the same recording")],
) -> RunComparisonPublic:
    """Two runs of one saved recording, step by step (each run's latest attempt): each step's status, duration and
    error on both sides, the change in duration, and the first step that differs (status, error text, or present
    on one side only). 422 naming `a` or `b` for a run of no recording or runs of two recordings; 404 for an
    unknown run."""
    return run_comparison(await history.compare(a, b), request)
