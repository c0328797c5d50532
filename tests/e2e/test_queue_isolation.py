"""Two queues on one database stay apart: a worker on queue B never sweeps, replays or counts the runs of
queue A (issue 13, defect 1: a worker adopted 485 runs of another queue through its orphan sweep)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from contract.settings import Settings

from flows import log_events, post_run, quick_script
from services import WorkerProcess, api_client_for, wait_for, wait_for_final

FAST_SWEEP = {"WORKER_SWEEP_INTERVAL_SECONDS": "1", "WORKER_ORPHAN_GRACE_SECONDS": "1"}


@pytest.fixture
async def other_queue_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API of queue B on the same database (B's keys contain A's name, so the queue fixture cleans up
    both)."""
    async with api_client_for(settings.model_copy(update={"queue_name": f"{settings.queue_name}-b"})) as client:
        yield client


def sweeps(worker: WorkerProcess) -> list[dict[str, Any]]:
    return [event for event in log_events(worker) if event.get("message") == "orphan sweep"]


@pytest.mark.slow
async def test_a_worker_on_another_queue_never_adopts_this_queues_runs(
    api_client: httpx.AsyncClient, other_queue_client: httpx.AsyncClient, site_url: str,
    start_worker: Callable[..., WorkerProcess], settings: Settings,
) -> None:
    queue_b = f"{settings.queue_name}-b"
    runs_a = [await post_run(api_client, {"script": quick_script(site_url, f"a{i}"), "video": "off"})
              for i in range(3)]
    run_b = await post_run(other_queue_client, {"script": quick_script(site_url, "b"), "video": "off"})
    worker_b = start_worker("worker-b", QUEUE_NAME=queue_b, **FAST_SWEEP)

    assert (await wait_for_final(other_queue_client, run_b, timeout=90))["status"] == "passed"

    async def swept_after_the_grace() -> list[dict[str, Any]] | None:
        # Queue A's runs are older than the 1 s grace by now: three more sweeps must have judged them.
        done = sweeps(worker_b)
        return done if len(done) >= 4 else None

    done = await wait_for(swept_after_the_grace, timeout=60, what="worker B's orphan sweeps")
    assert {event["queue"] for event in done} == {queue_b}
    assert all(event.get("requeued") is None and event.get("ended") is None for event in done), done
    for run_id in runs_a:
        run = (await api_client.get(f"/api/runs/{run_id}")).json()
        assert (run["status"], run["attempts"], run["worker"]) == ("queued", 0, None), run
        assert (await other_queue_client.get(f"/api/runs/{run_id}")).status_code == 404
    mentioned = {event.get("runId") for event in log_events(worker_b)} - {None}
    assert mentioned == {run_b}
    listed_b = (await other_queue_client.get("/api/runs")).json()
    assert [item["id"] for item in listed_b["items"]] == [run_b] and listed_b["total"] == 1
    counts_a = (await api_client.get("/api/health/detailed")).json()["queue"]["counts"]
    assert counts_a["waiting"] == 3 and counts_a["completed"] == 0

    # Queue A's own worker then replays them: nothing was lost.
    start_worker("worker-a")
    for run_id in runs_a:
        assert (await wait_for_final(api_client, run_id, timeout=90))["status"] == "passed"
