"""The schedules API in-process (ASGI) on real Postgres and Redis; no worker runs here (the ticks' runs are
tests/e2e/test_schedules.py's). What the API checks at the edge, what BullMQ's job scheduler is told, and what
deleting a recording does to its schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import httpx
import pytest
from bullmq import Queue

from contract.settings import Settings
from jobs.queue import BULLMQ_PRIORITIES, bullmq_connection

from flows import quick_script
from services import api_client_for

SITE = "http://127.0.0.1:9"  # never reached: no worker runs here


async def save_recording(client: httpx.AsyncClient, name: str = "nightly", priority: str = "normal") -> str:
    response = await client.post("/api/recordings", json={"script": quick_script(SITE, name), "priority": priority})
    assert response.status_code == 201, response.text
    recording_id: str = response.json()["id"]
    return recording_id


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/schedules", json=body)
    assert response.status_code == 201, response.text
    schedule: dict[str, Any] = response.json()
    assert response.headers["location"].endswith(f"/api/schedules/{schedule['id']}")
    return schedule


async def scheduler(settings: Settings, schedule_id: str) -> dict[str, Any] | None:
    queue = Queue(settings.queue_name, {"connection": bullmq_connection(settings.redis_url)})
    try:
        if not await queue.isJobScheduler(f"schedule:{schedule_id}"):
            return None
        found = await queue.getJobScheduler(f"schedule:{schedule_id}")
    finally:
        await queue.close()
    return dict(found) if found else None


def next_local(zone: str, hour: int, minute: int, second: int = 0) -> datetime:
    """The next instant it is hour:minute:second in `zone`, in UTC, computed without cron."""
    tz = ZoneInfo(zone)
    now = datetime.now(tz)
    candidate = now.replace(hour=hour, minute=minute, second=second, microsecond=0)
    if candidate <= now:
        candidate = (candidate.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=tz)
    return candidate.astimezone(UTC)


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "America/New_York", "Australia/Lord_Howe"])
async def test_a_cron_pattern_with_seconds_fires_at_that_local_time_in_its_zone(
    api_client: httpx.AsyncClient, settings: Settings, zone: str,
) -> None:
    recording_id = await save_recording(api_client)
    schedule = await create(api_client, {"recordingId": recording_id, "cron": "15 30 9 * * *", "timezone": zone})
    assert schedule["state"] == "active" and schedule["cron"] == "15 30 9 * * *" and schedule["timezone"] == zone
    expected = next_local(zone, 9, 30, 15)
    assert datetime.fromisoformat(schedule["nextRunAt"]) == expected, (schedule["nextRunAt"], expected)
    found = await scheduler(settings, schedule["id"])
    assert found is not None and found["pattern"] == "15 30 9 * * *" and found["tz"] == zone
    assert found["next"] == int(expected.timestamp() * 1000)
    assert found["template"]["data"] == {"scheduleId": schedule["id"]}
    assert found["name"] == "run"


async def test_the_scheduler_carries_the_runs_priority_the_options_else_the_recordings(
    api_client: httpx.AsyncClient, settings: Settings,
) -> None:
    recording_id = await save_recording(api_client, priority="low")
    by_recording = await create(api_client, {"recordingId": recording_id, "cron": "0 0 * * *"})
    asked = await create(api_client, {"recordingId": recording_id, "cron": "0 0 * * *",
                                      "options": {"priority": "high", "video": "off"}, "name": "urgent"})
    assert by_recording["priority"] == "low" and asked["priority"] == "high"
    assert asked["name"] == "urgent" and by_recording["name"] == "nightly"
    for schedule, priority in ((by_recording, "low"), (asked, "high")):
        found = await scheduler(settings, schedule["id"])
        assert found is not None
        opts = found["template"]["opts"]
        assert opts["priority"] == BULLMQ_PRIORITIES[priority]  # type: ignore[index]
        assert "removeOnComplete" in opts and "removeOnFail" in opts and opts["attempts"] >= 1


BAD_BODIES = [
    ({"cron": "61 * * * *"}, "cron", "not a valid cron pattern"),
    ({"cron": "* * * * * * *"}, "cron", "5 fields, or 6"),
    ({"cron": "0 0 30 2 *"}, "cron", "never fires"),
    ({"cron": "*/2 * * * * *", "timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
    ({"cron": "*/2 * * * * *", "everyMs": 5000}, "everyMs", "not both"),
    ({}, "everyMs", "give cron"),
    ({"timezone": "UTC"}, "everyMs", "give cron"),
    ({"everyMs": 999}, "everyMs", "greater than or equal to 1000"),
    ({"everyMs": 5000, "timezone": "UTC"}, "timezone", "cron pattern only"),
    ({"everyMs": 5000, "options": {"priority": "urgent"}}, "options.priority", ""),
]


@pytest.mark.parametrize(("body", "field", "message"), BAD_BODIES)
async def test_a_bad_schedule_is_a_422_naming_the_field(
    api_client: httpx.AsyncClient, settings: Settings, body: dict[str, Any], field: str, message: str,
) -> None:
    recording_id = await save_recording(api_client)
    response = await api_client.post("/api/schedules", json={"recordingId": recording_id, **body})
    assert response.status_code == 422, response.text
    problems = response.json()["fields"]
    assert [problem["field"] for problem in problems] == [field], problems
    assert message in problems[0]["message"]
    assert (await api_client.get("/api/schedules")).json()["total"] == 0


async def test_an_unknown_recording_is_a_422_naming_recording_id(api_client: httpx.AsyncClient) -> None:
    response = await api_client.post("/api/schedules", json={"recordingId": str(uuid4()), "everyMs": 5000})
    assert response.status_code == 422, response.text
    assert response.json()["fields"][0]["field"] == "recordingId"
    malformed = await api_client.post("/api/schedules", json={"recordingId": "nope", "everyMs": 5000})
    assert malformed.status_code == 422 and malformed.json()["fields"][0]["field"] == "recordingId"


async def test_the_network_policy_applies_to_a_schedules_recording_at_creation(
    settings: Settings,
) -> None:
    closed = settings.model_copy(update={"browser_allowed_networks": ()})  # loopback blocked, as in production
    async with api_client_for(closed) as client:
        recording_id = await save_recording(client)
        response = await client.post("/api/schedules", json={"recordingId": recording_id, "everyMs": 5000})
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "blocked_url"
        assert response.json()["fields"][0]["field"] == "script.steps[0].url"


async def test_patch_pause_resume_and_delete(api_client: httpx.AsyncClient, settings: Settings) -> None:
    recording_id = await save_recording(api_client)
    schedule = await create(api_client, {"recordingId": recording_id, "cron": "0 0 * * *", "timezone": "Europe/Paris"})
    url = f"/api/schedules/{schedule['id']}"

    changed = await api_client.patch(url, json={"cron": "0 30 9 * * *", "name": "morning", "skipIfRunning": False})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["cron"], body["timezone"], body["name"], body["skipIfRunning"]) == (
        "0 30 9 * * *", "Europe/Paris", "morning", False)
    assert datetime.fromisoformat(body["nextRunAt"]) == next_local("Europe/Paris", 9, 30)

    refused = await api_client.patch(url, json={"everyMs": 5000, "timezone": "UTC"})
    assert refused.status_code == 422 and refused.json()["fields"][0]["field"] == "timezone", refused.text
    both = await api_client.patch(url, json={"everyMs": 5000, "cron": "* * * * *"})
    assert both.status_code == 422 and both.json()["fields"][0]["field"] == "everyMs", both.text
    bad_zone = await api_client.patch(url, json={"timezone": "Nowhere/Land"})
    assert bad_zone.status_code == 422 and bad_zone.json()["fields"][0]["field"] == "timezone", bad_zone.text

    every = await api_client.patch(url, json={"everyMs": 60_000})
    assert every.status_code == 200, every.text
    assert (every.json()["cron"], every.json()["timezone"], every.json()["everyMs"]) == (None, None, 60_000)
    found = await scheduler(settings, schedule["id"])
    assert found is not None and found["every"] == 60_000 and "pattern" not in found

    paused = (await api_client.post(f"{url}/pause")).json()
    assert paused["state"] == "paused" and paused["nextRunAt"] is None
    assert await scheduler(settings, schedule["id"]) is None
    resumed = (await api_client.post(f"{url}/resume")).json()
    assert resumed["state"] == "active" and resumed["nextRunAt"] is not None
    assert await scheduler(settings, schedule["id"]) is not None

    listed = (await api_client.get("/api/schedules")).json()
    assert [item["id"] for item in listed["items"]] == [schedule["id"]] and listed["total"] == 1
    assert listed["items"][0]["nextRunAt"] == resumed["nextRunAt"]

    assert (await api_client.delete(url)).status_code == 204
    assert await scheduler(settings, schedule["id"]) is None
    assert (await api_client.get(url)).status_code == 404
    assert (await api_client.delete(url)).status_code == 404
    assert (await api_client.post(f"{url}/pause")).status_code == 404


async def test_deleting_the_recording_stops_its_schedules_with_the_reason(
    api_client: httpx.AsyncClient, settings: Settings,
) -> None:
    recording_id = await save_recording(api_client, name="checkout flow")
    other = await save_recording(api_client, name="other")
    doomed = [await create(api_client, {"recordingId": recording_id, "everyMs": 60_000}),
              await create(api_client, {"recordingId": recording_id, "cron": "0 0 * * *"})]
    paused = await create(api_client, {"recordingId": recording_id, "cron": "0 0 * * *"})
    await api_client.post(f"/api/schedules/{paused['id']}/pause")
    kept = await create(api_client, {"recordingId": other, "everyMs": 60_000})

    assert (await api_client.delete(f"/api/recordings/{recording_id}")).status_code == 204
    for schedule in [*doomed, paused]:
        body = (await api_client.get(f"/api/schedules/{schedule['id']}")).json()
        assert body["state"] == "stopped", body
        assert body["stoppedReason"] == "recording checkout flow was deleted"
        assert body["nextRunAt"] is None and body["recordingId"] is None
        assert body["recordingName"] == "checkout flow"
        assert await scheduler(settings, schedule["id"]) is None
        resumed = await api_client.post(f"/api/schedules/{schedule['id']}/resume")
        assert resumed.status_code == 409 and "checkout flow was deleted" in resumed.json()["message"]
        assert (await api_client.patch(f"/api/schedules/{schedule['id']}", json={"name": "x"})).status_code == 409
    still = (await api_client.get(f"/api/schedules/{kept['id']}")).json()
    assert still["state"] == "active" and await scheduler(settings, kept["id"]) is not None


async def test_each_queue_sees_only_its_own_schedules(settings: Settings) -> None:
    other_queue = settings.model_copy(update={"queue_name": f"{settings.queue_name}-other"})
    async with api_client_for(settings) as mine, api_client_for(other_queue) as theirs:
        recording_id = await save_recording(mine)
        schedule = await create(mine, {"recordingId": recording_id, "cron": "0 0 * * *"})
        assert (await theirs.get("/api/schedules")).json()["total"] == 0
        assert (await theirs.get(f"/api/schedules/{schedule['id']}")).status_code == 404
        assert (await theirs.delete(f"/api/schedules/{schedule['id']}")).status_code == 404
        assert (await mine.get(f"/api/schedules/{schedule['id']}")).status_code == 200
