"""`POST /api/runs/batch` in-process (ASGI) on real Postgres and Redis (no worker), and the health view's cached
queue counts."""

from __future__ import annotations

from typing import Any

import httpx
from bullmq import Queue

from contract import limits
from contract.access import Scope
from contract.options import Priority
from contract.settings import Settings
from jobs.queue import BULLMQ_PRIORITIES, bullmq_connection

from services import api_client_for, job_counts, make_key


def script(name: str) -> dict[str, Any]:
    return {"version": 1, "name": name, "steps": [{"action": "navigate", "url": "http://127.0.0.1:9/index.html"}]}


async def nothing_stored_or_queued(client: httpx.AsyncClient, settings: Settings) -> None:
    assert (await client.get("/api/runs")).json()["total"] == 0
    assert sum((await job_counts(settings)).values()) == 0


async def test_a_batch_queues_its_runs_in_order_each_with_its_job(
    api_client: httpx.AsyncClient, settings: Settings
) -> None:
    priorities: list[Priority | None] = ["normal", "high", "low", None, "normal", "high", None]
    body = {"runs": [{"script": script(f"run {index}"), "video": "off", **({"priority": p} if p else {}),
                      **({"retries": 2} if index == 2 else {})} for index, p in enumerate(priorities)]}
    response = await api_client.post("/api/runs/batch", json=body)
    assert response.status_code == 201, response.text
    runs = response.json()["runs"]
    assert [run["name"] for run in runs] == [f"run {index}" for index in range(len(priorities))]
    assert [run["priority"] for run in runs] == [p or "normal" for p in priorities]
    numbers = [run["number"] for run in runs]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert {run["status"] for run in runs} == {"queued"} and {run["format"] for run in runs} == {"native"}
    # The same summary as the single route gives, in the list and one by one.
    listed = (await api_client.get("/api/runs")).json()
    assert listed["total"] == len(runs)
    assert [item["id"] for item in reversed(listed["items"])] == [run["id"] for run in runs]
    single = (await api_client.post("/api/runs", json={"script": script("single"), "video": "off"})).json()
    assert set(single) == set(runs[0])

    queue = Queue(settings.queue_name, {"connection": bullmq_connection(settings.redis_url)})
    try:
        for run, priority in zip(runs, priorities, strict=True):
            job = await queue.getJob(run["id"])
            assert job is not None and job.id == run["id"] and job.name == "run" and job.data == {"runId": run["id"]}
            assert job.opts["priority"] == BULLMQ_PRIORITIES[priority or "normal"]
            assert await queue.getJobState(run["id"]) == "prioritized"
        assert (await queue.getJob(runs[2]["id"])).opts["attempts"] == (await queue.getJob(
            runs[0]["id"])).opts["attempts"] + 2  # a run's retries are more attempts, as for one run
    finally:
        await queue.close()
    assert (await job_counts(settings))["waiting"] == len(runs) + 1


async def test_one_invalid_run_refuses_the_batch_naming_it_and_nothing_is_stored_or_queued(
    api_client: httpx.AsyncClient, settings: Settings
) -> None:
    broken = {"title": "x", "steps": [{"type": "navigate", "url": "http://a"}, {"type": "click"}]}
    body: dict[str, Any] = {"runs": [{"script": script("fine")}, {"script": script("fine too")}, {"script": broken},
                                     {"script": script("fine")},
                                     {"script": {"version": 1, "name": "t", "steps": [{"action": "teleport"}]}}]}
    response = await api_client.post("/api/runs/batch", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["error"] == "invalid_script"
    fields = [item["field"] for item in problem["fields"]]
    assert fields[0].startswith("runs[2].script.steps[1]") and fields[1].startswith("runs[4].script.steps[0]"), fields
    assert "runs[2].script.steps[1]" in problem["message"]
    await nothing_stored_or_queued(api_client, settings)

    # The model's own checks name the run too.
    body = {"runs": [{"script": script("fine")}, {"script": script("fine"), "video": "sometimes"}]}
    response = await api_client.post("/api/runs/batch", json=body)
    assert response.status_code == 422
    assert [item["field"] for item in response.json()["fields"]] == ["runs[1].video"], response.text
    await nothing_stored_or_queued(api_client, settings)


async def test_an_empty_batch_or_one_over_the_limit_is_422_naming_runs(
    api_client: httpx.AsyncClient, settings: Settings
) -> None:
    bodies: list[dict[str, Any]] = [{"runs": []}, {"runs": [{"script": script("n")}] * (limits.MAX_BATCH_RUNS + 1)}]
    for body in bodies:
        response = await api_client.post("/api/runs/batch", json=body)
        assert response.status_code == 422, response.text[:500]
        assert [item["field"] for item in response.json()["fields"]] == ["runs"], response.text[:500]
    for body in ({}, {"runs": {"script": script("n")}}, {"runs": [{"script": script("n")}], "extra": 1}):
        response = await api_client.post("/api/runs/batch", json=body)
        assert response.status_code == 422 and response.json()["fields"], response.text
    await nothing_stored_or_queued(api_client, settings)


async def test_a_batch_needs_a_run_key_as_one_run_does(settings: Settings) -> None:
    async with api_client_for(settings, scope=None) as client:
        app = client.app  # type: ignore[attr-defined]
        body = {"runs": [{"script": script("a")}]}
        assert (await client.post("/api/runs/batch", json=body)).status_code == 401
        reader = {"Authorization": f"Bearer {await make_key(app, Scope.READ)}"}
        refused = await client.post("/api/runs/batch", json=body, headers=reader)
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
        admin = {"Authorization": f"Bearer {await make_key(app, Scope.ADMIN)}"}
        assert (await client.get("/api/runs", headers=admin)).json()["total"] == 0
        assert sum((await job_counts(settings)).values()) == 0
        runner = {"Authorization": f"Bearer {await make_key(app, Scope.RUN, name='ci')}"}
        created = await client.post("/api/runs/batch", json=body, headers=runner)
        assert created.status_code == 201, created.text
        assert created.json()["runs"][0]["queuedBy"] == "ci"


async def test_an_idempotency_key_stands_for_the_whole_batch(api_client: httpx.AsyncClient) -> None:
    body = {"runs": [{"script": script("a")}, {"script": script("b"), "priority": "high"}]}
    headers = {"Idempotency-Key": "nightly-2026-12-01"}
    first = await api_client.post("/api/runs/batch", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await api_client.post("/api/runs/batch", json=body, headers=headers)
    assert again.status_code == 200, again.text
    assert [run["id"] for run in again.json()["runs"]] == [run["id"] for run in first.json()["runs"]]
    for other in ({"runs": [{"script": script("a")}, {"script": script("c")}]},  # another run
                  {"runs": [*body["runs"], {"script": script("c")}]},  # one more
                  {"runs": body["runs"][:1]}):  # one fewer
        refused = await api_client.post("/api/runs/batch", json=other, headers=headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["fields"][0]["field"] == "Idempotency-Key"
    assert (await api_client.get("/api/runs")).json()["total"] == 2
    without = await api_client.post("/api/runs/batch", json=body)
    assert without.status_code == 201 and (await api_client.get("/api/runs")).json()["total"] == 4


async def test_redis_down_is_503_and_the_batch_runs_are_marked_not_lost(settings: Settings) -> None:
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with api_client_for(down) as client:
        response = await client.post("/api/runs/batch", json={"runs": [{"script": script("a")},
                                                                      {"script": script("b")}]})
        assert response.status_code == 503 and "redis" in response.json()["message"]
        runs = (await client.get("/api/runs")).json()["items"]
        assert len(runs) == 2
        assert all(run["status"] == "error" and "could not enqueue" in run["error"] for run in runs), runs


async def test_detailed_health_reads_the_queue_counts_once_per_ttl_and_says_how_old_they_are(
    api_client: httpx.AsyncClient,
) -> None:
    app = api_client.app  # type: ignore[attr-defined]
    app.state.health_snapshots.ttl_s = 3600  # no expiry in this test: the clock is not what it checks

    async def queue_health() -> dict[str, Any]:
        response = await api_client.get("/api/health/detailed")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body["queue"]

    first = await queue_health()
    assert first["counts"]["waiting"] == 0 and first["countsAgeMs"] == 0
    assert (await api_client.post("/api/runs", json={"script": script("a")})).status_code == 201
    second = await queue_health()
    assert second["counts"] == first["counts"]  # the same read, within the TTL
    assert isinstance(second["countsAgeMs"], int) and second["countsAgeMs"] >= 0
    app.state.health_snapshots.clear()
    third = await queue_health()
    assert third["counts"]["waiting"] == 1 and third["countsAgeMs"] == 0
    # /api/queue reads its counts at every call: no age.
    assert (await api_client.get("/api/queue")).json()["countsAgeMs"] is None
