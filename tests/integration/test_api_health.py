"""Health endpoints against real Postgres and Redis, and with Redis unreachable."""

from __future__ import annotations

from typing import Any

import httpx
from redis.asyncio import Redis

from contract.document import client_contract
from contract.settings import Settings
from jobs.registry import WorkerBeat, WorkerRegistry

from services import REPO_ROOT, api_client_for, wait_for


async def test_detailed_health_shows_dependencies_counts_and_live_workers(
    api_client: httpx.AsyncClient, settings: Settings
) -> None:
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    registry = WorkerRegistry(redis, settings.queue_name)
    try:
        await registry.beat(WorkerBeat(name="worker-a", concurrency=3, active_jobs=1), ttl_seconds=30)
        await registry.beat(WorkerBeat(name="worker-gone", concurrency=1), ttl_seconds=0.05)
        await api_client.post("/api/runs", json={"script": {"title": "t", "steps": [
            {"type": "navigate", "url": "http://127.0.0.1:9/"}]}})

        async def expired_beat_gone() -> dict[str, Any] | None:
            response = await api_client.get("/api/health/detailed")
            assert response.status_code == 200
            detail: dict[str, Any] = response.json()
            return detail if len(detail["workers"]) == 1 else None

        body = await wait_for(expired_beat_gone, timeout=5, what="the expired heartbeat to vanish")
        assert body["status"] == "ok"
        assert body["database"]["ok"] and body["database"]["latencyMs"] >= 0
        assert body["redis"]["ok"] and body["redis"]["latencyMs"] >= 0
        assert body["queue"]["name"] == settings.queue_name and body["queue"]["paused"] is False
        assert body["queue"]["counts"]["waiting"] == 1
        assert set(body["queue"]["counts"]) >= {"waiting", "active", "completed", "failed", "delayed", "paused"}
        # The operational contract's shape: {"queues": {"<queue>": {waiting, active, completed, failed, ...}}}
        assert list(body["queues"]) == [settings.queue_name]
        assert body["queues"][settings.queue_name] == body["queue"]["counts"]
        assert body["queues"][settings.queue_name]["waiting"] == 1
        [worker] = body["workers"]  # the expired heartbeat is gone
        assert worker["name"] == "worker-a" and worker["concurrency"] == 3 and worker["activeJobs"] == 1
        assert {"pid", "host", "lastHeartbeat"} <= set(worker)
        assert (await api_client.get("/api/health")).json() == {"status": "ok", "database": True, "redis": True}
        assert (await api_client.get("/api/health/live")).json() == {"status": "ok"}
    finally:
        await redis.aclose()


async def test_redis_down_is_503_and_a_posted_run_is_marked_not_lost(settings: Settings) -> None:
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with api_client_for(down) as client:
        health = await client.get("/api/health")
        assert health.status_code == 503 and health.json()["redis"] is False
        assert (await client.get("/api/health/live")).status_code == 200  # alive, only its Redis is not
        detailed = await client.get("/api/health/detailed")
        assert detailed.status_code == 503
        assert detailed.json()["redis"]["ok"] is False and detailed.json()["redis"]["error"]
        posted = await client.post("/api/runs", json={"script": {"title": "t", "steps": [
            {"type": "navigate", "url": "http://127.0.0.1:9/"}]}})
        assert posted.status_code == 503 and "redis" in posted.json()["message"]
        [run] = (await client.get("/api/runs")).json()["items"]
        assert run["status"] == "error" and "could not enqueue" in run["error"]


async def test_native_script_schema_is_served(api_client: httpx.AsyncClient) -> None:
    import json

    response = await api_client.get("/api/schema/script")
    assert response.status_code == 200
    documented = json.loads((REPO_ROOT / "docs/native-script.schema.json").read_text())
    assert response.json() == documented


async def test_the_run_contract_is_served(api_client: httpx.AsyncClient) -> None:
    response = await api_client.get("/api/contract")
    assert response.status_code == 200 and response.json() == client_contract()
    assert response.json()["finalRunStatuses"] == ["passed", "failed", "error", "cancelled"]
