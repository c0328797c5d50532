"""Runs: queue one, list them, read one with its steps and artifacts, cancel, retry, download artifacts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import FileResponse

from api.deps import Services, ServicesDep
from api.errors import ServiceUnavailable
from api.schemas import (
    ArtifactPublic,
    AttemptPublic,
    RunCreate,
    RunDetail,
    RunPage,
    RunSummary,
)
from contract.options import RunOptions
from contract.results import StepResult
from contract.runs import FailureCategory, StepStatus
from runner.formats import prepare_script
from storage import ArtifactNotFound, NewRun, RunFilters, RunNotFound, RunRecord, StepRecord

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/runs", tags=["runs"])

RunStatusFilter = Query(
    default=None, pattern="^(queued|running|passed|failed|error|cancelled)$", description="Only this status"
)


def _summary_fields(run: RunRecord, request: Request) -> dict[str, Any]:
    return {
        "id": run.id,
        "number": run.number,
        "name": run.name,
        "format": run.script_format,
        "status": run.status,
        "attempts": run.attempts,
        "worker": run.worker_name,
        "error": run.error,
        "error_category": run.error_category,
        "options": run.options,
        "actions_executed": run.actions_executed,
        "duration_ms": run.duration_ms,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "retry_of": run.retry_of,
        "recording_id": run.recording_id,
        "import_warnings": run.import_warnings,
        "url": str(request.url_for("get_run", run_id=run.id)),
    }


async def _enqueue(services: Services, run: RunRecord) -> None:
    """Add the job; if Redis refuses, the run is marked `error` with the reason rather than left queued."""
    try:
        await services.queue.enqueue(run.id, int(run.options.get("retries", 0)))
    except Exception as error:
        reason = f"could not enqueue the run: {error}"
        log.error("enqueue failed", runId=str(run.id), error=str(error))
        await services.runs.fail_unstarted(run.id, reason)
        raise ServiceUnavailable("redis", str(error)) from error


async def create_and_enqueue(services: Services, new_run: NewRun, request: Request,
                              response: Response) -> RunSummary:
    run, created = await services.runs.create(new_run)
    if created:
        await _enqueue(services, run)
        log.info("run queued", runId=str(run.id), number=run.number, name=run.name)
        response.status_code = 201
    else:
        response.status_code = 200
    response.headers["Location"] = str(request.url_for("get_run", run_id=run.id))
    return RunSummary(**_summary_fields(run, request))


async def new_run_from(services: Services, options: RunOptions, script_data: dict[str, Any], name: str | None,
                       *, idempotency_key: str | None = None, recording_id: UUID | None = None) -> NewRun:
    """A run to create from a validated request: the script parsed (422 naming the field), options as sent."""
    # Validate with stand-ins for the secrets: their values exist only on the workers.
    script = prepare_script(script_data, options.variables, {secret: "secret" for secret in options.secrets})
    # Everything but the recording and its name is a replay option, stored as sent (camelCase).
    stored_options = options.model_dump(by_alias=True, exclude_none=True, exclude={"script", "name"})
    return NewRun(
        name=name or script.name,
        script_format=script.format,
        script=script_data,
        options=stored_options,
        idempotency_key=idempotency_key,
        recording_id=recording_id,
        import_warnings=[note.to_json() for note in script.warnings],
    )


@router.post("", status_code=201, response_model=RunSummary)
async def create_run(
    body: RunCreate,
    services: ServicesDep,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> RunSummary:
    """Queue a run. With an `Idempotency-Key` header, a repeated POST returns the first run (200)."""
    new_run = await new_run_from(services, body, body.script, body.name, idempotency_key=idempotency_key)
    return await create_and_enqueue(services, new_run, request, response)


@router.get("", response_model=RunPage)
async def list_runs(
    services: ServicesDep,
    request: Request,
    status: str | None = RunStatusFilter,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    name: Annotated[str | None, Query(max_length=300, description="Recording name contains (any case)")] = None,
    worker: Annotated[str | None, Query(max_length=200, description="Run by this worker")] = None,
    q: Annotated[str | None, Query(max_length=300, description="Name or error contains (any case)")] = None,
    created_from: Annotated[datetime | None, Query(alias="from", description="Created at or after")] = None,
    created_to: Annotated[datetime | None, Query(alias="to", description="Created at or before")] = None,
    before: Annotated[int | None, Query(ge=1, description="Keyset cursor: runs numbered below this")] = None,
) -> RunPage:
    """Runs, newest first. Page with `before=<nextCursor>` (fast at any depth) or `offset`."""
    filters = RunFilters(status=status, name=name, worker=worker, search=q, created_from=created_from,
                         created_to=created_to)
    runs, total = await services.runs.list_page(limit=limit, offset=offset, filters=filters, before=before)
    items = [RunSummary(**_summary_fields(run, request)) for run in runs]
    next_cursor = runs[-1].number if len(runs) == limit else None
    return RunPage(items=items, total=total, limit=limit, offset=offset, next_cursor=next_cursor)


def _step_public(step: StepRecord) -> StepResult:
    return StepResult(
        index=step.step_index,
        type=step.step_type,
        status=StepStatus(step.status),
        duration_ms=step.duration_ms,
        started_offset_ms=step.started_offset_ms,
        selector=step.selector,
        error=step.error,
        category=FailureCategory(step.error_category) if step.error_category else None,
    )


@router.get("/{run_id}/attempts/{attempt}/steps", response_model=list[StepResult])
async def attempt_steps(run_id: UUID, attempt: Annotated[int, Path(ge=1)], services: ServicesDep) -> list[StepResult]:
    """The steps of one attempt (a run keeps every attempt: retried, stalled, handed back)."""
    run = await services.runs.get(run_id)
    if attempt > run.attempts:
        raise RunNotFound(f"run {run_id} has no attempt {attempt} (it has {run.attempts})")
    return [_step_public(step) for step in await services.runs.steps(run_id, attempt)]


@router.get("/{run_id}", response_model=RunDetail, name="get_run")
async def get_run(run_id: UUID, services: ServicesDep, request: Request) -> RunDetail:
    """One run: status, attempts, timings, the latest attempt's steps, and links to its artifacts."""
    run = await services.runs.get(run_id)
    steps = await services.runs.steps(run_id, run.attempts) if run.attempts else []
    attempts = await services.runs.attempts(run_id)
    artifacts = await services.runs.artifacts(run_id)
    artifact_views = [
        ArtifactPublic(
            id=artifact.id,
            kind=artifact.kind,
            attempt=artifact.attempt,
            step=artifact.step_index,
            content_type=artifact.content_type,
            size_bytes=artifact.size_bytes,
            url=str(request.url_for("download_artifact", run_id=run_id, artifact_id=artifact.id)),
        )
        for artifact in artifacts
    ]
    latest = [artifact for artifact in artifact_views if artifact.attempt == run.attempts]
    videos = [artifact.url for artifact in latest if artifact.kind == "video"]
    return RunDetail(
        **_summary_fields(run, request),
        steps=[_step_public(step) for step in steps],
        attempt_history=[
            AttemptPublic(
                attempt=attempt.attempt,
                worker=attempt.worker_name,
                status=attempt.status,
                error=attempt.error,
                category=attempt.error_category,
                started_at=attempt.started_at,
                finished_at=attempt.finished_at,
            )
            for attempt in attempts
        ],
        artifacts=artifact_views,
        video_url=videos[0] if videos else None,
        screenshot_urls=[artifact.url for artifact in latest if artifact.kind == "screenshot"],
    )


@router.post("/{run_id}/cancel", response_model=RunSummary)
async def cancel_run(run_id: UUID, services: ServicesDep, request: Request) -> RunSummary:
    """Cancel a queued or running run (409 when it already ended)."""
    run = await services.runs.cancel(run_id, "cancelled by request")
    removed = await services.queue.remove(run_id)
    if not removed:
        # Running somewhere: the worker that holds it is told to stop.
        await services.queue.request_cancel(run_id)
    log.info("run cancelled", runId=str(run_id), removedFromQueue=removed)
    return RunSummary(**_summary_fields(run, request))


@router.post("/{run_id}/retry", status_code=201, response_model=RunSummary)
async def retry_run(run_id: UUID, services: ServicesDep, request: Request, response: Response) -> RunSummary:
    """Queue a new run with the same recording and options; the new run links back to this one."""
    return await queue_copy(services, await services.runs.get(run_id), request, response)


async def queue_copy(services: Services, original: RunRecord, request: Request, response: Response) -> RunSummary:
    """A new run with `original`'s recording and options, linked back to it, queued."""
    new_run = NewRun(
        name=original.name,
        script_format=original.script_format,
        script=original.script,
        options=original.options,
        retry_of=original.id,
        import_warnings=original.import_warnings,
    )
    return await create_and_enqueue(services, new_run, request, response)


@router.get("/{run_id}/artifacts/{artifact_id}", name="download_artifact")
async def download_artifact(run_id: UUID, artifact_id: int, services: ServicesDep) -> FileResponse:
    """The artifact file; answers Range requests (206) so a video player can seek."""
    artifact = await services.runs.artifact(run_id, artifact_id)
    if artifact is None:
        raise ArtifactNotFound(f"run {run_id} has no artifact {artifact_id}")
    path = services.artifacts.local_path(artifact.storage_key)
    # A saved page (or anything else recorded from the site under test) must not run in our origin.
    headers = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}
    return FileResponse(path, media_type=artifact.content_type, filename=path.name,
                        content_disposition_type="inline", headers=headers)
