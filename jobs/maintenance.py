"""The maintenance queue: jobs the fleet runs once per interval whoever runs them, today the retention pass.

Queue `<QUEUE_NAME>-maintenance` (jobs/keys.py), apart from the runs queue so that one holds runs only. A
BullMQ job scheduler (`upsertJobScheduler`, id `retention`, `every` RETENTION_INTERVAL_SECONDS) keeps one job
in flight: when a worker takes it, BullMQ adds the next one, one interval on. Every worker upserts the same
scheduler at start and now and then (after a Redis restart without persistence the scheduler is gone);
upserting it again is idempotent: the next job keeps its time. Job name `retention`, data `{}`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bullmq import Queue

from jobs.keys import maintenance_queue
from jobs.queue import QUEUE_CALL_TIMEOUT_S, bullmq_connection

RETENTION_JOB = "retention"
RETENTION_SCHEDULER = "retention"
# A pass that fails is not retried: the next interval's pass picks up what it left. A few finished jobs stay
# visible (Bull Board); the passes themselves are recorded in Postgres (retention_passes).
MAINTENANCE_JOB_OPTIONS: dict[str, Any] = {
    "attempts": 1,
    "removeOnComplete": {"count": 50},
    "removeOnFail": {"count": 50},
}


class MaintenanceQueue:
    def __init__(self, queue_name: str, redis_url: str) -> None:
        self.name = maintenance_queue(queue_name)
        self._queue = Queue(self.name, {"connection": bullmq_connection(redis_url)})

    async def schedule_retention(self, interval_s: float) -> None:
        """Create or refresh the retention scheduler: one pass per `interval_s` across the fleet (the first at
        once when the scheduler is new or its interval changed)."""
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            await self._queue.upsertJobScheduler(RETENTION_SCHEDULER, {"every": int(interval_s * 1000)},
                                                 RETENTION_JOB, {}, MAINTENANCE_JOB_OPTIONS)

    async def retention_schedule(self) -> dict[str, Any] | None:
        """The scheduler's record (`every`, `next`, ...), None when there is none."""
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            found = await self._queue.getJobScheduler(RETENTION_SCHEDULER)
        return dict(found) if found else None

    async def close(self) -> None:
        await self._queue.close()
