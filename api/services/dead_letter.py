"""Dead letter: runs whose job failed for good (infrastructure errors after every attempt, invalid stored
scripts, too many stalls), as BullMQ's failed set of this queue lists them; each can be queued again."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import structlog

from api.errors import Conflict
from api.services.runs import RunService
from jobs.queue import DeadJob, RunQueue
from storage import RunNotFound, RunRecord

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeadLetterEntry:
    job: DeadJob
    run: RunRecord | None  # None when the job names no run of this queue


class DeadLetterService:
    def __init__(self, queue: RunQueue, runs: RunService) -> None:
        self._queue = queue
        self._runs = runs

    async def page(self, *, limit: int, offset: int) -> tuple[list[DeadLetterEntry], int]:
        """Permanently failed jobs, newest first, each with its run."""
        jobs, total = await self._queue.dead_jobs(offset, offset + limit - 1)
        return [DeadLetterEntry(job=job, run=await self._run_of(job)) for job in jobs], total

    async def _run_of(self, job: DeadJob) -> RunRecord | None:
        if job.run_id is None:  # a producer's job: its run, if the worker recorded one, names the job
            return await self._runs.by_job(job.id)
        try:
            return await self._runs.get(UUID(job.run_id))
        except (RunNotFound, ValueError):
            return None

    async def retry(self, run_id: UUID, *, by: str | None = None) -> RunRecord:
        """Queue the dead run again as a new run (linked by `retryOf`) and take its job off the list. Only a dead
        run (its job in the failed set): Conflict for any other (queued, running, passed, ...), whose job this
        must never delete nor copy."""
        run = await self._runs.get(run_id)
        state = await self._queue.job_state(run.job)
        if state != "failed":
            raise Conflict(f"run {run_id} is not in the dead letter (run {run.status}, job "
                           f"{state if state != 'unknown' else 'gone'}); only dead runs can be retried here")
        copy = await self._runs.copy(run, queued_by=by)
        await self._queue.remove_job(run.job)
        log.info("dead run queued again", runId=str(run_id), newRunId=str(copy.id), by=by)
        return copy
