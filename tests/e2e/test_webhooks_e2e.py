"""Webhooks end to end: a real `reprise worker` replays a failing recording against the fixture site in Chromium, and
the same worker sends the run's webhooks (JSON and Slack) to a real receiver that checks every signature. The receiver
answers the JSON delivery 500 twice: BullMQ retries it with backoff until it is delivered, and the API's delivery log
shows each attempt."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from webhook_receiver import Receiver, serve_receiver

from contract.settings import Settings

from flows import quick_script
from recordings import load_recording
from services import WorkerProcess, wait_for, wait_for_final, wait_for_workers

pytestmark = pytest.mark.slow
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The API's: the receiver is on loopback, opened to webhooks (the worker gets the same in its environment)."""
    return settings.model_copy(update={"webhook_allowed_networks": ("127.0.0.0/8",)})


async def subscribe(client: httpx.AsyncClient, receiver: Receiver, path: str, body: dict[str, Any],
                    answers: list[int] | None = None) -> dict[str, Any]:
    response = await client.post("/api/webhooks", json={"name": path.strip("/"),
                                                         "url": receiver.endpoint(path, answers=answers), **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    receiver.endpoints[path].secret = created["secret"]
    return created


async def delivered(client: httpx.AsyncClient, webhook_id: str, timeout: float = 60) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        items = (await client.get(f"/api/webhooks/{webhook_id}/deliveries")).json()["items"]
        return items[0] if items and items[0]["finishedAt"] else None

    return await wait_for(done, timeout=timeout, interval=0.2, what=f"a settled delivery of {webhook_id}")


async def test_a_failed_run_on_a_real_worker_is_sent_retried_and_logged(
    api_client: httpx.AsyncClient, settings: Settings, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    async with serve_receiver() as receiver:
        failures = await subscribe(api_client, receiver, "/failed", {"events": ["run.failed"]}, answers=[500, 500])
        slack = await subscribe(api_client, receiver, "/slack", {"events": ["run.failed"], "format": "slack"})
        start_worker("worker-1", WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8", WEBHOOK_BACKOFF_MS="100",
                     WEBHOOK_MAX_ATTEMPTS="4")
        await wait_for_workers(api_client, {"worker-1"})

        recording = load_recording("native-wrong-greeting.json", site_url)
        created = await api_client.post("/api/runs", json={"script": recording, "name": "greeting"})
        assert created.status_code == 201, created.text
        run = await wait_for_final(api_client, created.json()["id"], timeout=90)
        assert run["status"] == "failed"
        [failed_step] = [step for step in run["steps"] if step["status"] == "failed"]

        delivery = await delivered(api_client, failures["id"])
        assert delivery["status"] == "delivered" and delivery["runId"] == run["id"]
        assert [attempt["statusCode"] for attempt in delivery["attemptHistory"]] == [500, 500, 200]
        assert all(attempt["latencyMs"] is not None for attempt in delivery["attemptHistory"])
        requests = receiver.of("/failed")
        assert [request.answered for request in requests] == [500, 500, 200]
        assert all(request.verified for request in requests), [request.problem for request in requests]

        payload = requests[-1].json()["run"]
        assert payload["id"] == run["id"] and payload["status"] == "failed" and payload["name"] == "greeting"
        assert payload["worker"] == "worker-1" and payload["durationMs"] == run["durationMs"]
        assert payload["failingStep"] == {"index": failed_step["index"], "type": failed_step["type"],
                                          "selector": failed_step["selector"], "error": failed_step["error"]}
        assert payload["failingStep"]["type"] == "assertText" and "Hello Bob" in payload["failingStep"]["error"]
        # The failure screenshot the payload links is the run's, and it is a PNG.
        assert payload["screenshotUrl"] in run["screenshotUrls"]
        shot = await api_client.get(urlsplit(payload["screenshotUrl"]).path)
        assert shot.status_code == 200 and shot.content.startswith(PNG_MAGIC)
        assert payload["videoUrl"] == run["videoUrl"]

        slack_delivery = await delivered(api_client, slack["id"])
        assert slack_delivery["status"] == "delivered"
        [slack_request] = receiver.of("/slack")
        message = slack_request.json()
        blocks = message["blocks"]
        assert "greeting" in message["text"] and "Hello Bob" in message["text"]
        assert f"/#/runs/{run['id']}|Run #{run['number']} greeting>" in blocks[0]["text"]["text"]
        assert f"Step {failed_step['index'] + 1} (assertText" in blocks[1]["text"]["text"]
        assert payload["screenshotUrl"] in blocks[2]["text"]["text"]
        assert "Worker: worker-1" in blocks[-1]["elements"][0]["text"]


async def test_a_suite_run_sends_suite_finished_with_its_runs_and_its_failed_child_to_the_suites_subscription(
    api_client: httpx.AsyncClient, settings: Settings, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    async with serve_receiver() as receiver:
        start_worker("worker-1", WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8", WEBHOOK_BACKOFF_MS="100")
        await wait_for_workers(api_client, {"worker-1"})
        recordings = []
        for name, script in (("login", quick_script(site_url, "login")),
                             ("greeting", load_recording("native-wrong-greeting.json", site_url))):
            saved = await api_client.post("/api/recordings", json={"script": script, "name": name})
            assert saved.status_code == 201, saved.text
            recordings.append(saved.json()["id"])
        created = await api_client.post("/api/suites", json={"name": "smoke", "recordingIds": recordings,
                                                             "defaults": {"video": "off"}})
        assert created.status_code == 201, created.text
        suite = created.json()
        of_suite = await subscribe(api_client, receiver, "/suite", {
            "events": ["suite.finished", "run.failed"], "scope": "suite", "suiteId": suite["id"]})
        slack = await subscribe(api_client, receiver, "/slack", {"events": ["suite.finished"], "format": "slack"})

        started = await api_client.post(f"/api/suites/{suite['id']}/runs", json={})
        assert started.status_code == 201, started.text
        suite_run_id = started.json()["id"]

        async def both_sent() -> list[dict[str, Any]] | None:
            items: list[dict[str, Any]] = (
                await api_client.get(f"/api/webhooks/{of_suite['id']}/deliveries")).json()["items"]
            return items if len(items) == 2 and all(item["status"] == "delivered" for item in items) else None

        deliveries = await wait_for(both_sent, timeout=120, interval=0.3, what="the suite's two deliveries")
        by_event = {delivery["event"]: delivery for delivery in deliveries}
        assert set(by_event) == {"suite.finished", "run.failed"}
        assert by_event["suite.finished"]["suiteRunId"] == suite_run_id
        suite_run = (await api_client.get(f"/api/suite-runs/{suite_run_id}")).json()
        failed_child = next(run for run in suite_run["runs"] if run["status"] == "failed")
        assert by_event["run.failed"]["runId"] == failed_child["id"]

        requests = {request.event: request for request in receiver.of("/suite")}
        assert all(request.verified for request in requests.values())
        payload = requests["suite.finished"].json()["suiteRun"]
        assert payload["id"] == suite_run_id and payload["suiteId"] == suite["id"] and payload["suiteName"] == "smoke"
        assert payload["status"] == suite_run["status"] == "failed"
        assert payload["counts"] == {"passed": 1, "failed": 1, "error": 0, "cancelled": 0,
                                     "quarantined": 0} == suite_run["counts"]
        assert payload["dashboardUrl"].endswith(f"/#/suite-runs/{suite_run_id}")
        assert payload["durationMs"] is not None and payload["durationMs"] >= 0
        assert [run["id"] for run in payload["runs"]] == [run["id"] for run in suite_run["runs"]]
        [failing] = [run for run in payload["runs"] if run["status"] == "failed"]
        assert failing["failingStep"]["type"] == "assertText" and failing["suiteRunId"] == suite_run_id
        assert requests["run.failed"].json()["run"]["suiteRunId"] == suite_run_id

        [slack_delivery] = (await api_client.get(f"/api/webhooks/{slack['id']}/deliveries")).json()["items"]
        assert slack_delivery["event"] == "suite.finished" and slack_delivery["suiteRunId"] == suite_run_id
        [slack_request] = await receiver.wait("/slack", 1)
        message = slack_request.json()
        assert message["text"].startswith(":x: Suite run #") and "smoke failed (1 passed, 1 failed)" in message["text"]
        assert "|greeting>: " in message["blocks"][1]["text"]["text"]
