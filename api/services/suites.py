"""Suites: named sets of saved recordings (storage/suites.py), run together as a BullMQ flow (jobs/flows.py); the
suite's result is decided by the worker that takes the flow's parent job (worker/suites.py).

A suite run is written first (the suite run and its children, `queued`, in one transaction), then its flow is added
in one MULTI/EXEC; when Redis refuses, the children end `error` with the reason, the suite run's result is decided
(`error`) and the answer is a 503, as for a single run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog

from api.errors import Conflict, InvalidBatch, InvalidField, ServiceUnavailable
from api.services.runs import RunService, admission_problem
from contract.network import BlockedUrl, NetworkPolicy
from contract.options import Priority, RunOptions
from contract.suites import SuiteCreate, SuitePatch, child_options
from jobs.flows import SuiteFlows
from jobs.queue import RunJob
from runner.formats import InvalidScript
from runner.formats.admission import admit
from storage import (
    InvalidTransition,
    NewRun,
    RecordingsMissing,
    RunRecord,
    RunRepository,
    SuiteRecord,
    SuiteRepository,
    SuiteRunRecord,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SuiteRunView:
    suite_run: SuiteRunRecord
    runs: list[RunRecord]


def _set_fields(options: RunOptions) -> dict[str, Any]:
    """What a suite keeps of run options: only the fields given (camelCase JSON), so a run request's own fields
    still win over them and defaults the suite never set stay the product's."""
    return options.model_dump(mode="json", by_alias=True, exclude_unset=True)


class SuiteService:
    def __init__(self, suites: SuiteRepository, runs: RunRepository, run_service: RunService, flows: SuiteFlows,
                 network: NetworkPolicy | None = None) -> None:
        self._suites = suites
        self._runs = runs
        self._run_service = run_service
        self._flows = flows
        self._network = network if network is not None else NetworkPolicy()

    async def create(self, body: SuiteCreate, *, created_by: str | None) -> SuiteRecord:
        """SuiteNameTaken (409); InvalidField naming `recordingIds[i]` for a recording that does not exist."""
        try:
            suite = await self._suites.create(name=body.name, recording_ids=body.recording_ids,
                                              defaults=_set_fields(body.defaults), created_by=created_by)
        except RecordingsMissing as error:
            raise InvalidField(f"recordingIds[{error.positions[0]}]", str(error)) from None
        log.info("suite created", suiteId=str(suite.id), name=suite.name, recordings=len(suite.recording_ids),
                 by=created_by)
        return suite

    async def get(self, suite_id: UUID) -> SuiteRecord:
        return await self._suites.get(suite_id)

    async def page(self, *, name: str | None, limit: int, offset: int) -> tuple[list[SuiteRecord], int]:
        return await self._suites.list_page(name=name, limit=limit, offset=offset)

    async def update(self, suite_id: UUID, change: SuitePatch) -> SuiteRecord:
        try:
            return await self._suites.update(
                suite_id, name=change.name, recording_ids=change.recording_ids,
                defaults=_set_fields(change.defaults) if change.defaults is not None else None)
        except RecordingsMissing as error:
            raise InvalidField(f"recordingIds[{error.positions[0]}]", str(error)) from None

    async def delete(self, suite_id: UUID) -> None:
        """Its suite runs and their runs stay."""
        await self._suites.delete(suite_id)
        log.info("suite deleted", suiteId=str(suite_id))

    async def run(self, suite_id: UUID, request: RunOptions, *, queued_by: str | None) -> SuiteRunView:
        """One child run per recording with the suite's defaults and `request` over them, each admitted as
        `POST /api/recordings/{id}/runs` would be (InvalidBatch names each refused one, `recordings[i]`, and nothing
        is stored), then queued as one flow."""
        suite = await self._suites.get(suite_id)
        recordings = await self._suites.recordings_to_run(suite_id)
        if not recordings:
            raise InvalidField("recordingIds", f"suite {suite.name!r} has no recordings (they were deleted)")
        defaults = RunOptions.model_validate(suite.defaults)
        children: list[NewRun] = []
        plans: list[tuple[int, Priority]] = []  # each child's job: its retries and priority
        problems: list[tuple[str, str]] = []
        codes: list[str] = []
        for index, recording in enumerate(recordings):
            try:
                options = child_options(defaults, request)
                script = admit(recording.script, options, self._network)
            except (InvalidScript, BlockedUrl) as error:
                code, field, message = admission_problem(error, f"recordings[{index}]")
                codes.append(code)
                problems.append((field, f"{recording.name}: {message}"))
                continue
            child = NewRun.admitted(script, recording.script, options, recording.name,
                                    default_priority=recording.priority, recording_id=recording.id,
                                    queued_by=queued_by)
            children.append(child)
            plans.append((options.retries, options.priority or recording.priority))
        if problems:
            raise InvalidBatch(codes[0], problems)
        suite_run_id, runs = await self._suites.start_run(suite, children, options=_set_fields(request),
                                                          queued_by=queued_by)
        jobs = [RunJob(run.id, retries, priority) for run, (retries, priority) in zip(runs, plans, strict=True)]
        try:
            await self._flows.enqueue(suite_run_id, jobs)
        except Exception as error:
            reason = f"could not enqueue the run: {error}"
            log.error("suite enqueue failed", suiteRunId=str(suite_run_id), error=str(error))
            await self._runs.fail_unstarted_batch([run.id for run in runs], reason)
            await self._suites.finish(suite_run_id)
            raise ServiceUnavailable("redis", str(error)) from error
        log.info("suite run queued", suiteRunId=str(suite_run_id), suite=suite.name, runs=len(runs), by=queued_by)
        return await self.view(suite_run_id)

    async def view(self, suite_run_id: UUID) -> SuiteRunView:
        return SuiteRunView(await self._suites.get_run(suite_run_id), await self._suites.children(suite_run_id))

    async def runs_page(self, *, suite_id: UUID | None, limit: int, offset: int,
                        ) -> tuple[list[SuiteRunRecord], int]:
        return await self._suites.runs_page(suite_id=suite_id, limit=limit, offset=offset)

    async def cancel(self, suite_run_id: UUID, *, by: str | None) -> SuiteRunView:
        """Cancel every child that has not ended; the suite's result, when the queue decides it, is `cancelled`.
        Conflict (409) when the suite run is final already."""
        if not await self._suites.request_cancel(suite_run_id):
            suite_run = await self._suites.get_run(suite_run_id)
            raise Conflict(f"suite run {suite_run_id} is already {suite_run.state}")
        cancelled = 0
        for run in await self._suites.children(suite_run_id):
            if run.is_final:
                continue
            try:
                await self._run_service.cancel(run.id, by=by)
                cancelled += 1
            except InvalidTransition:
                pass  # it ended meanwhile
        log.info("suite run cancelled", suiteRunId=str(suite_run_id), runsCancelled=cancelled, by=by)
        return await self.view(suite_run_id)
