"""Which run a job is for. Reprise's own jobs name it (`{"runId": ...}`); any other BullMQ producer may add a job
whose data is a run request (the body of `POST /api/runs`, `contract.requests.RunRequest`; docs/job-format.md),
and a schedule's tick names its schedule (`{"scheduleId": ...}`). Such a job gets its run recorded here, linked to
the job's id, so a job tried again finds the same run and never makes a second one.

A job that cannot be a run fails at once (InvalidJob -> UnrecoverableError), naming the field, with nothing
written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import structlog
from bullmq import Job
from pydantic import ValidationError

from contract.network import BlockedUrl, NetworkPolicy
from contract.requests import RunRequest
from runner.formats import InvalidScript
from runner.formats.admission import admit
from storage import NewRun, RunRepository

log = structlog.get_logger(__name__)


class InvalidJob(Exception):
    """The job's data is not a run Reprise can record (the message names the field)."""


@dataclass(frozen=True)
class SkippedTick:
    """A schedule's tick that makes no run (the schedule's previous run still runs, or it was stopped)."""

    schedule_id: str
    reason: str


class ScheduleTicks(Protocol):
    """Makes the run of a schedule's tick (a job whose data is `{"scheduleId": ...}`)."""

    async def run_for_tick(self, job: Job) -> UUID | SkippedTick: ...


def validation_problem(error: ValidationError) -> str:
    """A pydantic error in one line, each problem with its field: `timeoutMs: Input should be ...; script: ...`."""
    problems = []
    for problem in error.errors(include_url=False):
        field = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        problems.append(f"{field}: {message}" if field else message)
    return "; ".join(problems)


def producer_name(job: Job) -> str:
    """Who queued a producer's run, as its `queuedBy` shows it."""
    return f"bullmq job {job.name}"[:200]


class JobIntake:
    def __init__(self, runs: RunRepository, network: NetworkPolicy, schedules: ScheduleTicks | None = None) -> None:
        self._runs = runs
        self._network = network
        self._schedules = schedules

    async def run_for(self, job: Job) -> UUID | SkippedTick:
        """The id of the job's run, recorded now for a producer's job; InvalidJob when the job cannot be one."""
        data: Any = job.data
        if not isinstance(data, dict):
            raise InvalidJob(f"job {job.id}: its data must be a JSON object (a run request), not "
                             f"{type(data).__name__}")
        if "runId" in data:
            try:
                return UUID(str(data["runId"]))
            except ValueError:
                raise InvalidJob(f"job {job.id}: runId: not a run id: {str(data['runId'])[:100]!r}") from None
        existing = await self._runs.by_job(str(job.id))
        if existing is not None:  # the job is tried again: its run is recorded already
            return existing.id
        if "scheduleId" in data and self._schedules is not None:
            return await self._schedules.run_for_tick(job)
        return await self._record(job, data)

    async def _record(self, job: Job, data: dict[str, Any]) -> UUID:
        try:
            request = RunRequest.model_validate(data)
            script = admit(request.script, request, self._network)
        except ValidationError as error:
            raise InvalidJob(f"job {job.id}: invalid run request: {validation_problem(error)}") from error
        except InvalidScript as error:  # named as the API's 422 names it
            field = f"script.{error.field}" if error.field else "script"
            raise InvalidJob(f"job {job.id}: invalid run request: {field}: {error.message}") from error
        except BlockedUrl as error:
            raise InvalidJob(f"job {job.id}: invalid run request: {error.field}: {error.message}") from error
        run, created = await self._runs.create(NewRun.admitted(
            script, request.script, request, request.name, job_id=str(job.id), queued_by=producer_name(job)))
        if created:
            log.info("run recorded for a producer's job", runId=str(run.id), number=run.number, name=run.name,
                     by=run.queued_by)
        return run.id
