"""Suites and suite runs: a named set of saved recordings with shared run options (`defaults`), run together; the
suite run's result is decided once, when every child run is final. Writing suites and running them needs a `run`
key, as for recordings; reading, any key."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Query, Request, Response

from api.auth import actor, needs
from api.deps import SuiteServiceDep
from api.params import NO_NUL, Limit, Offset
from api.responses import errors
from api.schemas import SuitePage, SuitePublic, SuiteRunDetail, SuiteRunPage
from api.views import suite_public, suite_run_detail, suite_run_summary
from contract.access import Scope
from contract.options import RunOptions
from contract.suites import SuiteCreate, SuitePatch

router = APIRouter(tags=["suites"])


@router.post("/api/suites", status_code=201, response_model=SuitePublic, dependencies=needs(Scope.RUN),
             responses=errors(409))
async def create_suite(body: SuiteCreate, suites: SuiteServiceDep, request: Request,
                       response: Response) -> SuitePublic:
    """A recording that does not exist is a 422 naming it (`recordingIds[2]`); a name taken, a 409."""
    suite = await suites.create(body, created_by=actor(request))
    public = suite_public(suite, request)
    response.headers["Location"] = public.url
    return public


@router.get("/api/suites", response_model=SuitePage, dependencies=needs(Scope.READ))
async def list_suites(
    suites: SuiteServiceDep, request: Request, limit: Limit = 50, offset: Offset = 0,
    name: Annotated[str | None, Query(min_length=1, max_length=200, pattern=NO_NUL,
                                      description="Only the suite with exactly this name")] = None,
) -> SuitePage:
    page, total = await suites.page(name=name, limit=limit, offset=offset)
    return SuitePage(items=[suite_public(suite, request) for suite in page], total=total, limit=limit, offset=offset)


@router.get("/api/suites/{suite_id}", response_model=SuitePublic, dependencies=needs(Scope.READ),
            responses=errors(404))
async def get_suite(suite_id: UUID, suites: SuiteServiceDep, request: Request) -> SuitePublic:
    return suite_public(await suites.get(suite_id), request)


@router.patch("/api/suites/{suite_id}", response_model=SuitePublic, dependencies=needs(Scope.RUN),
              responses=errors(404, 409))
async def update_suite(suite_id: UUID, body: SuitePatch, suites: SuiteServiceDep, request: Request) -> SuitePublic:
    """What is given replaces what the suite had (`defaults` as a whole)."""
    return suite_public(await suites.update(suite_id, body), request)


@router.delete("/api/suites/{suite_id}", status_code=204, dependencies=needs(Scope.RUN), responses=errors(404))
async def delete_suite(suite_id: UUID, suites: SuiteServiceDep) -> Response:
    """Its suite runs and their runs stay (with the suite's name)."""
    await suites.delete(suite_id)
    return Response(status_code=204)


@router.post("/api/suites/{suite_id}/runs", status_code=201, response_model=SuiteRunDetail,
             dependencies=needs(Scope.RUN), responses=errors(404))
async def run_suite(suite_id: UUID, suites: SuiteServiceDep, request: Request, response: Response,
                    options: Annotated[RunOptions | None, Body()] = None) -> SuiteRunDetail:
    """Queue one run per recording, with the suite's defaults and these options over them (variables merged by
    name); a recording that could not run with them is a 422 naming it (`recordings[1].script...`), and nothing is
    queued."""
    view = await suites.run(suite_id, options or RunOptions(), queued_by=actor(request))
    detail = suite_run_detail(view, request)
    response.headers["Location"] = detail.url
    return detail


@router.get("/api/suite-runs", response_model=SuiteRunPage, dependencies=needs(Scope.READ))
async def list_suite_runs(
    suites: SuiteServiceDep, request: Request, limit: Limit = 50, offset: Offset = 0,
    suite: Annotated[UUID | None, Query(description="Only this suite's runs")] = None,
) -> SuiteRunPage:
    """This queue's suite runs, newest first."""
    page, total = await suites.runs_page(suite_id=suite, limit=limit, offset=offset)
    return SuiteRunPage(items=[suite_run_summary(item, request) for item in page], total=total, limit=limit,
                        offset=offset)


@router.get("/api/suite-runs/{suite_run_id}", response_model=SuiteRunDetail, dependencies=needs(Scope.READ),
            responses=errors(404))
async def get_suite_run(suite_run_id: UUID, suites: SuiteServiceDep, request: Request) -> SuiteRunDetail:
    """Status, counts, duration and every child run."""
    return suite_run_detail(await suites.view(suite_run_id), request)


@router.post("/api/suite-runs/{suite_run_id}/cancel", response_model=SuiteRunDetail, dependencies=needs(Scope.RUN),
             responses=errors(404, 409))
async def cancel_suite_run(suite_run_id: UUID, suites: SuiteServiceDep, request: Request) -> SuiteRunDetail:
    """Cancel every child not ended yet; the suite run ends `cancelled` once they have (409 when it already ended)."""
    return suite_run_detail(await suites.cancel(suite_run_id, by=actor(request)), request)
