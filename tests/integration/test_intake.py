"""A job from any BullMQ producer becomes a run (worker.intake): recorded once, linked to its job; invalid data is
refused naming the field, with nothing written. Jobs are added by Python's bullmq, as another producer would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from bullmq import Job, Queue

from contract.network import NetworkPolicy
from contract.settings import Settings
from jobs.queue import bullmq_connection
from storage import RunRepository, create_pool
from worker.intake import InvalidJob, JobIntake

SCRIPT = {"version": 1, "name": "From a producer", "steps": [
    {"action": "navigate", "url": "https://shop.example/"},
    {"action": "assertTitle", "text": "Shop"},
]}


@dataclass
class Producer:
    pool: asyncpg.Pool
    queue: Queue
    runs: RunRepository
    intake: JobIntake

    async def job(self, data: Any, job_id: str, name: str = "run") -> Job:
        await self.queue.add(name, data, {"jobId": job_id})
        job = await Job.fromId(self.queue, job_id)
        assert job is not None
        return job

    async def run_count(self) -> int:
        _, total = await self.runs.list_page(limit=1)
        assert total is not None
        return total


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[Producer]:
    pool = await create_pool(settings.database_url)
    queue = Queue(settings.queue_name, {"connection": bullmq_connection(settings.redis_url)})
    runs = RunRepository(pool, queue=settings.queue_name)
    try:
        yield Producer(pool, queue, runs, JobIntake(runs, NetworkPolicy()))
    finally:
        await queue.close()
        await pool.close()


async def test_a_request_job_becomes_one_run_linked_to_its_job(producer: Producer) -> None:
    job = await producer.job({"script": SCRIPT, "priority": "high", "video": "off"}, "nightly-4729", name="nightly")

    run_id = await producer.intake.run_for(job)

    assert isinstance(run_id, UUID)
    run = await producer.runs.get(run_id)
    assert (run.job, run.job_id, run.queued_by, run.name, run.priority) == (
        "nightly-4729", "nightly-4729", "bullmq job nightly", "From a producer", "high")
    assert run.options["video"] == "off" and run.script == SCRIPT
    # The job tried again (a worker died holding it) finds the same run.
    assert await producer.intake.run_for(job) == run_id
    assert await producer.run_count() == 1


async def test_a_request_without_a_priority_is_stored_normal(producer: Producer) -> None:
    run_id = await producer.intake.run_for(await producer.job({"script": SCRIPT, "name": "named"}, "p-1"))
    assert isinstance(run_id, UUID)
    run = await producer.runs.get(run_id)
    assert (run.options["priority"], run.name) == ("normal", "named")


async def test_the_same_job_id_on_two_queues_makes_a_run_on_each(producer: Producer, settings: Settings) -> None:
    other_queue = Queue(f"{settings.queue_name}-other", {"connection": bullmq_connection(settings.redis_url)})
    other_runs = RunRepository(producer.pool, queue=other_queue.name)
    try:
        await other_queue.add("run", {"script": SCRIPT}, {"jobId": "1"})
        other_job = await Job.fromId(other_queue, "1")
        assert other_job is not None
        theirs = await JobIntake(other_runs, NetworkPolicy()).run_for(other_job)
        mine = await producer.intake.run_for(await producer.job({"script": SCRIPT}, "1"))
    finally:
        await other_queue.obliterate({"force": True})
        await other_queue.close()
    assert isinstance(theirs, UUID) and isinstance(mine, UUID) and theirs != mine
    mine_by_job, theirs_by_job = await producer.runs.by_job("1"), await other_runs.by_job("1")
    assert (mine_by_job and mine_by_job.id, theirs_by_job and theirs_by_job.id) == (mine, theirs)


@pytest.mark.parametrize(("data", "problem"), [
    ({"script": SCRIPT, "timeoutMs": "soon"}, "timeoutMs: Input should be a valid integer"),
    ({"video": "off"}, "script: Field required"),
    ({"script": SCRIPT, "colour": "red"}, "colour: Extra inputs are not permitted"),
    ({"script": SCRIPT, "priority": "urgent"}, "priority: Input should be 'high', 'normal' or 'low'"),
    ({"script": {"version": 1, "name": "x", "steps": [{"action": "click"}]}}, "script.steps[0].selector: "),
    ({"script": SCRIPT, "baseUrl": "http://127.0.0.1:5432"}, "baseUrl: "),
    ({"script": {"version": 1, "name": "x", "steps": [{"action": "navigate", "url": "http://169.254.169.254/x"}]}},
     "script.steps[0].url: "),
    (["not", "an", "object"], "its data must be a JSON object"),
    ({"runId": "not-a-uuid"}, "runId: not a run id"),
])
async def test_invalid_data_is_refused_naming_the_field_and_nothing_is_written(
    producer: Producer, data: Any, problem: str,
) -> None:
    job = await producer.job(data, "bad-1")
    with pytest.raises(InvalidJob) as refused:
        await producer.intake.run_for(job)
    assert problem in str(refused.value) and str(refused.value).startswith("job bad-1: ")
    assert await producer.run_count() == 0
