"""The runs API in-process (ASGI) on real Postgres and Redis; no worker runs here."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
from bullmq import Queue

from contract.settings import Settings
from jobs.queue import bullmq_connection

from services import job_counts

RECORDING: dict[str, Any] = {
    "title": "Sign up",
    "steps": [
        {"type": "setViewport", "width": 800, "height": 600, "deviceScaleFactor": 1, "isMobile": False,
         "hasTouch": False, "isLandscape": False},
        {"type": "navigate", "url": "http://127.0.0.1:9/index.html"},
        {"type": "click", "selectors": [["#submit"]], "offsetX": 1, "offsetY": 1},
    ],
}


async def test_post_queues_a_job_whose_id_is_the_run_id(api_client: httpx.AsyncClient, settings: Settings) -> None:
    response = await api_client.post("/api/runs", json={"script": RECORDING, "video": "off"})
    assert response.status_code == 201, response.text
    run = response.json()
    assert run["status"] == "queued" and run["name"] == "Sign up" and run["format"] == "chrome-recorder"
    assert run["options"]["video"] == "off" and response.headers["location"].endswith(run["id"])

    queue = Queue(settings.queue_name, {"connection": bullmq_connection(settings.redis_url)})
    try:
        job = await queue.getJob(run["id"])
        assert job is not None and job.id == run["id"] and job.data == {"runId": run["id"]}
        assert await queue.getJobState(run["id"]) == "prioritized"  # with the run's priority (normal)
    finally:
        await queue.close()

    detail = (await api_client.get(f"/api/runs/{run['id']}")).json()
    assert detail["status"] == "queued" and detail["steps"] == [] and detail["artifacts"] == []


async def test_invalid_script_is_422_naming_the_field_and_queues_nothing(
    api_client: httpx.AsyncClient, settings: Settings
) -> None:
    broken = {"title": "x", "steps": [{"type": "navigate", "url": "http://a"}, {"type": "click"}]}
    response = await api_client.post("/api/runs", json={"script": broken})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_script"
    assert body["fields"][0]["field"].startswith("script.steps[1]"), body
    assert "script.steps[1]" in body["message"]
    assert (await api_client.get("/api/runs")).json()["total"] == 0
    assert sum((await job_counts(settings)).values()) == 0


async def test_unknown_step_type_names_the_type_field(api_client: httpx.AsyncClient) -> None:
    script = {"title": "x", "steps": [{"type": "teleport"}]}
    body = (await api_client.post("/api/runs", json={"script": script})).json()
    assert body["fields"][0]["field"] == "script.steps[0].type", body


async def test_bad_options_are_422_naming_the_field(api_client: httpx.AsyncClient, settings: Settings) -> None:
    cases = [
        ({"script": RECORDING, "video": "sometimes"}, "video"),
        ({"script": RECORDING, "screenshots": "always"}, "screenshots"),
        ({"script": RECORDING, "timeoutMs": 5}, "timeoutMs"),
        ({"script": RECORDING, "surprise": 1}, "surprise"),
        ({"video": "on"}, "script"),
        ({"script": "not an object"}, "script"),
    ]
    for payload, field in cases:
        response = await api_client.post("/api/runs", json=payload)
        assert response.status_code == 422, (payload, response.text)
        fields = [item["field"] for item in response.json()["fields"]]
        assert field in fields, (payload, fields)
    malformed = await api_client.post("/api/runs", content=b"{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 422
    assert sum((await job_counts(settings)).values()) == 0


async def test_idempotency_key_never_doubles(api_client: httpx.AsyncClient, settings: Settings) -> None:
    headers = {"Idempotency-Key": "build-77-signup"}
    first = await api_client.post("/api/runs", json={"script": RECORDING}, headers=headers)
    again = await api_client.post("/api/runs", json={"script": RECORDING}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert (await job_counts(settings))["waiting"] == 1
    assert (await api_client.get("/api/runs")).json()["total"] == 1


async def test_list_is_newest_first_with_pagination(api_client: httpx.AsyncClient) -> None:
    ids = []
    for index in range(3):
        response = await api_client.post("/api/runs", json={"script": RECORDING, "name": f"run {index}"})
        ids.append(response.json()["id"])
    page = (await api_client.get("/api/runs", params={"limit": 2})).json()
    assert page["total"] == 3 and [item["id"] for item in page["items"]] == [ids[2], ids[1]]
    rest = (await api_client.get("/api/runs", params={"limit": 2, "offset": 2})).json()
    assert [item["id"] for item in rest["items"]] == [ids[0]]
    assert (await api_client.get("/api/runs", params={"status": "weird"})).status_code == 422
    assert (await api_client.get("/api/runs", params={"limit": 0})).status_code == 422


async def test_cancel_a_queued_run_removes_its_job(api_client: httpx.AsyncClient, settings: Settings) -> None:
    run = (await api_client.post("/api/runs", json={"script": RECORDING})).json()
    response = await api_client.post(f"/api/runs/{run['id']}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert (await job_counts(settings))["waiting"] == 0
    again = await api_client.post(f"/api/runs/{run['id']}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["message"]


async def test_retry_queues_a_linked_copy(api_client: httpx.AsyncClient, settings: Settings) -> None:
    run = (await api_client.post("/api/runs", json={"script": RECORDING, "video": "off"})).json()
    await api_client.post(f"/api/runs/{run['id']}/cancel")
    retry = await api_client.post(f"/api/runs/{run['id']}/retry")
    assert retry.status_code == 201
    copy = retry.json()
    assert copy["id"] != run["id"] and copy["retryOf"] == run["id"] and copy["options"]["video"] == "off"
    assert (await job_counts(settings))["waiting"] == 1


async def test_unknown_and_malformed_ids(api_client: httpx.AsyncClient) -> None:
    missing = await api_client.get(f"/api/runs/{uuid4()}")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    malformed = await api_client.get("/api/runs/4729x")
    assert malformed.status_code == 422 and malformed.json()["fields"][0]["field"] == "run_id"
    assert (await api_client.get(f"/api/runs/{uuid4()}/artifacts/1")).status_code == 404


async def test_variables_and_secrets_are_checked_at_post(api_client: httpx.AsyncClient) -> None:
    script = {"version": 1, "name": "n", "steps": [{"action": "navigate", "url": "${BASE}/x"},
                                                    {"action": "fill", "selector": "#p", "value": "${PASSWORD}"}]}
    missing = await api_client.post("/api/runs", json={"script": script, "variables": {"BASE": "http://h"}})
    assert missing.status_code == 422
    assert missing.json()["fields"][0]["field"] == "script.steps[1].value"
    assert "${PASSWORD}" in missing.json()["message"]
    bad_name = await api_client.post("/api/runs", json={"script": script, "secrets": ["no-dashes"]})
    assert bad_name.status_code == 422 and bad_name.json()["fields"][0]["field"] == "secrets[0]"
    both = await api_client.post("/api/runs", json={"script": script, "variables": {"BASE": "http://h",
                                                                                    "PASSWORD": "x"},
                                                     "secrets": ["PASSWORD"]})
    assert both.status_code == 422 and "PASSWORD" in both.json()["message"]
    ok = await api_client.post("/api/runs", json={"script": script, "variables": {"BASE": "http://h"},
                                                   "secrets": ["PASSWORD"]})
    assert ok.status_code == 201, ok.text
    assert ok.json()["options"]["secrets"] == ["PASSWORD"] and ok.json()["options"]["variables"] == {"BASE": "http://h"}


async def test_context_options_are_validated_and_stored(api_client: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"timezoneId": "Mars/Olympus"}, "timezoneId"), ({"browser": "firefox"}, "browser"),
        ({"viewport": {"width": 5, "height": 600}}, "viewport.width"), ({"locale": "not a locale"}, "locale"),
        ({"baseUrl": "ftp://x"}, "baseUrl")]
    for extra, field in cases:
        response = await api_client.post("/api/runs", json={"script": RECORDING, **extra})
        assert response.status_code == 422, (extra, response.text)
        assert field in [item["field"] for item in response.json()["fields"]], (extra, response.json())
    ok = await api_client.post("/api/runs", json={
        "script": RECORDING, "timezoneId": "Europe/Paris", "locale": "fr-FR", "baseUrl": "https://ci.test",
        "viewport": {"width": 800, "height": 600}, "extraHttpHeaders": {"X-A": "1"}, "navigationTimeoutMs": 20000})
    assert ok.status_code == 201, ok.text
    options = ok.json()["options"]
    assert options["timezoneId"] == "Europe/Paris" and options["viewport"] == {"width": 800, "height": 600}
    assert options["baseUrl"] == "https://ci.test" and options["extraHttpHeaders"] == {"X-A": "1"}
    assert "storageState" not in options and options["navigationTimeoutMs"] == 20000


async def test_device_names_are_checked(api_client: httpx.AsyncClient) -> None:
    unknown = await api_client.post("/api/runs", json={"script": RECORDING, "device": "Nokia 3310"})
    assert unknown.status_code == 422 and unknown.json()["fields"] == [
        {"field": "device", "message": "unknown device 'Nokia 3310' (Playwright's device names, e.g. 'iPhone 13')"}]
    known = await api_client.post("/api/runs", json={"script": RECORDING, "device": "iPhone 13"})
    assert known.status_code == 201 and known.json()["options"]["device"] == "iPhone 13"
