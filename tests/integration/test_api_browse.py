"""What the dashboard reads: the filtered, keyset-paged run list, throughput, saved recordings, and the
event stream; on the real Postgres and Redis."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

from contract.settings import Settings

from flows import numbered_slow_script, post_run

SCRIPT = numbered_slow_script("http://127.0.0.1:9", 0)


async def sql(settings: Settings, statement: str, *args: Any) -> None:
    connection = await asyncpg.connect(settings.database_url)
    try:
        await connection.execute(statement, *args)
    finally:
        await connection.close()


async def test_filters_and_keyset_pages(api_client: httpx.AsyncClient, settings: Settings) -> None:
    ids = [await post_run(api_client, {"script": SCRIPT, "name": f"{'checkout' if i % 3 else 'login'} 100%_{i}"})
           for i in range(12)]
    await sql(settings, "UPDATE runs SET status = 'running' WHERE id = ANY($1::uuid[])", ids[:4])
    await sql(settings, "UPDATE runs SET status = 'failed', worker_name = 'worker-2', error = 'boom at step 2' "
                        "WHERE id = ANY($1::uuid[])", ids[:4])
    await sql(settings, "UPDATE runs SET created_at = now() - interval '3 days' WHERE id = $1::uuid", ids[0])

    async def names(**params: Any) -> list[str]:
        body = (await api_client.get("/api/runs", params=params)).json()
        return [item["name"] for item in body["items"]]

    assert len(await names(name="LOGIN")) == 4
    assert len(await names(name="100%_1")) == 3  # % and _ match themselves: 100%_1, 100%_10, 100%_11
    assert len(await names(worker="worker-2")) == 4
    assert len(await names(q="boom")) == 4
    assert len(await names(q="boom", status="failed", worker="worker-2")) == 4
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    assert len(await names(**{"from": two_days_ago})) == 11
    assert len(await names(to=two_days_ago)) == 1

    first = (await api_client.get("/api/runs", params={"limit": 5})).json()
    assert first["total"] == 12 and len(first["items"]) == 5
    seen = [item["number"] for item in first["items"]]
    cursor = first["nextCursor"]
    while cursor is not None:
        page = (await api_client.get("/api/runs", params={"limit": 5, "before": cursor})).json()
        assert page["total"] is None
        seen += [item["number"] for item in page["items"]]
        cursor = page["nextCursor"]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 12


async def test_bad_list_parameters_are_422_naming_them(api_client: httpx.AsyncClient) -> None:
    for params, field in (({"before": "x"}, "before"), ({"from": "yesterday"}, "from"), ({"status": "lost"}, "status"),
                          ({"limit": 0}, "limit")):
        response = await api_client.get("/api/runs", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["fields"][0]["field"] == field


async def test_throughput_buckets_cover_the_window(api_client: httpx.AsyncClient, settings: Settings) -> None:
    ids = [await post_run(api_client, {"script": SCRIPT}) for _ in range(3)]
    await sql(settings, "UPDATE runs SET status = 'running' WHERE id = ANY($1::uuid[])", ids[:2])
    await sql(settings, "UPDATE runs SET status = 'passed', finished_at = now() - interval '10 minutes' "
                        "WHERE id = ANY($1::uuid[])", ids[:2])
    await sql(settings, "UPDATE runs SET status = 'error', finished_at = now() - interval '5 hours' "
                        "WHERE id = $1::uuid", ids[2])

    hour = (await api_client.get("/api/stats/throughput", params={"window": "hour"})).json()
    day = (await api_client.get("/api/stats/throughput", params={"window": "day"})).json()

    assert hour["bucketSeconds"] == 60 and len(hour["buckets"]) == 60
    assert sum(b["passed"] for b in hour["buckets"]) == 2 and sum(b["error"] for b in hour["buckets"]) == 0
    assert day["bucketSeconds"] == 3600 and len(day["buckets"]) == 24
    assert (sum(b["passed"] for b in day["buckets"]), sum(b["error"] for b in day["buckets"])) == (2, 1)
    starts = [b["start"] for b in day["buckets"]]
    assert starts == sorted(starts)
    assert (await api_client.get("/api/stats/throughput", params={"window": "week"})).status_code == 422


async def test_recordings_are_saved_listed_run_and_deleted(api_client: httpx.AsyncClient, settings: Settings) -> None:
    invalid = await api_client.post("/api/recordings", json={"script": {"title": "x", "steps": [{"type": "hover"}]}})
    assert invalid.status_code == 422 and invalid.json()["fields"][0]["field"].startswith("script.steps[0]")

    saved = await api_client.post("/api/recordings", json={"script": SCRIPT})
    assert saved.status_code == 201, saved.text
    recording = saved.json()
    assert (recording["name"], recording["stepCount"], recording["lastRun"]) == (SCRIPT["name"], 4, None)

    run = await api_client.post(f"/api/recordings/{recording['id']}/runs", json={"video": "off", "retries": 1})
    assert run.status_code == 201, run.text
    assert run.json()["recordingId"] == recording["id"] and run.json()["options"]["retries"] == 1
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        job = await redis.hgetall(f"bull:{settings.queue_name}:{run.json()['id']}")
    finally:
        await redis.aclose()
    assert json.loads(job["data"]) == {"runId": run.json()["id"]} and json.loads(job["opts"])["attempts"] == 4

    listed = (await api_client.get("/api/recordings")).json()
    assert listed["total"] == 1 and listed["items"][0]["lastRun"]["id"] == run.json()["id"]
    assert (await api_client.get(f"/api/recordings/{recording['id']}")).json()["script"] == SCRIPT
    assert (await api_client.delete(f"/api/recordings/{recording['id']}")).status_code == 204
    missing = await api_client.get(f"/api/recordings/{recording['id']}")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert (await api_client.get(f"/api/runs/{run.json()['id']}")).json()["recordingId"] is None


async def test_recordings_are_found_by_their_exact_name(api_client: httpx.AsyncClient) -> None:
    """`GET /api/recordings?name=` (what `reprise submit --recording NAME` asks): exact, case and all; names are
    not unique, so every one of that name comes back, newest first, with the total."""
    ids: dict[str, list[str]] = {}
    for name in ("Checkout", "checkout", "Checkout flow", "Checkout"):
        saved = await api_client.post("/api/recordings", json={"script": SCRIPT, "name": name})
        assert saved.status_code == 201, saved.text
        ids.setdefault(name, []).append(saved.json()["id"])

    exact = (await api_client.get("/api/recordings", params={"name": "Checkout"})).json()
    assert ([item["id"] for item in exact["items"]], exact["total"]) == (ids["Checkout"][::-1], 2)
    lower = (await api_client.get("/api/recordings", params={"name": "checkout"})).json()
    assert ([item["id"] for item in lower["items"]], lower["total"]) == (ids["checkout"], 1)
    none = (await api_client.get("/api/recordings", params={"name": "Check%"})).json()
    assert (none["items"], none["total"]) == ([], 0)
    assert (await api_client.get("/api/recordings")).json()["total"] == 4
    refused = await api_client.get("/api/recordings", params={"name": "x" * 301})
    assert refused.status_code == 422 and refused.json()["fields"][0]["field"] == "name"


async def test_event_stream_sends_run_and_step_changes(live_api: str, settings: Settings) -> None:
    async with httpx.AsyncClient(base_url=live_api, timeout=30) as client:
        run_id = await post_run(client, {"script": SCRIPT})
        other = await post_run(client, {"script": SCRIPT})
        async with client.stream("GET", "/api/events", params={"runId": run_id}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            assert await anext(lines) == ": connected"
            await sql(settings, "UPDATE runs SET status = 'running', attempts = 1 WHERE id = ANY($1::uuid[])",
                      [other, run_id])
            await sql(settings, "INSERT INTO run_steps (run_id, attempt, step_index, step_type, status, "
                                "duration_ms) VALUES ($1::uuid, 1, 0, 'navigate', 'passed', 5)", run_id)
            # The same row written again (a finishing attempt writes every step again) is no news.
            await sql(settings, "UPDATE run_steps SET status = 'passed' WHERE run_id = $1::uuid", run_id)
            await sql(settings, "INSERT INTO run_steps (run_id, attempt, step_index, step_type, status, "
                                "duration_ms, started_offset_ms, selector, error, error_category) VALUES "
                                "($1::uuid, 1, 1, 'click', 'failed', 30, 5, '#go', 'no #go', 'timeout')", run_id)
            # Too long for a notification (8000 bytes): the write still succeeds, its event says less.
            await sql(settings, "INSERT INTO run_steps (run_id, attempt, step_index, step_type, status, "
                                "duration_ms, error) VALUES ($1::uuid, 1, 2, 'click', 'skipped', 0, $2)",
                      run_id, "é" * 5000)
            received: list[tuple[str, dict[str, Any]]] = []
            async with asyncio.timeout(15):
                kind = ""
                async for line in lines:
                    if line.startswith("event: "):
                        kind = line.removeprefix("event: ")
                    elif line.startswith("data: "):
                        received.append((kind, json.loads(line.removeprefix("data: "))))
                        if len(received) == 4:
                            break
        steps = (await client.get(f"/api/runs/{run_id}/attempts/1/steps")).json()
    assert received[0] == ("run", {"kind": "run", "id": run_id, "number": received[0][1]["number"],
                                   "status": "running", "attempts": 1, "flaky": False, "quarantined": False})
    # A step event is the step as GET /api/runs/{id} shows it, with its run and attempt.
    assert received[1] == ("step", {"kind": "step", "runId": run_id, "attempt": 1, "index": 0, "status": "passed",
                                    "type": "navigate", "durationMs": 5, "startedOffsetMs": 0, "selector": None,
                                    "error": None, "category": None, "warning": None})
    assert received[2] == ("step", {"kind": "step", "runId": run_id, "attempt": 1, "index": 1, "status": "failed",
                                    "type": "click", "durationMs": 30, "startedOffsetMs": 5, "selector": "#go",
                                    "error": "no #go", "category": "timeout", "warning": None})
    assert received[3] == ("step", {"kind": "step", "runId": run_id, "attempt": 1, "index": 2, "status": "skipped",
                                    "partial": True})
    assert steps[2]["error"] == "é" * 5000
    assert [step | {"kind": "step", "runId": run_id, "attempt": 1} for step in steps[:2]] == \
        [event for _, event in received[1:3]]


async def test_event_streams_end_when_the_listener_comes_back(live_api: str, settings: Settings) -> None:
    """Events made while the API's listener was away were never heard: the streams open meanwhile end when it
    listens again, so their clients reconnect and read afresh; a new stream then hears changes again."""
    async with httpx.AsyncClient(base_url=live_api, timeout=30) as client:
        run_id = await post_run(client, {"script": SCRIPT})
        async with client.stream("GET", "/api/events", params={"runId": run_id}) as stream:
            lines = stream.aiter_lines()
            assert await anext(lines) == ": connected"
            await sql(settings, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND application_name = 'reprise-events'")
            async with asyncio.timeout(30):
                rest = [line async for line in lines]
        assert not any(line.startswith("data: ") for line in rest), rest
        async with client.stream("GET", "/api/events", params={"runId": run_id}) as stream:
            lines = stream.aiter_lines()
            assert await anext(lines) == ": connected"
            await sql(settings, "UPDATE runs SET status = 'running', attempts = 1 WHERE id = $1::uuid", run_id)
            async with asyncio.timeout(15):
                async for line in lines:
                    if line.startswith("data: "):
                        assert json.loads(line.removeprefix("data: "))["status"] == "running"
                        break


async def test_a_recordings_priority_is_its_runs_default_and_the_list_filters_by_priority(
    api_client: httpx.AsyncClient, settings: Settings,
) -> None:
    bad = await api_client.post("/api/recordings", json={"script": SCRIPT, "priority": "urgent"})
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "priority"
    recording = (await api_client.post("/api/recordings", json={"script": SCRIPT, "priority": "low"})).json()
    assert recording["priority"] == "low"

    inherited = (await api_client.post(f"/api/recordings/{recording['id']}/runs", json={"video": "off"})).json()
    asked = (await api_client.post(f"/api/recordings/{recording['id']}/runs", json={"priority": "high"})).json()
    plain = (await api_client.post("/api/runs", json={"script": SCRIPT})).json()
    assert [run["priority"] for run in (inherited, asked, plain)] == ["low", "high", "normal"]
    assert [run["options"]["priority"] for run in (inherited, asked, plain)] == ["low", "high", "normal"]

    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        opts = [json.loads(await redis.hget(f"bull:{settings.queue_name}:{run['id']}", "opts") or "{}")
                for run in (inherited, asked, plain)]
    finally:
        await redis.aclose()
    assert [options["priority"] for options in opts] == [3, 1, 2]  # BullMQ's: 1 is taken first

    for priority, run in (("low", inherited), ("high", asked), ("normal", plain)):
        listed = (await api_client.get("/api/runs", params={"priority": priority})).json()
        assert ([item["id"] for item in listed["items"]], listed["total"]) == ([run["id"]], 1)
    assert (await api_client.get("/api/runs", params={"priority": "urgent"})).status_code == 422
