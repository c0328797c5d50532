"""Suite runs with real worker processes: one child run per recording grouped by a BullMQ flow, the suite's result
decided once by the worker that takes the flow's parent job, also when a worker dies in the middle of the suite."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import httpx
from bullmq import Queue

from contract.settings import Settings
from jobs.keys import suites_queue
from jobs.queue import bullmq_connection

from flows import FAST_STALLS, log_events, numbered_slow_script, quick_script
from services import WorkerProcess, wait_for, wait_for_workers


async def save(client: httpx.AsyncClient, script: dict[str, Any], name: str) -> str:
    response = await client.post("/api/recordings", json={"script": script, "name": name})
    assert response.status_code == 201, response.text
    recording_id: str = response.json()["id"]
    return recording_id


def failing_script(site_url: str) -> dict[str, Any]:
    return {"version": 1, "name": "checkout heading", "steps": [
        {"action": "navigate", "url": f"{site_url}/index.html"},
        {"action": "assertText", "selector": "h1", "text": "not the heading", "timeoutMs": 300},
    ]}


async def wait_for_suite_final(client: httpx.AsyncClient, suite_run_id: str, timeout: float) -> dict[str, Any]:
    async def final() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"/api/suite-runs/{suite_run_id}")).json()
        return body if body["status"] in ("passed", "failed", "error", "cancelled") else None

    return await wait_for(final, timeout=timeout, interval=0.2, what=f"suite run {suite_run_id} to end")


async def parent_job(settings: Settings, suite_run_id: str) -> tuple[str, Any]:
    queue = Queue(suites_queue(settings.queue_name), {"connection": bullmq_connection(settings.redis_url)})
    try:
        state = await queue.getJobState(suite_run_id)
        job = await queue.getJob(suite_run_id)
        return str(state), job.returnvalue if job is not None else None
    finally:
        await queue.close()


async def test_a_suite_of_three_with_one_failing_ends_failed_once_though_a_worker_is_killed_in_it(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess], settings: Settings,
) -> None:
    workers = {name: start_worker(name, **FAST_STALLS) for name in ("worker-1", "worker-2")}
    await wait_for_workers(api_client, set(workers))
    quick = await save(api_client, quick_script(site_url, "login"), "login")
    failing = await save(api_client, failing_script(site_url), "checkout heading")
    slow = await save(api_client, numbered_slow_script(site_url, 6), "slow search")
    response = await api_client.post("/api/suites", json={
        "name": "smoke", "recordingIds": [quick, failing, slow], "defaults": {"video": "off", "trace": "off"}})
    assert response.status_code == 201, response.text
    suite = response.json()

    response = await api_client.post(f"/api/suites/{suite['id']}/runs", json={"screenshots": "off"})
    assert response.status_code == 201, response.text
    queued = response.json()
    assert queued["status"] == "queued" and queued["total"] == 3
    assert [run["recordingId"] for run in queued["runs"]] == [quick, failing, slow]
    assert all(run["suiteRunId"] == queued["id"] for run in queued["runs"])
    # The suite's defaults and the request's options meet in each child.
    assert all(run["options"]["video"] == "off" and run["options"]["screenshots"] == "off" for run in queued["runs"])
    slow_run_id = queued["runs"][2]["id"]
    assert (await parent_job(settings, queued["id"]))[0] == "waiting-children"

    async def slow_running() -> str | None:
        run = (await api_client.get(f"/api/runs/{slow_run_id}")).json()
        return run["worker"] if run["status"] == "running" else None

    holder = await wait_for(slow_running, timeout=60, interval=0.1, what="the slow run to start")
    victim = workers[holder]
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(timeout=10)

    done = await wait_for_suite_final(api_client, queued["id"], timeout=120)

    assert done["status"] == "failed", done
    assert done["counts"] == {"passed": 2, "failed": 1, "error": 0, "cancelled": 0, "quarantined": 0}
    assert [run["status"] for run in done["runs"]] == ["passed", "failed", "passed"]
    assert [run["id"] for run in done["runs"]] == [run["id"] for run in queued["runs"]]
    assert done["durationMs"] is not None and done["finishedAt"] is not None
    slow_run = (await api_client.get(f"/api/runs/{slow_run_id}")).json()
    # The killed worker's attempt was abandoned; the survivor took the stalled job and finished the run.
    assert [attempt["status"] for attempt in slow_run["attemptHistory"]] == ["abandoned", "passed"], slow_run
    # Decided once, by the queue: one worker wrote the result, and the parent job completed with it.
    state, returned = await parent_job(settings, queued["id"])
    assert state == "completed" and returned["status"] == "failed" and returned["decidedHere"] is True
    decisions = [event for worker in workers.values() for event in log_events(worker)
                 if event.get("message") == "suite run finished"]
    assert len(decisions) == 1 and decisions[0]["suiteRunId"] == queued["id"], decisions
    listed = (await api_client.get("/api/suite-runs", params={"suite": suite["id"]})).json()
    assert [item["id"] for item in listed["items"]] == [queued["id"]] and listed["items"][0]["status"] == "failed"
    assert (await api_client.get(f"/api/suites/{suite['id']}")).json()["lastRun"]["status"] == "failed"


async def test_cancelling_a_suite_run_cancels_its_children_and_the_suite_ends_cancelled(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker("worker-1", WORKER_CONCURRENCY="1")
    await wait_for_workers(api_client, {"worker-1"})
    slow = await save(api_client, numbered_slow_script(site_url, 20), "slow one")
    quick = await save(api_client, quick_script(site_url, "quick one"), "quick one")
    suite = (await api_client.post("/api/suites", json={"name": "to cancel", "recordingIds": [slow, quick]})).json()
    queued = (await api_client.post(f"/api/suites/{suite['id']}/runs", json={"video": "off"})).json()

    async def first_running() -> bool:
        run = (await api_client.get(f"/api/runs/{queued['runs'][0]['id']}")).json()
        return bool(run["status"] == "running")

    await wait_for(first_running, timeout=60, what="the first child to start")
    response = await api_client.post(f"/api/suite-runs/{queued['id']}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["cancelRequested"] is True

    done = await wait_for_suite_final(api_client, queued["id"], timeout=60)

    assert done["status"] == "cancelled" and done["counts"]["cancelled"] == 2, done
    assert [run["status"] for run in done["runs"]] == ["cancelled", "cancelled"]
    again = await api_client.post(f"/api/suite-runs/{queued['id']}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["message"]
