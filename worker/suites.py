"""Suite runs' results, decided by the worker that takes a suite's parent job (jobs/flows.py).

Every worker runs the side task `suites`: it consumes the `<queue>-suites` queue (a few at a time: deciding reads a
handful of rows). BullMQ hands a suite's parent job out when every child's job is done, so the result is decided once
by the queue, not by whichever worker finished the last child; the decision is written under the suite run's row lock
and only while it is not final (storage.SuiteRepository.finish), so a parent taken twice (stalled, its worker killed)
writes nothing the second time.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any
from uuid import UUID

import structlog
from bullmq import Job, Worker
from bullmq.custom_errors import UnrecoverableError

from contract.settings import Settings
from jobs.keys import suites_queue
from jobs.queue import consumer_options, visible_worker
from storage import ChildrenPending, SuiteRepository, SuiteRunNotFound

log = structlog.get_logger(__name__)

SUITE_CONCURRENCY = 4
CLOSE_TIMEOUT_S = 10.0
OVERDUE_MARGIN_S = 60.0


class SuiteDecider:
    """The suites queue's processor."""

    def __init__(self, suites: SuiteRepository) -> None:
        self._suites = suites

    async def decide_overdue(self, grace_s: float) -> list[UUID]:
        """Decide the suite runs whose children have all been final for `grace_s` without their parent job coming:
        a parent lost with Redis's data (the orphan sweep queues lost runs again, but a lost parent has no run
        row to find it by). Returns those this call decided."""
        decided = []
        for suite_run_id in await self._suites.overdue(grace_s):
            try:
                status = await self._suites.finish(suite_run_id)
            except ChildrenPending:
                continue  # a child was queued again meanwhile
            if status is not None:
                log.warning("suite run decided without its parent job", suiteRunId=str(suite_run_id), status=status)
                decided.append(suite_run_id)
        return decided

    async def process(self, job: Job, token: str) -> dict[str, Any]:
        structlog.contextvars.bind_contextvars(jobId=job.id)
        try:
            data = job.data if isinstance(job.data, dict) else {}
            try:
                suite_run_id = UUID(str(data.get("suiteRunId")))
            except ValueError as error:
                raise UnrecoverableError(f"not a suite job: data.suiteRunId {data.get('suiteRunId')!r}") from error
            structlog.contextvars.bind_contextvars(suiteRunId=str(suite_run_id))
            try:
                status = await self._suites.finish(suite_run_id)
            except SuiteRunNotFound as error:
                raise UnrecoverableError(str(error)) from error
            except ChildrenPending as error:
                log.warning("suite run's children not all final yet; trying again", pending=error.pending)
                raise
            suite_run = await self._suites.get_run(suite_run_id)
            if status is None:
                log.info("suite run already decided", status=suite_run.status)
            else:
                log.info("suite run finished", status=status, suite=suite_run.suite_name, **suite_run.counts)
            return {"suiteRunId": str(suite_run_id), "status": suite_run.status, "counts": suite_run.counts,
                    "decidedHere": status is not None}
        finally:
            structlog.contextvars.unbind_contextvars("jobId", "suiteRunId")


def suites_consumer(settings: Settings, decider: SuiteDecider) -> Worker:
    worker = visible_worker(suites_queue(settings.queue_name), decider.process,
                            consumer_options(settings, concurrency=SUITE_CONCURRENCY))
    worker.on("error", lambda error, *_: log.warning("suites consumer error", error=str(error)))
    return worker


async def suites_loop(settings: Settings, decider: SuiteDecider) -> None:
    """Side task: take suites' parent jobs until cancelled (or the consumer dies, which ends the task and so the
    worker); every sweep interval, decide the suite runs whose parent job never came (`decide_overdue`, after the
    orphan grace and a minute more: a parent is handed out within a second of its last child)."""
    consumer = suites_consumer(settings, decider)
    consuming = asyncio.create_task(consumer.run(), name="suites-consumer")
    grace_s = settings.orphan_grace_s + OVERDUE_MARGIN_S
    try:
        while not consuming.done():
            await asyncio.wait({consuming}, timeout=settings.sweep_interval_s)
            if consuming.done():
                break
            try:
                await decider.decide_overdue(grace_s)
            except Exception as error:  # Postgres away: the next interval tries again
                log.warning("overdue suite runs not decided", error=repr(error))
        consuming.result()  # the consumer's own error, if it died of one
        raise RuntimeError("the suites consumer stopped by itself")
    finally:
        # A decision cut short is rolled back; its job comes back through stalled detection.
        with suppress(Exception):
            await asyncio.wait_for(consumer.close(force=True), CLOSE_TIMEOUT_S)
        consuming.cancel()
        await asyncio.gather(consuming, return_exceptions=True)
