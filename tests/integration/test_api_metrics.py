"""`GET /metrics` of the API on real Postgres and Redis, in-process: the queue's gauges from Redis, the run
counters from Postgres (the same from two app instances), HTTP latency by route template, and a source that does
not answer left out rather than reported stale."""

from __future__ import annotations

import math
from uuid import UUID

import httpx

from contract.runs import FailureCategory, RunStatus
from contract.settings import Settings
from storage import AttemptOutcome, RunRepository, create_pool

from scrapes import global_samples, scrape, value
from services import api_client_for


async def finish(settings: Settings, run_id: str, duration_ms: int) -> None:
    """What a worker writes when a run passes (the real worker does it in tests/e2e/test_metrics.py)."""
    pool = await create_pool(settings.database_url)
    try:
        runs = RunRepository(pool, queue=settings.queue_name)
        attempt = await runs.start_attempt(UUID(run_id), "test-worker", None)
        assert attempt is not None
        await runs.finish(UUID(run_id), attempt, AttemptOutcome(
            status=RunStatus.PASSED, error=None, category=None, steps=[], artifacts=[], actions_executed=1,
            duration_ms=duration_ms))
    finally:
        await pool.close()


SCRIPT = {"script": {"title": "t", "steps": [{"type": "navigate", "url": "http://127.0.0.1:9/"}]}}


async def test_queue_gauges_run_counters_and_http_latency_by_route(
    api_client: httpx.AsyncClient, settings: Settings,
) -> None:
    queue = settings.queue_name
    before = await scrape(api_client)
    assert value(before, "bullmq_queue_waiting", queue=queue) == 0
    assert value(before, "reprise_run_duration_seconds_count", queue=queue) == 0
    # Every (final status, category) pair is there from zero, so rate() sees a kind's first run.
    finished = [sample for sample in before if sample.name == "reprise_runs_finished_total"]
    assert len(finished) == 4 * (len(FailureCategory) + 1) and {sample.value for sample in finished} == {0}
    assert value(before, "reprise_runs_finished_total", queue=queue, status="error", category="browser_crashed") == 0
    assert value(before, "reprise_metrics_source_up", queue=queue, source="postgres") == 1

    run_id = (await api_client.post("/api/runs", json=SCRIPT)).json()["id"]
    assert (await api_client.get(f"/api/runs/{run_id}")).status_code == 200
    assert (await api_client.get("/api/runs/00000000-0000-0000-0000-000000000000")).status_code == 404
    assert (await api_client.get(f"/no/such/{run_id}")).status_code == 404
    assert (await api_client.get("/dashboard/app.js")).status_code == 200
    assert (await api_client.get("/openapi.json")).status_code == 200
    queued = await scrape(api_client)
    # Waiting: every job waiting to be taken; prioritized: those of them in BullMQ's priority set (all of ours).
    assert value(queued, "bullmq_queue_waiting", queue=queue) == value(queued, "bullmq_queue_prioritized",
                                                                       queue=queue) == 1
    assert {name: value(queued, f"bullmq_queue_{name}", queue=queue) for name in
            ("active", "delayed", "failed", "completed", "paused")} == dict.fromkeys(
        ("active", "delayed", "failed", "completed", "paused"), 0)
    assert value(queued, "reprise_workers_live", queue=queue, state="running") == 0

    await finish(settings, run_id, duration_ms=2_500)
    samples = await scrape(api_client)

    assert value(samples, "reprise_runs_finished_total", queue=queue, status="passed", category="none") == 1
    assert value(samples, "reprise_run_duration_seconds_count", queue=queue) == 1
    assert value(samples, "reprise_run_duration_seconds_sum", queue=queue) == 2.5
    assert value(samples, "reprise_run_duration_seconds_bucket", queue=queue, le="2.0") == 0
    assert value(samples, "reprise_run_duration_seconds_bucket", queue=queue, le="5.0") == 1
    assert value(samples, "reprise_run_duration_seconds_bucket", queue=queue, le="+Inf") == 1
    latency = "reprise_http_request_duration_seconds_count"
    assert value(samples, latency, method="GET", route="/api/runs/{run_id}", status_class="2xx") == 1
    assert value(samples, latency, method="GET", route="/api/runs/{run_id}", status_class="4xx") == 1
    assert value(samples, latency, method="POST", route="/api/runs", status_class="2xx") == 1
    assert value(samples, latency, method="GET", route="unmatched", status_class="4xx") == 1
    assert value(samples, latency, method="GET", route="/dashboard/{path}", status_class="2xx") == 1
    assert value(samples, latency, method="GET", route="/openapi.json", status_class="2xx") == 1
    routes = {sample.labels.get("route") for sample in samples if sample.name.startswith("reprise_http_request")}
    assert "/metrics" not in routes and not any(run_id in str(route) for route in routes)
    assert (value(samples, "process_resident_memory_bytes") or 0) > 0

    # Another API instance (its own pool, its own process metrics) reports the same global truths.
    async with api_client_for(settings) as other:
        assert global_samples(await scrape(other)) == global_samples(await scrape(api_client))
        assert value(await scrape(other), latency, method="GET", route="/api/runs/{run_id}",
                     status_class="2xx") is None


async def test_redis_down_leaves_the_queue_gauges_out_and_keeps_the_run_counters(settings: Settings) -> None:
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with api_client_for(down) as client:
        samples = await scrape(client)
    queue = settings.queue_name
    assert value(samples, "reprise_metrics_source_up", queue=queue, source="redis") == 0
    assert value(samples, "reprise_metrics_source_up", queue=queue, source="postgres") == 1
    assert not [sample for sample in samples if sample.name.startswith(("bullmq_queue_", "reprise_workers_live"))]
    inf = value(samples, "reprise_run_duration_seconds_bucket", queue=queue, le="+Inf")
    assert inf == 0 and not math.isnan(inf)
