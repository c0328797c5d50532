"""Reprise among BullMQ producers (issue 17): a Node service queues a run with npm bullmq and awaits its result;
priorities order the queue; queues sharing a database never cross. Real worker processes, Redis, Postgres and
Chromium; the Node producer is examples/node-producer.mjs itself."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from bullmq import Job, Queue

from contract.settings import Settings
from jobs.queue import bullmq_connection

from flows import get_run, numbered_slow_script, post_run, quick_script, wait_until_running
from node_tools import NODE_DIR
from services import REPO_ROOT, WorkerProcess, api_client_for, wait_for, wait_for_final, wait_for_workers

EXAMPLE = REPO_ROOT / "examples" / "node-producer.mjs"


def node_producer(tmp_path: Path, settings: Settings, request: dict[str, Any], queue_name: str | None = None,
                  ) -> subprocess.CompletedProcess[str]:
    """Run the documented example as a user would, beside the npm packages of tests/node."""
    folder = tmp_path / "producer"
    folder.mkdir(exist_ok=True)
    (folder / "node_modules").unlink(missing_ok=True)
    (folder / "node_modules").symlink_to(NODE_DIR / "node_modules")
    shutil.copy(EXAMPLE, folder / "node-producer.mjs")
    (folder / "request.json").write_text(json.dumps(request))
    node = shutil.which("node")
    assert node is not None
    env = {"PATH": "/usr/bin:/bin", "REDIS_URL": settings.redis_url, "QUEUE_NAME": queue_name or settings.queue_name,
           "WAIT_MS": "120000"}
    return subprocess.run([node, "node-producer.mjs", "request.json"], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=180, check=False)


async def test_a_node_producers_job_becomes_a_run_and_returns_its_summary(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess], settings: Settings,
    tmp_path: Path,
) -> None:
    start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})

    done = node_producer(tmp_path, settings, {"script": quick_script(site_url, "from node"), "video": "off",
                                              "priority": "high", "name": "Node's run"})

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (summary["status"], summary["error"], summary["errorCategory"], summary["attempt"]) == (
        "passed", None, None, 1)
    assert summary["durationMs"] > 0 and summary["actionsExecuted"] == 3
    assert summary["url"] == f"{settings.api_base_url}/api/runs/{summary['runId']}"
    # QueueEvents saw every step's progress, in order.
    assert re.findall(r"^step (\d)/3 (\w+): (\w+)$", done.stderr, re.M) == [
        ("1", "navigate", "passed"), ("2", "fill", "passed"), ("3", "assertValue", "passed")]

    run = await get_run(api_client, summary["runId"])
    assert (run["number"], run["status"], run["jobId"], run["queuedBy"], run["priority"], run["name"]) == (
        summary["number"], "passed", summary["jobId"], "bullmq job run", "high", "Node's run")
    listed = (await api_client.get("/api/runs")).json()
    assert [item["id"] for item in listed["items"]] == [summary["runId"]]


async def test_a_bad_job_fails_at_once_naming_the_field_and_writes_nothing(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess], settings: Settings,
    tmp_path: Path,
) -> None:
    start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})

    done = node_producer(tmp_path, settings, {"script": quick_script(site_url, "bad"), "timeoutMs": "soon"})

    assert done.returncode == 2, done.stdout + done.stderr
    failed = re.search(r"^job (\S+) failed: (.*)$", done.stderr, re.M)
    assert failed is not None, done.stderr
    assert "timeoutMs: Input should be a valid integer" in failed.group(2)
    queue = Queue(settings.queue_name, {"connection": bullmq_connection(settings.redis_url)})
    try:
        job = await Job.fromId(queue, failed.group(1))
        assert job is not None and job.attemptsMade == 1  # no retry, though the producer allowed 3 attempts
    finally:
        await queue.close()
    assert (await api_client.get("/api/runs")).json()["total"] == 0


def started(run: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(run["startedAt"])


async def test_a_high_run_starts_before_normal_runs_queued_earlier_and_normal_before_low(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker("worker-1", WORKER_CONCURRENCY="1")
    await wait_for_workers(api_client, {"worker-1"})
    blocking = await post_run(api_client, {"script": numbered_slow_script(site_url, 55), "timeoutMs": 300_000,
                                           "video": "off"})
    await wait_until_running(api_client, [blocking])

    def quick(name: str, **options: Any) -> dict[str, Any]:
        return {"script": quick_script(site_url, name), "video": "off", "screenshots": "off", **options}

    low = await post_run(api_client, quick("low", priority="low"))
    normals = [await post_run(api_client, quick(f"normal {index}")) for index in range(3)]
    high = await post_run(api_client, quick("high", priority="high"))
    # Only now may the worker take the next job: the blocking run is cancelled, the four wait in the queue.
    assert (await api_client.post(f"/api/runs/{blocking}/cancel")).status_code == 200

    finished = {run_id: await wait_for_final(api_client, run_id, timeout=120) for run_id in [low, *normals, high]}
    assert {run["status"] for run in finished.values()} == {"passed"}
    assert [finished[run_id]["priority"] for run_id in [low, *normals, high]] == ["low", *["normal"] * 3, "high"]
    order = sorted(finished, key=lambda run_id: started(finished[run_id]))
    assert order == [high, *normals, low], [finished[run_id]["name"] for run_id in order]


@pytest.fixture
async def two_queues(settings: Settings) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The APIs of queues `<queue>-eu` and `<queue>-us` on the test's database (the queue fixture's cleanup
    covers both: their keys contain its name)."""
    clients: dict[str, httpx.AsyncClient] = {}
    async with api_client_for(settings.model_copy(update={"queue_name": f"{settings.queue_name}-eu"})) as eu, \
            api_client_for(settings.model_copy(update={"queue_name": f"{settings.queue_name}-us"})) as us:
        clients.update(eu=eu, us=us)
        yield clients


async def test_two_queues_on_one_database_never_cross(
    two_queues: dict[str, httpx.AsyncClient], site_url: str, start_worker: Callable[..., WorkerProcess],
    settings: Settings,
) -> None:
    for region in ("eu", "us"):
        start_worker(f"{region}-1", QUEUE_NAME=f"{settings.queue_name}-{region}")
    for region, client in two_queues.items():
        await wait_for_workers(client, {f"{region}-1"})
        # wait_for_workers only checks the names it is given: the other region's worker is not listed here.
        workers = (await client.get("/api/health/detailed")).json()["workers"]
        assert {worker["name"] for worker in workers} == {f"{region}-1"}

    posted: dict[str, list[str]] = {}
    for region, client in two_queues.items():
        posted[region] = [await post_run(client, {"script": quick_script(site_url, f"{region} {index}"),
                                                  "video": "off"}) for index in range(2)]
        # A producer's job with the same id on both queues: one run on each.
        queue = Queue(f"{settings.queue_name}-{region}", {"connection": bullmq_connection(settings.redis_url)})
        try:
            await queue.add("run", {"script": quick_script(site_url, f"{region} producer"), "video": "off"},
                            {"jobId": "1", "priority": 2})
        finally:
            await queue.close()

    for region, client in two_queues.items():
        async def producer_run(client: httpx.AsyncClient = client) -> dict[str, Any] | None:
            items = (await client.get("/api/runs")).json()["items"]
            return next((item for item in items if item["jobId"] == "1"), None)

        produced = await wait_for(producer_run, timeout=60, what=f"the {region} producer's run")
        posted[region].append(produced["id"])
        for run_id in posted[region]:
            run = await wait_for_final(client, run_id, timeout=120)
            assert (run["status"], run["worker"]) == ("passed", f"{region}-1"), run
        listed = (await client.get("/api/runs")).json()
        assert sorted(item["id"] for item in listed["items"]) == sorted(posted[region]) and listed["total"] == 3
    for region, other in (("eu", "us"), ("us", "eu")):
        for run_id in posted[region]:
            assert (await two_queues[other].get(f"/api/runs/{run_id}")).status_code == 404
