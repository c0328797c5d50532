"""Redis, then Postgres, restarted under a worker and the API while runs are in flight: every run still
reaches a true final status, and the API answers 503 meanwhile and recovers by itself. Private servers
(tests/private_services.py), so the machine's shared ones are never stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from contract.runs import FINAL_RUN_STATUSES
from contract.settings import Settings

from flows import FAST_STALLS, log_events, numbered_slow_script, post_run
from private_services import PrivatePostgres, PrivateRedis
from services import WorkerProcess, wait_for, wait_for_workers


@pytest.fixture
def settings(settings: Settings, private_postgres: PrivatePostgres, private_redis: PrivateRedis) -> Settings:
    return settings.model_copy(update={
        "database_url": private_postgres.create_database("reprise"),
        "redis_url": private_redis.url,
        "job_backoff_ms": 200,
    })


async def statuses(client: httpx.AsyncClient, run_ids: list[str]) -> dict[str, str] | None:
    """Each run's status, or None while the API cannot answer (503 during an outage)."""
    found: dict[str, str] = {}
    for run_id in run_ids:
        response = await client.get(f"/api/runs/{run_id}")
        if response.status_code == 503:
            return None
        assert response.status_code == 200, response.text
        found[run_id] = response.json()["status"]
    return found


async def test_runs_in_flight_survive_a_redis_restart_then_a_postgres_restart(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess],
    private_redis: PrivateRedis, private_postgres: PrivatePostgres,
) -> None:
    worker = start_worker("worker-1", WORKER_CONCURRENCY="2", WORKER_SWEEP_INTERVAL_SECONDS="1",
                          WORKER_ORPHAN_GRACE_SECONDS="2", DATABASE_RETRY_SECONDS="120", **FAST_STALLS)
    await wait_for_workers(api_client, {"worker-1"})
    run_ids = [await post_run(api_client, {"script": numbered_slow_script(site_url, 2), "video": "off"})
               for _ in range(8)]

    async def some_running() -> bool:
        current = await statuses(api_client, run_ids)
        return current is not None and "running" in current.values()

    await wait_for(some_running, timeout=60, what="runs in flight")
    await asyncio.to_thread(private_redis.restart)  # its data (every job) is gone

    async def api_healthy() -> bool:
        return (await api_client.get("/api/health")).status_code == 200

    await wait_for(api_healthy, timeout=15, what="the API's Redis client to reconnect by itself")

    await wait_for(some_running, timeout=60, what="runs in flight after the Redis restart")
    await asyncio.to_thread(private_postgres.stop)
    down = await api_client.get("/api/health")
    assert down.status_code == 503 and "database" in down.text
    listed = await api_client.get("/api/runs")
    assert listed.status_code == 503 and listed.json()["error"] == "unavailable"
    assert listed.headers["Retry-After"]

    def worker_noticed() -> bool:
        return any(event.get("message") in ("database unavailable, retrying", "could not record step progress")
                   for event in log_events(worker))

    async def noticed() -> bool:
        return worker_noticed()

    await wait_for(noticed, timeout=30, what="the worker to meet the database outage")
    await asyncio.to_thread(private_postgres.start)

    async def all_final() -> dict[str, str] | None:
        current = await statuses(api_client, run_ids)
        ended = current is not None and all(status in FINAL_RUN_STATUSES for status in current.values())
        return current if ended else None

    final = await wait_for(all_final, timeout=180, interval=0.5, what="every run to end")

    assert set(final.values()) == {"passed"}, final
    # The runs still waiting when Redis lost its data came back through the orphan sweep.
    requeued = {event["runId"] for event in log_events(worker) if event.get("message") == "orphaned run queued again"}
    assert requeued and requeued <= set(run_ids)
    for run_id in run_ids:
        run: dict[str, Any] = (await api_client.get(f"/api/runs/{run_id}")).json()
        passed = [attempt for attempt in run["attemptHistory"] if attempt["status"] == "passed"]
        assert len(passed) == 1 and all(a["status"] != "running" for a in run["attemptHistory"]), run
    await wait_for(api_healthy, timeout=15, what="the API to recover from the Postgres restart")
    created = await api_client.post("/api/runs", json={"script": numbered_slow_script(site_url, 0)})
    assert created.status_code == 201
    assert worker.process.poll() is None  # it rode out both outages
