"""Flaky tests with real worker processes, against the fixture page that fails every other load (tests/site_server.py,
`/flaky/<key>`): a run with `retries: 1` passes on its retry and is flaky, and the worker quarantines the recording
automatically; a quarantined recording's failure does not fail its suite."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from flows import log_events, quick_script
from services import WorkerProcess, wait_for, wait_for_final, wait_for_workers


def every_other_load(site_url: str, name: str) -> dict[str, Any]:
    """Fails on the page's 1st, 3rd, ... load (its #state says `broken`), passes on the 2nd, 4th, ..."""
    return {"version": 1, "name": name, "steps": [
        {"action": "navigate", "url": f"{site_url}/flaky/{uuid.uuid4().hex}"},
        {"action": "assertText", "selector": "#state", "text": "ok", "timeoutMs": 500},
    ]}


async def save(client: httpx.AsyncClient, script: dict[str, Any], name: str) -> str:
    response = await client.post("/api/recordings", json={"script": script, "name": name})
    assert response.status_code == 201, response.text
    recording_id: str = response.json()["id"]
    return recording_id


async def test_a_run_that_passes_on_its_retry_is_passed_and_flaky_and_its_recording_quarantined_automatically(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    # One flip (here: the flaky run) is enough to quarantine automatically.
    worker = start_worker("worker-1", FLAKY_QUARANTINE_FLIPS="1", FLAKY_WINDOW_RUNS="5")
    await wait_for_workers(api_client, {"worker-1"})
    recording = await save(api_client, every_other_load(site_url, "every other load"), "every other load")

    response = await api_client.post(f"/api/recordings/{recording}/runs", json={"retries": 1, "video": "off"})
    assert response.status_code == 201, response.text
    run = await wait_for_final(api_client, response.json()["id"], timeout=90)

    assert run["status"] == "passed" and run["flaky"] is True, run
    assert [attempt["status"] for attempt in run["attemptHistory"]] == ["failed", "passed"]
    assert run["attemptHistory"][0]["category"] == "assertion_failed"
    # It ended before the quarantine it caused: not marked.
    assert run["quarantined"] is False
    saved = (await api_client.get(f"/api/recordings/{recording}")).json()
    assert saved["quarantine"]["reason"] == "automatic: 1 flip in the last 5 runs"
    assert saved["quarantine"]["by"] == "automatic"
    logged = [event for event in log_events(worker) if event.get("message") == "recording quarantined automatically"]
    assert [event["recordingId"] for event in logged] == [recording]
    [item] = (await api_client.get("/api/flaky")).json()["items"]
    assert item["recordingId"] == recording and item["flakiness"]["flakyRuns"] == 1
    assert (await api_client.get("/api/runs", params={"flaky": "true"})).json()["items"][0]["id"] == run["id"]


async def test_a_quarantined_recordings_failure_does_not_fail_its_suite(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})
    passing = await save(api_client, quick_script(site_url, "login"), "login")
    shaky = await save(api_client, every_other_load(site_url, "shaky banner"), "shaky banner")  # fails its 1st load
    quarantined = await api_client.post(f"/api/recordings/{shaky}/quarantine",
                                        json={"reason": "banner test flaky since the CDN change"})
    assert quarantined.status_code == 200, quarantined.text
    suite = (await api_client.post("/api/suites", json={"name": "smoke", "recordingIds": [passing, shaky],
                                                        "defaults": {"video": "off"}})).json()

    queued = (await api_client.post(f"/api/suites/{suite['id']}/runs", json={})).json()

    async def decided() -> dict[str, Any] | None:
        body: dict[str, Any] = (await api_client.get(f"/api/suite-runs/{queued['id']}")).json()
        return body if body["status"] in ("passed", "failed", "error", "cancelled") else None

    done = await wait_for(decided, timeout=120, interval=0.2, what="the suite run to be decided")
    assert done["status"] == "passed", done
    assert done["counts"] == {"passed": 1, "failed": 0, "error": 0, "cancelled": 0, "quarantined": 1}
    shaky_run = done["runs"][1]
    assert (shaky_run["status"], shaky_run["quarantined"]) == ("failed", True)
    assert done["ignoredRuns"] == [shaky_run["id"]]
    # Its run still ran and is reported: the failing step is there.
    detail = (await api_client.get(f"/api/runs/{shaky_run['id']}")).json()
    assert [step["status"] for step in detail["steps"]] == ["passed", "failed"]
