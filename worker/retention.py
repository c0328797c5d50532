"""The fleet's retention passes, run by whichever worker takes the scheduler's job: once per
RETENTION_INTERVAL_SECONDS across the whole fleet, not a timer in every worker.

Every worker with a retention rule runs the side task `retention`: it upserts the maintenance queue's job
scheduler (jobs/maintenance.py; idempotent, refreshed now and then in case Redis lost it) and consumes that
queue with concurrency 1. A pass is `storage.retention` with this worker's settings (set the same RETENTION_*
on every worker); two passes at once (a slow pass overtaken by the next interval's) are safe. A worker whose
retention settings are all unset registers nothing.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

import structlog
from bullmq import Job, Worker

from contract.settings import Settings
from jobs.maintenance import MaintenanceQueue
from jobs.queue import consumer_options, visible_worker
from storage import Retention

log = structlog.get_logger(__name__)

# The scheduler is upserted again this often (never more often than its interval): after a Redis restart
# without persistence it is back within this time.
REFRESH_MIN_S = 60.0
# Retry interval while Redis refuses the upsert.
SCHEDULE_RETRY_S = 5.0
CLOSE_TIMEOUT_S = 10.0


class RetentionJobs:
    """The maintenance queue's processor: one retention pass per scheduler job, logged."""

    def __init__(self, retention: Retention, worker_name: str) -> None:
        self.retention = retention
        self._worker_name = worker_name

    async def process(self, job: Job, token: str) -> dict[str, Any]:
        structlog.contextvars.bind_contextvars(jobId=job.id)
        try:
            report = await self.retention.run_pass(worker=self._worker_name, job_id=str(job.id))
        except Exception as error:
            log.warning("retention pass stopped; the next pass takes up what is left", error=repr(error))
            raise
        finally:
            structlog.contextvars.unbind_contextvars("jobId")
        log.info("retention pass", queue=report.queue, passId=report.pass_id,
                 artifactsRemoved=report.artifacts_removed, runsRemoved=report.runs_removed,
                 bytesFreed=report.bytes_freed, groups=report.groups_json())
        return report.summary()


def maintenance_consumer(settings: Settings, jobs: RetentionJobs, queue_name: str) -> Worker:
    worker = visible_worker(queue_name, jobs.process, consumer_options(settings, concurrency=1))
    worker.on("error", lambda error, *_: log.warning("maintenance consumer error", error=str(error)))
    return worker


async def retention_loop(settings: Settings, jobs: RetentionJobs) -> None:
    """Side task: keep the fleet's retention scheduler registered and take its jobs, until cancelled (or the
    consumer dies, which ends the task and so the worker)."""
    schedule = MaintenanceQueue(settings.queue_name, settings.redis_url)
    consumer = maintenance_consumer(settings, jobs, schedule.name)
    consuming = asyncio.create_task(consumer.run(), name="retention-consumer")
    refresh_s = max(settings.retention_interval_s, REFRESH_MIN_S)
    try:
        while not consuming.done():
            try:
                await schedule.schedule_retention(settings.retention_interval_s)
                wait_s = refresh_s
            except Exception as error:
                log.warning("could not register the retention schedule, trying again", error=repr(error),
                            retryInS=SCHEDULE_RETRY_S)
                wait_s = SCHEDULE_RETRY_S
            await asyncio.wait({consuming}, timeout=wait_s)
        consuming.result()  # the consumer's own error, if it died of one
        raise RuntimeError("the maintenance consumer stopped by itself")
    finally:
        # A pass cut short here is rolled back batch-wise; its job comes back through stalled detection.
        with suppress(Exception):
            await asyncio.wait_for(consumer.close(force=True), CLOSE_TIMEOUT_S)
        consuming.cancel()
        await asyncio.gather(consuming, return_exceptions=True)
        with suppress(Exception):
            await schedule.close()
