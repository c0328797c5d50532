"""Dead letter: runs whose job failed for good (infrastructure errors after every attempt, invalid stored
scripts, too many stalls), as BullMQ's failed set lists them; each can be queued again as a new run."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Query, Request, Response

from api.deps import ServicesDep
from api.routes.runs import queue_copy
from api.schemas import DeadJob, DeadLetterPage, RunSummary
from storage import RunNotFound

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/dead-letter", tags=["dead letter"])


def _run_id(job: dict[str, Any]) -> str | None:
    data = job.get("data")
    return str(data.get("runId")) if isinstance(data, dict) and data.get("runId") else None


@router.get("", response_model=DeadLetterPage)
async def dead_letter(
    services: ServicesDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DeadLetterPage:
    """Permanently failed jobs, newest first, with their run's status and reason."""
    jobs, total = await services.queue.dead_jobs(offset, offset + limit - 1)
    page: list[DeadJob] = []
    for job in jobs:
        run_id = _run_id(job)
        status = error = category = None
        if run_id is not None:
            try:
                run = await services.runs.get(UUID(run_id))
                status, error, category = run.status, run.error, run.error_category
            except (RunNotFound, ValueError):
                pass
        page.append(DeadJob(
            job_id=job["id"], run_id=run_id, failed_reason=job["failedReason"], attempts_made=job["attemptsMade"],
            failed_at=job["finishedOn"], run_status=status, run_error=error, run_error_category=category,
            run_url=str(request.url_for("get_run", run_id=run_id)) if run_id else None,
        ))
    return DeadLetterPage(jobs=page, total=total, limit=limit, offset=offset)


@router.post("/{run_id}/retry", status_code=201, response_model=RunSummary)
async def retry_dead(run_id: UUID, services: ServicesDep, request: Request, response: Response) -> RunSummary:
    """Queue the dead run again as a new run (linked by `retryOf`) and take its job off the list."""
    original = await services.runs.get(run_id)
    summary = await queue_copy(services, original, request, response)
    await services.queue.remove_job(run_id)
    log.info("dead run queued again", runId=str(run_id), newRunId=str(summary.id))
    return summary
