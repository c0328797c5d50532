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

import structlog
from redis.asyncio import Redis

from contract.runs import FailureCategory
from jobs.keys import sweep_lock_key
from jobs.queue import RunQueue
from jobs.registry import WorkerRegistry
from storage import RunRecord, RunRepository

log = structlog.get_logger(__name__)

LIVE_JOB_STATES = frozenset({"waiting", "wait", "delayed", "prioritized", "paused", "active", "waiting-children"})


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
        if not candidates:
            log.info("orphan sweep", queue=self._queue.name, checked=0)
            return report
        replaying = {run_id for worker in await self._registry.live_workers()
                     for run_id in worker.get("activeRuns", [])} | set(self._replaying_here())
        for run in candidates:
            report.checked += 1
            if str(run.id) in replaying:
                continue
            state = await self._queue.job_state(run.id)
            if state in LIVE_JOB_STATES:
                continue
            if state == "failed":
                reason = await self._queue.failed_reason(run.id) or "its job failed"
                category = FailureCategory.STALLED if "stalled" in reason else FailureCategory.INFRASTRUCTURE
                await self._end(run, f"job failed: {reason}", category, report)
            elif state == "completed":
                await self._end(run, "its job completed without recording a result", FailureCategory.LOST, report)
            else:
                await self._requeue_or_end(run, report)
        if report.requeued or report.ended:
            log.warning("orphan sweep", queue=self._queue.name, checked=report.checked, requeued=report.requeued,
                        ended=report.ended)
        else:
            log.info("orphan sweep", queue=self._queue.name, checked=report.checked)
        return report

    async def _end(self, run: RunRecord, reason: str, category: FailureCategory, report: SweepReport) -> None:
        if await self._runs.end_orphan(run.id, reason, category) is not None:
            report.ended.append(str(run.id))
            log.warning("orphaned run ended", runId=str(run.id), reason=reason, category=category)

    async def _requeue_or_end(self, run: RunRecord, report: SweepReport) -> None:
        retries = run.replay_options().retries
        allowed = self._queue.retry_policy.max_attempts + retries
        if run.attempts >= allowed:
            reason = f"its job vanished from the queue after {run.attempts} attempts"
            await self._end(run, reason, FailureCategory.LOST, report)
            return
        reason = f"its job vanished from the queue (found by {self._worker_name}); queued again"
        if await self._runs.requeue_orphan(run.id, reason) is None:
            return
        await self._queue.enqueue(run.id, retries)
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
