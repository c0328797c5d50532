"""The webhooks queue: one BullMQ job per webhook delivery.

Queue `<QUEUE_NAME>-webhooks` (jobs/keys.py), apart from the runs queue. Job name `deliver`, data `{"deliveryId"}`,
`jobId` = the delivery's id, so adding a delivery's job again (the outbox pump re-adds the ones it is not sure of)
is a no-op while the job exists. `attempts` WEBHOOK_MAX_ATTEMPTS with exponential backoff from WEBHOOK_BACKOFF_MS
(BullMQ rounds delays up to whole seconds); the worker fails a job at once (UnrecoverableError) when no retry can
help. Finished jobs are kept briefly: the delivery log lives in Postgres.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from bullmq import Queue

from jobs.keys import webhooks_queue
from jobs.queue import QUEUE_CALL_TIMEOUT_S, bullmq_connection

DELIVERY_JOB = "deliver"


@dataclass(frozen=True)
class WebhookRetry:
    max_attempts: int = 8
    backoff_ms: int = 2_000

    def job_options(self) -> dict[str, Any]:
        return {"attempts": self.max_attempts, "backoff": {"type": "exponential", "delay": self.backoff_ms},
                "removeOnComplete": {"age": 24 * 3600, "count": 1_000},
                "removeOnFail": {"age": 7 * 24 * 3600, "count": 5_000}}

    def delay_ms(self, attempt: int) -> int:
        """BullMQ's exponential backoff before the attempt after `attempt` (from 1): backoff * 2^(attempt - 1)."""
        return int(self.backoff_ms * 2 ** (attempt - 1))


class WebhookQueue:
    def __init__(self, queue_name: str, redis_url: str, retry: WebhookRetry) -> None:
        self.name = webhooks_queue(queue_name)
        self.retry = retry
        self._queue = Queue(self.name, {"connection": bullmq_connection(redis_url)})

    def job(self, delivery_id: UUID) -> dict[str, Any]:
        return {"name": DELIVERY_JOB, "data": {"deliveryId": str(delivery_id)},
                "opts": {"jobId": str(delivery_id), **self.retry.job_options()}}

    async def enqueue(self, delivery_ids: Sequence[UUID]) -> None:
        """Add the deliveries' jobs in one round trip; a delivery whose job exists keeps it as it is."""
        if not delivery_ids:
            return
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            await self._queue.addBulk([self.job(delivery_id) for delivery_id in delivery_ids])

    async def close(self) -> None:
        await self._queue.close()
