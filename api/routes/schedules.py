"""Schedules: run a saved recording on a cron pattern (seconds allowed, in a time zone) or every N ms; list, read,
change, pause, resume, delete. Changing schedules needs an admin key (contract/access.py); reading them, any key."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from api.auth import actor, needs
from api.deps import ScheduleServiceDep
from api.params import Limit, Offset
from api.responses import errors
from api.schemas import ScheduleCreate, SchedulePage, SchedulePublic, ScheduleUpdate
from api.views import schedule_public, schedule_url
from contract.access import Scope

router = APIRouter(prefix="/api/schedules", tags=["schedules"])


@router.post("", status_code=201, response_model=SchedulePublic, dependencies=needs(Scope.ADMIN))
async def create_schedule(body: ScheduleCreate, schedules: ScheduleServiceDep, request: Request,
                          response: Response) -> SchedulePublic:
    """Run the recording at each tick (one run per tick, however many workers); a bad cron pattern, time zone or
    interval, or an unknown recording, is a 422 naming the field."""
    view = await schedules.create(body, created_by=actor(request))
    response.headers["Location"] = schedule_url(request, view.schedule.id)
    return schedule_public(view, request)


@router.get("", response_model=SchedulePage, dependencies=needs(Scope.READ))
async def list_schedules(schedules: ScheduleServiceDep, request: Request, limit: Limit = 50,
                         offset: Offset = 0) -> SchedulePage:
    """This queue's schedules, newest first, each with its next tick."""
    page, total = await schedules.page(limit=limit, offset=offset)
    return SchedulePage(items=[schedule_public(view, request, reveal_secrets=False) for view in page], total=total,
                        limit=limit, offset=offset)


@router.get("/{schedule_id}", response_model=SchedulePublic, dependencies=needs(Scope.READ), responses=errors(404))
async def get_schedule(schedule_id: UUID, schedules: ScheduleServiceDep, request: Request) -> SchedulePublic:
    return schedule_public(await schedules.view(schedule_id), request)


@router.patch("/{schedule_id}", response_model=SchedulePublic, dependencies=needs(Scope.ADMIN),
              responses=errors(404, 409))
async def update_schedule(schedule_id: UUID, body: ScheduleUpdate, schedules: ScheduleServiceDep,
                          request: Request) -> SchedulePublic:
    """Change its timing, options, name or skipIfRunning (409 once it is stopped)."""
    return schedule_public(await schedules.update(schedule_id, body), request)


@router.delete("/{schedule_id}", status_code=204, dependencies=needs(Scope.ADMIN), responses=errors(404))
async def delete_schedule(schedule_id: UUID, schedules: ScheduleServiceDep) -> Response:
    """No tick runs after this; its runs stay, unlinked."""
    await schedules.delete(schedule_id)
    return Response(status_code=204)


@router.post("/{schedule_id}/pause", response_model=SchedulePublic, dependencies=needs(Scope.ADMIN),
             responses=errors(404, 409))
async def pause_schedule(schedule_id: UUID, schedules: ScheduleServiceDep, request: Request) -> SchedulePublic:
    """No tick until it is resumed (409 once it is stopped)."""
    return schedule_public(await schedules.pause(schedule_id), request)


@router.post("/{schedule_id}/resume", response_model=SchedulePublic, dependencies=needs(Scope.ADMIN),
             responses=errors(404, 409))
async def resume_schedule(schedule_id: UUID, schedules: ScheduleServiceDep, request: Request) -> SchedulePublic:
    """Tick again from now (409 once it is stopped)."""
    return schedule_public(await schedules.resume(schedule_id), request)
