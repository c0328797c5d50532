"""Schedules' ticks, on BullMQ job schedulers of the runs queue: one scheduler per schedule, so each tick is one
job, whatever the number of workers and API processes (BullMQ adds the next tick's job when a worker takes the
current one).

Scheduler id `schedule:<schedule uuid>`, job name `run`, data `{"scheduleId": "<uuid>"}`, the job options of a
run (the schedule's priority, removeOnComplete/removeOnFail, attempts and backoff). The tick's job ids are
BullMQ's: `repeat:schedule:<uuid>:<milliseconds>`. The worker makes the run of a tick (worker/schedules.py).
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from bullmq import Queue

from contract.options import Priority
from contract.schedules import ScheduleTiming
from jobs.queue import (
    BULLMQ_PRIORITIES,
    DEFAULT_JOB_OPTIONS,
    JOB_NAME,
    QUEUE_CALL_TIMEOUT_S,
    RetryPolicy,
    bullmq_connection,
)

SCHEDULER_PREFIX = "schedule:"


def scheduler_id(schedule_id: UUID) -> str:
    return f"{SCHEDULER_PREFIX}{schedule_id}"


def tick_data(schedule_id: UUID) -> dict[str, str]:
    """The data of each of the schedule's jobs."""
    return {"scheduleId": str(schedule_id)}


class ScheduleQueue:
    """The job schedulers of one runs queue's schedules."""

    def __init__(self, queue_name: str, redis_url: str, retry_policy: RetryPolicy | None = None) -> None:
        self.name = queue_name
        self._queue = Queue(queue_name, {"connection": bullmq_connection(redis_url)})
        self._retry_policy = retry_policy or RetryPolicy()

    async def upsert(self, schedule_id: UUID, timing: ScheduleTiming, priority: Priority, retries: int = 0) -> None:
        """Create or change the schedule's scheduler (a cron pattern's next tick is computed again; an `every`
        scheduler whose interval is unchanged keeps its next tick, a new one ticks at once)."""
        options: dict[str, Any] = {"priority": BULLMQ_PRIORITIES[priority], **DEFAULT_JOB_OPTIONS,
                                   **self._retry_policy.job_options(retries)}
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            await self._queue.upsertJobScheduler(scheduler_id(schedule_id), timing.repeat_options(), JOB_NAME,
                                                 tick_data(schedule_id), options)

    async def remove(self, schedule_id: UUID) -> bool:
        """Remove the scheduler and its next tick's job; False when there was none."""
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            return await self._queue.removeJobScheduler(scheduler_id(schedule_id)) == 0

    async def next_tick(self, schedule_id: UUID) -> int | None:
        """When the schedule ticks next (milliseconds since the epoch), None when it has no scheduler."""
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            try:
                found = await self._queue.getJobScheduler(scheduler_id(schedule_id))
            except ValueError:  # bullmq 3.4.4 fails to unpack the empty answer for a scheduler that does not exist
                return None
        return _next(found)

    async def next_ticks(self) -> dict[UUID, int]:
        """The next tick of every schedule of the queue that has a scheduler."""
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            found = await self._queue.getJobSchedulers(0, -1, True)
        ticks = {}
        for scheduler in found:
            key = str(scheduler.get("key") or "")
            millis = _next(scheduler)
            if key.startswith(SCHEDULER_PREFIX) and millis is not None:
                try:
                    ticks[UUID(key.removeprefix(SCHEDULER_PREFIX))] = millis
                except ValueError:
                    continue  # not one of ours
        return ticks

    async def close(self) -> None:
        await self._queue.close()


def _next(scheduler: dict[str, Any] | None) -> int | None:
    if not scheduler or scheduler.get("next") is None:
        return None
    return int(scheduler["next"])
