"""Dead letter: runs whose job failed for good, and queuing one of them again."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from api.auth import actor, needs
from api.deps import DeadLetterServiceDep
from api.params import Limit, Offset
from api.responses import errors
from api.schemas import DeadLetterPage, RunSummary
from api.views import dead_job, run_summary, run_url
from contract.access import Scope

router = APIRouter(prefix="/api/dead-letter", tags=["dead letter"])


@router.get("", response_model=DeadLetterPage, dependencies=needs(Scope.READ))
async def dead_letter(
    dead: DeadLetterServiceDep,
    request: Request,
    limit: Limit = 50,
    offset: Offset = 0,
) -> DeadLetterPage:
    """Permanently failed jobs of this queue, newest first, with their run's status and reason."""
    entries, total = await dead.page(limit=limit, offset=offset)
    return DeadLetterPage(jobs=[dead_job(entry, request) for entry in entries], total=total, limit=limit,
                          offset=offset)


@router.post("/{run_id}/retry", dependencies=needs(Scope.ADMIN), status_code=201, response_model=RunSummary,
             responses=errors(404, 409))
async def retry_dead(run_id: UUID, dead: DeadLetterServiceDep, request: Request, response: Response) -> RunSummary:
    """Queue the dead run again as a new run (linked by `retryOf`) and take its job off the list."""
    copy = await dead.retry(run_id, by=actor(request))
    response.headers["Location"] = run_url(request, copy.id)
    return run_summary(copy, request)
