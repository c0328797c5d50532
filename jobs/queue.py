"""The BullMQ queue shared by the API (producer) and the workers (consumers).

Jobs Reprise adds: queue `QUEUE_NAME` (default `test-runs`), job name `run`, data `{"runId": "<uuid of a row in
runs>"}`, `jobId` = the run id (so adding the same run twice never makes two jobs), and a priority (BullMQ takes
jobs without one first, so each of ours carries one: `BULLMQ_PRIORITIES`). Any other producer may add a job whose
data is a run request instead (docs/job-format.md): the worker records its run, linked to the job's id.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from bullmq import Queue, Worker
from redis.asyncio import Redis
from redis.asyncio.connection import parse_url

from contract.options import DEFAULT_PRIORITY, Priority
from contract.settings import Settings
from jobs.keys import cancel_channel

JOB_NAME = "run"
# bullmq's Redis client retries a lost connection for minutes; an API request must answer sooner.
QUEUE_CALL_TIMEOUT_S = 5.0
JOB_COUNT_STATES = ("waiting", "active", "completed", "failed", "delayed", "paused", "prioritized")
# Finished jobs stay visible to Bull Board and the counts for a while; run history lives in Postgres.
DEFAULT_JOB_OPTIONS: dict[str, Any] = {
    "removeOnComplete": {"age": 7 * 24 * 3600, "count": 10_000},
    "removeOnFail": {"age": 30 * 24 * 3600, "count": 50_000},
}


@dataclass(frozen=True)
class RetryPolicy:
    """BullMQ `attempts` and exponential `backoff` for a run's job (JOB_MAX_ATTEMPTS, JOB_BACKOFF_MS).

    The job gets `max_attempts + retries` attempts; the worker decides per failure whether one is spent
    (see worker.outcomes): infrastructure failures use the first budget, failed tests the run's `retries`.
    """

    max_attempts: int = 3
    backoff_ms: int = 2_000

    def job_options(self, retries: int = 0) -> dict[str, Any]:
        return {
            "attempts": self.max_attempts + max(0, retries),
            "backoff": {"type": "exponential", "delay": self.backoff_ms},
        }


# BullMQ's job priorities (1 is taken first; 0, no priority, before all of them) for Reprise's three.
BULLMQ_PRIORITIES: dict[Priority, int] = {"high": 1, "normal": 2, "low": 3}


# bullmq waits 15 s before retrying a lost Redis connection by default.
REDIS_RETRY_DELAY_MS = 1_000


def consumer_options(settings: Settings, *, concurrency: int) -> dict[str, Any]:
    """Options of a BullMQ Worker of this worker process (every consumer of a queue must share the stalled-job
    settings: the queue-wide stalled check follows whichever worker set it last)."""
    return {
        "connection": bullmq_connection(settings.redis_url),
        "concurrency": concurrency,
        "name": settings.worker_name,
        "stalledInterval": settings.stalled_interval_ms,
        "lockDuration": settings.lock_duration_ms,
        "maxStalledCount": settings.max_stalled_count,
        "runRetryDelay": REDIS_RETRY_DELAY_MS,
        "autorun": False,
    }


def node_client_name(prefix: str, queue_name: str, worker_name: str | None = None) -> str:
    """The Redis client name npm bullmq gives a worker's connections: `<prefix>:<base64(queue)>:w:<worker>`
    (`<prefix>:<base64(queue)>` for an unnamed worker). Node's `Queue.getWorkers()` and Bull Board find
    workers by it; Python bullmq's own `<prefix>:<queue>:w:<worker>` they do not see."""
    encoded = base64.b64encode(queue_name.encode()).decode()
    suffix = f":w:{worker_name}" if worker_name else ""
    return f"{prefix}:{encoded}{suffix}"


def visible_worker(queue_name: str, processor: Callable[..., Awaitable[Any]], options: dict[str, Any]) -> Worker:
    """A BullMQ Worker whose connections carry the client name Node's tools look for (`node_client_name`), so
    `Queue.getWorkers()` and Bull Board list it. run() gives `clientName` to the main and blocking connections, so
    setting it before run() is enough."""
    worker = Worker(queue_name, processor, options)
    worker.clientName = node_client_name(worker.prefix, queue_name, options.get("name"))
    return worker


def bullmq_connection(redis_url: str) -> dict[str, Any]:
    """Connection options for bullmq from a redis URL.

    redis-py 8 sets a 5 s socket timeout by default, which makes BullMQ's blocking pop (drainDelay, 5 s)
    time out and idle workers notice new jobs seconds late; no timeout on reads fixes it.
    """
    options: dict[str, Any] = dict(parse_url(redis_url))
    options.pop("connection_class", None)
    options["socket_timeout"] = None
    options.setdefault("socket_connect_timeout", 5)
    return options


@dataclass(frozen=True)
class RunJob:
    """What a run's job carries: the run, its retries (more attempts) and priority, and its job id when a
    producer's job made it (None: the run's own id)."""

    run_id: UUID
    retries: int = 0
    priority: Priority = DEFAULT_PRIORITY
    job_id: str | None = None


@dataclass(frozen=True)
class DeadJob:
    """A job in BullMQ's failed set (failed for good)."""

    id: str
    run_id: str | None  # from the job's data, when it names one
    failed_reason: str | None
    attempts_made: int
    finished_on: int | None  # milliseconds since the epoch, as BullMQ keeps it


def _run_id(data: object) -> str | None:
    return str(data["runId"]) if isinstance(data, dict) and data.get("runId") else None


class RunQueue:
    def __init__(self, queue_name: str, redis_url: str, redis: Redis, retry_policy: RetryPolicy | None = None) -> None:
        self.name = queue_name
        self._queue = Queue(queue_name, {"connection": bullmq_connection(redis_url)})
        self._redis = redis
        self.retry_policy = retry_policy or RetryPolicy()

    def job(self, run: RunJob) -> dict[str, Any]:
        """The job Reprise adds for a run, as `Queue.addBulk` takes it: name, data and options."""
        options = {"jobId": run.job_id or str(run.run_id), "priority": BULLMQ_PRIORITIES[run.priority],
                   **DEFAULT_JOB_OPTIONS, **self.retry_policy.job_options(run.retries)}
        return {"name": JOB_NAME, "data": {"runId": str(run.run_id)}, "opts": options}

    async def enqueue(self, run_id: UUID, retries: int = 0, priority: Priority = DEFAULT_PRIORITY,
                      job_id: str | None = None) -> str:
        """Add the run's job (id `job_id`, default the run's id); a job with this id that already exists is left as
        it is (BullMQ's rule)."""
        job = self.job(RunJob(run_id, retries, priority, job_id))
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            added = await self._queue.add(job["name"], job["data"], job["opts"])
        return str(added.id)

    async def enqueue_batch(self, runs: Sequence[RunJob]) -> list[str]:
        """Add the runs' jobs with one `addBulk` (one MULTI/EXEC round trip), in order; the job ids."""
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            added = await self._queue.addBulk([self.job(run) for run in runs])
        return [str(job.id) for job in added]

    async def job_state(self, job_id: str) -> str:
        """BullMQ's state of a job: waiting, active, delayed, prioritized, completed, failed, ... or `unknown`."""
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            return str(await self._queue.getJobState(job_id))

    async def failed_reason(self, job_id: str) -> str | None:
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            reason = await self._redis.hget(f"{self._queue.prefix}:{self.name}:{job_id}", "failedReason")
        return str(reason) if reason is not None else None

    async def dead_jobs(self, start: int, end: int) -> tuple[list[DeadJob], int]:
        """Permanently failed jobs, newest first: (the page from `start` to `end` inclusive, total)."""
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            jobs = await self._queue.getFailed(start, end)
            total = int((await self._queue.getJobCounts("failed")).get("failed", 0))
        page = [
            DeadJob(id=str(job.id), run_id=_run_id(job.data), failed_reason=job.failedReason,
                    attempts_made=int(job.attemptsMade or 0), finished_on=job.finishedOn)
            for job in jobs if job is not None
        ]
        return page, total

    async def remove_job(self, job_id: str) -> bool:
        """Remove a job whatever its state (not one a worker holds: BullMQ refuses locked jobs)."""
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            return bool(await self._queue.remove(job_id))

    async def remove(self, job_id: str) -> bool:
        """Remove a job that is not being processed; True when it was removed."""
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            state = await self._queue.getJobState(job_id)
            if state in ("waiting", "delayed", "prioritized", "paused", "wait"):
                removed = await self._queue.remove(job_id)
                return bool(removed)
        return False

    async def request_cancel(self, run_id: UUID) -> int:
        """Tell the workers to stop the run; returns how many listeners got the message."""
        return int(await self._redis.publish(cancel_channel(self.name), str(run_id)))

    async def counts(self) -> dict[str, int]:
        """Jobs by state. `waiting` counts every job waiting to be taken, `prioritized` those of them BullMQ keeps in
        its priority set (each of Reprise's jobs: BullMQ's own `waiting` would stay 0 with a thousand runs queued)."""
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            counts = await self._queue.getJobCounts(*JOB_COUNT_STATES)
        by_state = {state: int(counts.get(state, 0)) for state in JOB_COUNT_STATES}
        by_state["waiting"] += by_state["prioritized"]
        return by_state

    async def pause(self) -> None:
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            await self._queue.pause()

    async def resume(self) -> None:
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            await self._queue.resume()

    async def is_paused(self) -> bool:
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            return bool(await self._queue.isPaused())

    async def close(self) -> None:
        await self._queue.close()
