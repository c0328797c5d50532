"""The suites API in-process (ASGI) on real Postgres and Redis, no worker: what it refuses at the edge, the flow it
adds (a parent job waiting for its children, each child a run's ordinary job), and the suite's result as the worker's
decider writes it (storage and worker.suites, run here by hand on children made final through storage)."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from bullmq import Queue

from contract.options import Priority
from contract.results import StepResult
from contract.runs import AttemptStatus, RunStatus, StepStatus
from contract.settings import Settings
from jobs.keys import suites_queue
from jobs.queue import BULLMQ_PRIORITIES, bullmq_connection
from storage import AttemptOutcome, ChildrenPending, RunRepository, SuiteRepository, create_pool
from worker.suites import SuiteDecider

from flows import quick_script

SITE = "http://127.0.0.1:9"  # never reached: no worker runs here


async def save(client: httpx.AsyncClient, name: str, priority: str = "normal") -> str:
    response = await client.post("/api/recordings", json={"script": quick_script(SITE, name), "priority": priority})
    assert response.status_code == 201, response.text
    recording_id: str = response.json()["id"]
    return recording_id


async def create_suite(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/suites", json=body)
    assert response.status_code == 201, response.text
    suite: dict[str, Any] = response.json()
    return suite


def named_fields(response: httpx.Response) -> list[str]:
    return [item["field"] for item in response.json()["fields"]]


async def test_suites_are_created_listed_by_name_changed_and_deleted(api_client: httpx.AsyncClient) -> None:
    first, second = await save(api_client, "login"), await save(api_client, "search")
    suite = await create_suite(api_client, {"name": "smoke", "recordingIds": [first, second],
                                            "defaults": {"baseUrl": "https://staging.example.com", "retries": 1}})
    assert suite["recordingIds"] == [first, second] and suite["lastRun"] is None
    assert suite["defaults"] == {"baseUrl": "https://staging.example.com", "retries": 1}  # only what was set

    taken = await api_client.post("/api/suites", json={"name": "smoke", "recordingIds": [first]})
    assert taken.status_code == 409 and named_fields(taken) == ["name"]
    found = (await api_client.get("/api/suites", params={"name": "smoke"})).json()
    assert [item["id"] for item in found["items"]] == [suite["id"]] and found["total"] == 1
    assert (await api_client.get("/api/suites", params={"name": "smok"})).json()["total"] == 0

    changed = await api_client.patch(f"/api/suites/{suite['id']}", json={"recordingIds": [second], "name": "nightly"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["recordingIds"] == [second] and changed.json()["name"] == "nightly"
    assert changed.json()["defaults"] == suite["defaults"]

    assert (await api_client.delete(f"/api/suites/{suite['id']}")).status_code == 204
    assert (await api_client.get(f"/api/suites/{suite['id']}")).status_code == 404
    assert (await api_client.delete(f"/api/suites/{suite['id']}")).status_code == 404


async def test_bad_suites_are_refused_naming_the_field(api_client: httpx.AsyncClient) -> None:
    real = await save(api_client, "login")
    missing = str(uuid4())
    response = await api_client.post("/api/suites", json={"name": "smoke", "recordingIds": [real, missing]})
    assert response.status_code == 422 and named_fields(response) == ["recordingIds[1]"], response.text
    assert missing in response.json()["message"]
    twice = await api_client.post("/api/suites", json={"name": "smoke", "recordingIds": [real, real]})
    assert twice.status_code == 422 and "recordingIds" in named_fields(twice)[0]
    bad_defaults = await api_client.post("/api/suites", json={"name": "smoke", "recordingIds": [real],
                                                              "defaults": {"timeoutMs": 5}})
    assert bad_defaults.status_code == 422 and named_fields(bad_defaults) == ["defaults.timeoutMs"]
    assert (await api_client.get("/api/suites")).json()["total"] == 0  # nothing stored
    assert (await api_client.post(f"/api/suites/{uuid4()}/runs")).status_code == 404
    assert (await api_client.get(f"/api/suite-runs/{uuid4()}")).status_code == 404
    assert (await api_client.post(f"/api/suite-runs/{uuid4()}/cancel")).status_code == 404


async def test_a_suite_run_is_a_flow_a_parent_waiting_for_each_recordings_run(
    api_client: httpx.AsyncClient, settings: Settings,
) -> None:
    login, search = await save(api_client, "login", priority="high"), await save(api_client, "search")
    suite = await create_suite(api_client, {"name": "smoke", "recordingIds": [login, search],
                                            "defaults": {"variables": {"USER": "ada", "LANG": "en"}, "retries": 1}})

    response = await api_client.post(f"/api/suites/{suite['id']}/runs",
                                     json={"variables": {"LANG": "fr"}, "video": "off"})

    assert response.status_code == 201, response.text
    suite_run = response.json()
    assert response.headers["location"].endswith(f"/api/suite-runs/{suite_run['id']}")
    assert suite_run["status"] == "queued" and suite_run["suiteName"] == "smoke" and suite_run["total"] == 2
    assert suite_run["counts"] == {"passed": 0, "failed": 0, "error": 0, "cancelled": 0, "quarantined": 0}
    children = suite_run["runs"]
    assert [(run["name"], run["recordingId"], run["status"]) for run in children] == [
        ("login", login, "queued"), ("search", search, "queued")]
    runs_queue = Queue(settings.queue_name, {"connection": bullmq_connection(settings.redis_url)})
    parents = Queue(suites_queue(settings.queue_name), {"connection": bullmq_connection(settings.redis_url)})
    try:
        assert await parents.getJobState(suite_run["id"]) == "waiting-children"
        parent = await parents.getJob(suite_run["id"])
        assert parent.data == {"suiteRunId": suite_run["id"]}
        expected: list[Priority] = ["high", "normal"]  # each recording's own
        for run, priority in zip(children, expected, strict=True):
            job = await runs_queue.getJob(run["id"])
            assert job.data == {"runId": run["id"]} and job.name == "run"
            assert job.parentKey == f"bull:{suites_queue(settings.queue_name)}:{suite_run['id']}"
            assert job.opts["priority"] == BULLMQ_PRIORITIES[priority]
            assert job.opts["attempts"] == settings.job_max_attempts + 1  # the suite's retries: 1
    finally:
        await runs_queue.close()
        await parents.close()
    # An admin sees the merged options of each child (variables merged name by name).
    detail = (await api_client.get(f"/api/runs/{children[0]['id']}")).json()
    assert detail["options"]["variables"] == {"USER": "ada", "LANG": "fr"} and detail["suiteRunId"] == suite_run["id"]
    assert (await api_client.get(f"/api/suites/{suite['id']}")).json()["lastRun"]["id"] == suite_run["id"]


async def test_a_suite_whose_recording_cannot_run_with_the_options_queues_nothing(
    api_client: httpx.AsyncClient,
) -> None:
    plain = await save(api_client, "login")
    needs_user = await api_client.post("/api/recordings", json={"script": {"version": 1, "name": "greets", "steps": [
        {"action": "navigate", "url": f"{SITE}/index.html"},
        {"action": "fill", "selector": "#name", "value": "${USER}"}]}})
    assert needs_user.status_code == 201, needs_user.text
    suite = await create_suite(api_client, {"name": "smoke", "recordingIds": [plain, needs_user.json()["id"]]})

    response = await api_client.post(f"/api/suites/{suite['id']}/runs", json={})

    assert response.status_code == 422, response.text
    assert named_fields(response)[0].startswith("recordings[1].script") and "USER" in response.text
    assert (await api_client.get("/api/runs")).json()["total"] == 0
    assert (await api_client.get("/api/suite-runs")).json()["total"] == 0


@pytest.fixture
async def pool(settings: Settings) -> Any:
    pool = await create_pool(settings.database_url)
    yield pool
    await pool.close()


async def finish_run(runs: RunRepository, run_id: UUID, status: RunStatus) -> None:
    attempt = await runs.start_attempt(run_id, "worker-test", "token")
    assert attempt == 1
    await runs.finish(run_id, attempt, AttemptOutcome(
        status=status, error=None if status == RunStatus.PASSED else "it broke", category=None,
        steps=[StepResult(index=0, type="navigate",
                          status=StepStatus.PASSED if status == RunStatus.PASSED else StepStatus.FAILED,
                          duration_ms=5)],
        artifacts=[], actions_executed=1, duration_ms=5, requeue=False, attempt_status=AttemptStatus(status.value)))


async def test_the_result_is_decided_once_and_only_when_every_child_is_final(
    api_client: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool,
) -> None:
    recordings = [await save(api_client, name) for name in ("a", "b", "c")]
    suite = await create_suite(api_client, {"name": "smoke", "recordingIds": recordings})
    suite_run = (await api_client.post(f"/api/suites/{suite['id']}/runs", json={})).json()
    suite_run_id = UUID(suite_run["id"])
    runs = RunRepository(pool, queue=settings.queue_name)
    suites = SuiteRepository(pool, queue=settings.queue_name)
    child_ids = [UUID(run["id"]) for run in suite_run["runs"]]

    await finish_run(runs, child_ids[0], RunStatus.PASSED)
    assert (await api_client.get(f"/api/suite-runs/{suite_run_id}")).json()["status"] == "running"
    with pytest.raises(ChildrenPending):
        await suites.finish(suite_run_id)
    await finish_run(runs, child_ids[1], RunStatus.FAILED)
    await finish_run(runs, child_ids[2], RunStatus.PASSED)

    assert await suites.finish(suite_run_id) == "failed"
    assert await suites.finish(suite_run_id) is None  # decided already: nothing written
    body = (await api_client.get(f"/api/suite-runs/{suite_run_id}")).json()
    assert body["status"] == "failed"
    assert body["counts"] == {"passed": 2, "failed": 1, "error": 0, "cancelled": 0, "quarantined": 0}
    with pytest.raises(asyncpg.CheckViolationError, match="already failed"):
        await pool.execute("UPDATE suite_runs SET status = 'passed' WHERE id = $1", suite_run_id)
    cancel = await api_client.post(f"/api/suite-runs/{suite_run_id}/cancel")
    assert cancel.status_code == 409 and "already failed" in cancel.json()["message"]


async def test_a_suite_run_whose_parent_job_was_lost_is_decided_by_the_overdue_pass(
    api_client: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool,
) -> None:
    recordings = [await save(api_client, name) for name in ("a", "b")]
    suite = await create_suite(api_client, {"name": "smoke", "recordingIds": recordings})
    suite_run = (await api_client.post(f"/api/suites/{suite['id']}/runs", json={})).json()
    parents = Queue(suites_queue(settings.queue_name), {"connection": bullmq_connection(settings.redis_url)})
    try:  # what a Redis restart without persistence does to the parent
        assert await parents.remove(suite_run["id"], {"removeChildren": False}) == 1
        assert await parents.getJobState(suite_run["id"]) == "unknown"
    finally:
        await parents.close()
    runs = RunRepository(pool, queue=settings.queue_name)
    decider = SuiteDecider(SuiteRepository(pool, queue=settings.queue_name))
    await finish_run(runs, UUID(suite_run["runs"][0]["id"]), RunStatus.PASSED)
    assert await decider.decide_overdue(0) == []  # a child still queued: not overdue
    await finish_run(runs, UUID(suite_run["runs"][1]["id"]), RunStatus.ERROR)
    assert await decider.decide_overdue(3600) == []  # within the grace: the parent may still come

    assert await decider.decide_overdue(0) == [UUID(suite_run["id"])]

    body = (await api_client.get(f"/api/suite-runs/{suite_run['id']}")).json()
    assert body["status"] == "error"
    assert body["counts"] == {"passed": 1, "failed": 0, "error": 1, "cancelled": 0, "quarantined": 0}
    assert await decider.decide_overdue(0) == []
