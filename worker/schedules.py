"""A schedule's tick -> its run (or a skipped tick), for worker.intake's `ScheduleTicks`.

BullMQ's job scheduler makes one job per tick (jobs/schedules.py); the worker that takes it reads the schedule
with its row locked (storage.schedules.Tick), decides (`judge_tick`, a value), and records the run, counts a
skipped tick or stops the schedule, in that one transaction. The run is then replayed by the same job, as any
other (worker/processor.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

import structlog
from bullmq import Job
from pydantic import ValidationError

from contract.network import BlockedUrl, NetworkPolicy
from contract.options import DEFAULT_PRIORITY, RunOptions
from contract.schedules import ScheduleState
from jobs.schedules import ScheduleQueue
from runner.formats import InvalidScript
from runner.formats.admission import admit
from storage import NewRun, ScheduleRepository, deleted_recording_reason
from storage.schedules import TickedSchedule
from worker.intake import InvalidJob, SkippedTick, validation_problem

log = structlog.get_logger(__name__)


class TickAction(StrEnum):
    RUN = "run"  # record the tick's run
    SKIP = "skip"  # count the tick as skipped (its previous run still runs)
    STOP = "stop"  # stop the schedule for good (its recording is gone)
    IGNORE = "ignore"  # the schedule is gone, paused or stopped: nothing to count


@dataclass(frozen=True)
class TickVerdict:
    action: TickAction
    reason: str = ""
    remove_scheduler: bool = False  # the schedule will never tick again: its BullMQ scheduler goes


def judge_tick(schedule: TickedSchedule | None, unfinished_run: int | None) -> TickVerdict:
    """What a tick does, given its schedule (None: deleted) and the number of the schedule's run still queued or
    running (None: none is)."""
    if schedule is None:
        return TickVerdict(TickAction.IGNORE, "the schedule was deleted", remove_scheduler=True)
    if schedule.state == ScheduleState.STOPPED:
        return TickVerdict(TickAction.IGNORE, "the schedule is stopped", remove_scheduler=True)
    if schedule.state == ScheduleState.PAUSED:
        return TickVerdict(TickAction.IGNORE, "the schedule is paused")
    if schedule.recording_script is None:
        return TickVerdict(TickAction.STOP, deleted_recording_reason(schedule.recording_name),
                           remove_scheduler=True)
    if schedule.skip_if_running and unfinished_run is not None:
        return TickVerdict(TickAction.SKIP, f"run #{unfinished_run} of this schedule is still queued or running")
    return TickVerdict(TickAction.RUN)


def schedule_actor(name: str) -> str:
    """Who queued a schedule's run, as its `queuedBy` shows it."""
    return f"schedule {name}"[:200]


class ScheduledRuns:
    """The worker's `ScheduleTicks`: one queue's schedules, their BullMQ schedulers, and the network policy the
    recordings are admitted under."""

    def __init__(self, schedules: ScheduleRepository, schedulers: ScheduleQueue, network: NetworkPolicy) -> None:
        self._schedules = schedules
        self._schedulers = schedulers
        self._network = network

    async def run_for_tick(self, job: Job) -> UUID | SkippedTick:
        raw = job.data.get("scheduleId") if isinstance(job.data, dict) else None
        try:
            schedule_id = UUID(str(raw))
        except ValueError:
            raise InvalidJob(f"job {job.id}: scheduleId: not a schedule id: {str(raw)[:100]!r}") from None
        async with self._schedules.tick(schedule_id) as tick:
            schedule = tick.schedule
            active = schedule is not None and schedule.state == ScheduleState.ACTIVE
            verdict = judge_tick(schedule, await tick.unfinished_run() if active else None)
            run_id: UUID | None = None
            if verdict.action == TickAction.RUN:
                assert schedule is not None and schedule.recording_script is not None
                try:
                    new_run = self._new_run(schedule, str(job.id))
                except (ValidationError, InvalidScript, BlockedUrl) as error:
                    problem = validation_problem(error) if isinstance(error, ValidationError) else str(error)
                    verdict = TickVerdict(TickAction.SKIP, f"the recording cannot run: {problem}"[:500])
                else:
                    run, created = await tick.record(new_run)
                    run_id = run.id
                    if created:
                        log.info("schedule's run recorded", scheduleId=str(schedule_id), runId=str(run.id),
                                 number=run.number, name=run.name)
            if verdict.action == TickAction.SKIP:
                await tick.skip(verdict.reason)
            elif verdict.action == TickAction.STOP:
                await tick.stop(verdict.reason)
                log.warning("schedule stopped", scheduleId=str(schedule_id), reason=verdict.reason)
        if verdict.remove_scheduler:
            await self._remove_scheduler(schedule_id)
        if run_id is not None:
            return run_id
        return SkippedTick(str(schedule_id), verdict.reason)

    def _new_run(self, schedule: TickedSchedule, job_id: str) -> NewRun:
        """The tick's run (InvalidScript, BlockedUrl or ValidationError when it cannot be one here)."""
        assert schedule.recording_script is not None
        options = RunOptions.model_validate(schedule.options)
        script = admit(schedule.recording_script, options, self._network)
        return NewRun.admitted(script, schedule.recording_script, options, schedule.recording_name,
                               default_priority=schedule.recording_priority or DEFAULT_PRIORITY,
                               recording_id=schedule.recording_id, queued_by=schedule_actor(schedule.name),
                               job_id=job_id, schedule_id=schedule.id)

    async def _remove_scheduler(self, schedule_id: UUID) -> None:
        try:
            await self._schedulers.remove(schedule_id)
        except Exception as error:  # its next tick tries again
            log.warning("could not remove the schedule's BullMQ scheduler", scheduleId=str(schedule_id),
                        error=repr(error))
