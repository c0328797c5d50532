"""Suite runs as BullMQ flows: a parent job `suite` on the `<queue>-suites` queue (data `{"suiteRunId"}`, jobId = the
suite run's id) whose children are its runs' ordinary jobs on the runs queue (`RunQueue.job`: jobId = run id).

BullMQ moves the parent to `waiting-children` and makes it processable when the last child's job completes, fails for
good, or is removed (a cancelled run's waiting job): so the suite's result is decided once, by whichever worker takes
the parent, whatever happened to the workers that ran the children (a killed worker's child is a stalled job another
worker finishes). Children carry `ignoreDependencyOnFailure`: a run whose job fails for good (dead letter) still lets
the parent go on, and the parent reads every child's final status from Postgres.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from bullmq import FlowProducer

from jobs.keys import suites_queue
from jobs.queue import DEFAULT_JOB_OPTIONS, QUEUE_CALL_TIMEOUT_S, RunJob, RunQueue, bullmq_connection

SUITE_JOB_NAME = "suite"
# The parent is retried while a child is not final yet in Postgres (it should be; a late write is not impossible).
SUITE_JOB_OPTIONS: dict[str, Any] = {"attempts": 20, "backoff": {"type": "exponential", "delay": 1_000},
                                     **DEFAULT_JOB_OPTIONS}


class SuiteFlows:
    def __init__(self, runs: RunQueue, redis_url: str) -> None:
        self._runs = runs
        self.name = suites_queue(runs.name)
        self._producer = FlowProducer({"connection": bullmq_connection(redis_url)})

    def flow(self, suite_run_id: UUID, children: Sequence[RunJob]) -> dict[str, Any]:
        """The flow as `FlowProducer.add` takes it."""
        nodes = []
        for child in children:
            job = self._runs.job(child)
            nodes.append({"name": job["name"], "queueName": self._runs.name, "data": job["data"],
                          "opts": {**job["opts"], "ignoreDependencyOnFailure": True}})
        return {"name": SUITE_JOB_NAME, "queueName": self.name, "data": {"suiteRunId": str(suite_run_id)},
                "opts": {"jobId": str(suite_run_id), **SUITE_JOB_OPTIONS}, "children": nodes}

    async def enqueue(self, suite_run_id: UUID, children: Sequence[RunJob]) -> None:
        """Add the parent and every child in one MULTI/EXEC (all or nothing)."""
        async with asyncio.timeout(QUEUE_CALL_TIMEOUT_S):
            await self._producer.add(self.flow(suite_run_id, children))

    async def close(self) -> None:
        await self._producer.close()
