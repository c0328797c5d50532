"""Orphan sweep: runs left `queued` or `running` that nothing will ever finish.

A run is an orphan when its BullMQ job is gone (Redis flushed or restarted without persistence, a job
removed by hand) or dead (failed after `maxStalledCount` stalls; completed without a result). Checked on
worker start and every WORKER_SWEEP_INTERVAL_SECONDS, by one worker at a time (a Redis lock):
- job gone, no live worker replaying the run: a new job is added (the run goes back to `queued`); after
  JOB_MAX_ATTEMPTS + retries attempts it ends `error` [lost] instead;
- job failed: the run ends `error` with the job's reason ([stalled] when it stalled too often);
- job completed while the run is unfinished: `error` [lost].
Waiting, delayed and active jobs are BullMQ's to handle (locks and stalled-job detection).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import structlog
from redis.asyncio import Redis

from contract.runs import FailureCategory
from jobs.keys import sweep_lock_key
from jobs.queue import RunQueue
from jobs.registry import WorkerRegistry
from storage import RunRecord, RunRepository

log = structlog.get_logger(__name__)

LIVE_JOB_STATES = frozenset({"waiting", "wait", "delayed", "prioritized", "paused", "active", "waiting-children"})


class OrphanAction(StrEnum):
    LEAVE = "leave"  # someone will finish it: a live worker replays it, or BullMQ still holds its job
    REQUEUE = "requeue"  # its job vanished: a new job, the run back to `queued`
    END = "end"  # nobody will: `error` with the reason


@dataclass(frozen=True)
class OrphanVerdict:
    action: OrphanAction
    reason: str | None = None
    category: FailureCategory | None = None


def judge_orphan(run: RunRecord, *, job_state: str, failed_reason: str | None, replaying: bool,
                 max_attempts: int, found_by: str) -> OrphanVerdict:
    """What the sweep does with a quiet unfinished run, given its job's BullMQ state (a decision, no I/O)."""
    if replaying or job_state in LIVE_JOB_STATES:
        return OrphanVerdict(OrphanAction.LEAVE)
    if job_state == "failed":
        reason = failed_reason or "its job failed"
        category = FailureCategory.STALLED if "stalled" in reason else FailureCategory.INFRASTRUCTURE
        return OrphanVerdict(OrphanAction.END, f"job failed: {reason}", category)
    if job_state == "completed":
        return OrphanVerdict(OrphanAction.END, "its job completed without recording a result", FailureCategory.LOST)
    if run.attempts >= max_attempts + run.replay_options().retries:
        return OrphanVerdict(OrphanAction.END, f"its job vanished from the queue after {run.attempts} attempts",
                             FailureCategory.LOST)
    return OrphanVerdict(OrphanAction.REQUEUE, f"its job vanished from the queue (found by {found_by}); queued again")


@dataclass
class SweepReport:
    checked: int = 0
    requeued: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)


class OrphanSweeper:
    def __init__(self, *, runs: RunRepository, queue: RunQueue, registry: WorkerRegistry, redis: Redis,
                 worker_name: str, quiet_for_s: float, replaying_here: Callable[[], list[str]] = list) -> None:
        self._runs = runs
        self._queue = queue
        self._registry = registry
        self._redis = redis
        self._worker_name = worker_name
        self._quiet_for_s = quiet_for_s
        # This worker's own runs: after a Redis restart its heartbeat may not be back yet.
        self._replaying_here = replaying_here

    async def sweep(self) -> SweepReport:
        report = SweepReport()
        candidates = await self._runs.unfinished(quiet_for_s=self._quiet_for_s)
        replaying: set[str] = set()
        if candidates:
            replaying = {run_id for worker in await self._registry.live_workers()
                         for run_id in worker.get("activeRuns", [])} | set(self._replaying_here())
        for run in candidates:
            report.checked += 1
            replayed = str(run.id) in replaying
            state = "" if replayed else await self._queue.job_state(run.job)
            verdict = judge_orphan(
                run, job_state=state, replaying=replayed, max_attempts=self._queue.retry_policy.max_attempts,
                failed_reason=await self._queue.failed_reason(run.job) if state == "failed" else None,
                found_by=self._worker_name)
            await self._carry_out(run, verdict, report)
        if report.requeued or report.ended:
            log.warning("orphan sweep", queue=self._queue.name, checked=report.checked, requeued=report.requeued,
                        ended=report.ended)
        else:
            log.info("orphan sweep", queue=self._queue.name, checked=report.checked)
        return report

    async def _carry_out(self, run: RunRecord, verdict: OrphanVerdict, report: SweepReport) -> None:
        if verdict.action == OrphanAction.END:
            assert verdict.reason is not None and verdict.category is not None
            if await self._runs.end_orphan(run.id, verdict.reason, verdict.category) is not None:
                report.ended.append(str(run.id))
                log.warning("orphaned run ended", runId=str(run.id), reason=verdict.reason,
                            category=verdict.category)
        elif verdict.action == OrphanAction.REQUEUE:
            assert verdict.reason is not None
            if await self._runs.requeue_orphan(run.id, verdict.reason) is None:
                return
            options = run.replay_options()
            await self._queue.enqueue(run.id, options.retries, options.queue_priority, run.job_id)
            report.requeued.append(str(run.id))
            log.warning("orphaned run queued again", runId=str(run.id), status=run.status, attempts=run.attempts)

    async def sweep_if_due(self, interval_s: float) -> SweepReport | None:
        """Sweep unless another worker swept within the interval (a Redis lock that expires by itself)."""
        acquired = await self._redis.set(sweep_lock_key(self._queue.name), self._worker_name, nx=True,
                                         px=max(1, int(interval_s * 900)))
        if not acquired:
            return None
        return await self.sweep()


async def sweep_loop(sweeper: OrphanSweeper, interval_s: float) -> None:
    """Runs until cancelled; a sweep that fails (Redis or Postgres down) is logged and tried next time."""
    while True:
        try:
            await sweeper.sweep_if_due(interval_s)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("orphan sweep failed, trying again next interval", error=repr(error))
        await asyncio.sleep(interval_s)
