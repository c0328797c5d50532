"""Runs: queue one or a batch, list them, read one with its steps and artifacts, cancel, retry, download artifacts."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Path, Query, Request, Response

from api.auth import actor, needs
from api.deps import RunServiceDep
from api.params import NO_NUL, TIMESTAMP_SCHEMA, Limit, Offset, Timestamp
from api.responses import errors
from api.schemas import RunBatch, RunDetail, RunPage, RunSummary
from api.views import run_detail, run_summary, run_url
from contract import limits
from contract.access import Scope
from contract.options import Priority
from contract.requests import RunBatchRequest, RunRequest
from contract.results import StepResult
from contract.runs import RunStatus
from storage import RunFilters

router = APIRouter(prefix="/api/runs", tags=["runs"])
IdempotencyKey = Annotated[str | None, Header(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]


@router.post("", dependencies=needs(Scope.RUN), status_code=201, response_model=RunSummary, responses={
    200: {"model": RunSummary, "description": "The run an earlier POST with this Idempotency-Key queued"}})
async def create_run(
    body: RunRequest,
    runs: RunServiceDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> RunSummary:
    """Queue a run. With an `Idempotency-Key` header, a repeated POST returns the first run (200)."""
    run, created = await runs.create(body, body.script, body.name, idempotency_key=idempotency_key,
                                     queued_by=actor(request))
    response.status_code = 201 if created else 200
    response.headers["Location"] = run_url(request, run.id)
    return run_summary(run, request)


@router.post("/batch", dependencies=needs(Scope.RUN), status_code=201, response_model=RunBatch, responses={
    200: {"model": RunBatch, "description": "The runs an earlier batch with this Idempotency-Key queued"}})
async def create_runs(body: RunBatchRequest, runs: RunServiceDep, request: Request, response: Response,
                      idempotency_key: IdempotencyKey = None) -> RunBatch:
    """Queue up to 1,000 runs at once (each a `POST /api/runs` body), stored with one insert and queued with one
    BullMQ `addBulk`; the runs come back in the order sent.

    All or nothing: one invalid run refuses the whole batch (422, each problem named where it is:
    `runs[3].script.steps[1].url`), and nothing is stored or queued. If Redis refuses the jobs, the runs are kept
    and marked `error` ("could not enqueue the run"), and the answer is 503.

    With an `Idempotency-Key` header the key stands for the whole batch: the same batch sent again with it gets the
    first batch's runs (200); another batch with it is refused (422 naming the header). Each run keeps
    `<key>/runs[<i>]` as its own key."""
    created_runs, created = await runs.create_batch(body.runs, idempotency_key=idempotency_key,
                                                    queued_by=actor(request))
    response.status_code = 201 if created else 200
    return RunBatch(runs=[run_summary(run, request) for run in created_runs])


@router.get("", response_model=RunPage, dependencies=needs(Scope.READ))
async def list_runs(
    runs: RunServiceDep,
    request: Request,
    status: Annotated[RunStatus | None, Query(description="Only this status")] = None,
    priority: Annotated[Priority | None, Query(description="Only this priority")] = None,
    schedule: Annotated[UUID | None, Query(description="Only runs this schedule made")] = None,
    flaky: Annotated[bool | None, Query(description="Only runs that passed after a failed attempt (true), or the "
                                                    "others (false)")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    name: Annotated[str | None, Query(max_length=300, pattern=NO_NUL,
                                      description="Recording name contains (any case)")] = None,
    worker: Annotated[str | None, Query(max_length=200, pattern=NO_NUL, description="Run by this worker")] = None,
    q: Annotated[str | None, Query(max_length=300, pattern=NO_NUL,
                                   description="Name or error contains (any case)")] = None,
    created_from: Annotated[Timestamp | None, Query(alias="from", description="Created at or after",
                                                    json_schema_extra=TIMESTAMP_SCHEMA)] = None,
    created_to: Annotated[Timestamp | None, Query(alias="to", description="Created at or before",
                                                  json_schema_extra=TIMESTAMP_SCHEMA)] = None,
    before: Annotated[int | None, Query(ge=1, le=limits.MAX_INT64,
                                        description="Keyset cursor: runs numbered below this")] = None,
) -> RunPage:
    """This queue's runs, newest first. Page with `before=<nextCursor>` (fast at any depth) or `offset`."""
    filters = RunFilters(status=status, name=name, worker=worker, search=q, created_from=created_from,
                         created_to=created_to, priority=priority, schedule_id=schedule, flaky=flaky)
    page, total = await runs.page(limit=limit, offset=offset, filters=filters, before=before)
    next_cursor = page[-1].number if len(page) == limit else None
    # A list never carries the options' secrets (variables, headers, storageState values), whoever asks.
    items = [run_summary(run, request, reveal_secrets=False) for run in page]
    return RunPage(items=items, total=total, limit=limit, offset=offset, next_cursor=next_cursor)


@router.get("/{run_id}/attempts/{attempt}/steps", dependencies=needs(Scope.READ), response_model=list[StepResult],
            responses=errors(404))
async def attempt_steps(run_id: UUID, attempt: Annotated[int, Path(ge=1, le=1_000_000)],
                        runs: RunServiceDep) -> list[StepResult]:
    """The steps of one attempt (a run keeps every attempt: retried, stalled, handed back)."""
    return await runs.attempt_steps(run_id, attempt)


@router.get("/{run_id}", dependencies=needs(Scope.READ), response_model=RunDetail, name="get_run",
            responses=errors(404))
async def get_run(run_id: UUID, runs: RunServiceDep, request: Request) -> RunDetail:
    """One run: status, attempts, timings, the latest attempt's steps, and links to its artifacts."""
    return run_detail(await runs.view(run_id), request)


@router.post("/{run_id}/cancel", dependencies=needs(Scope.RUN), response_model=RunSummary, responses=errors(404, 409))
async def cancel_run(run_id: UUID, runs: RunServiceDep, request: Request) -> RunSummary:
    """Cancel a queued or running run (409 when it already ended)."""
    return run_summary(await runs.cancel(run_id, by=actor(request)), request)


@router.post("/{run_id}/retry", dependencies=needs(Scope.RUN), status_code=201, response_model=RunSummary,
             responses=errors(404))
async def retry_run(run_id: UUID, runs: RunServiceDep, request: Request, response: Response) -> RunSummary:
    """Queue a new run with the same recording and options; the new run links back to this one."""
    copy = await runs.copy(await runs.get(run_id), queued_by=actor(request))
    response.headers["Location"] = run_url(request, copy.id)
    return run_summary(copy, request)
