"""Webhooks delivered for real: the API in-process (ASGI) makes the subscriptions, runs end in Postgres as the worker
ends them, the worker's side task (`worker.webhooks.webhook_loop`: the outbox pump and the BullMQ consumer of
`<queue>-webhooks`) sends them, and a real HTTP receiver on 127.0.0.1 checks every signature with the shared
`contract.webhooks.verify_signature`. Retries use a small backoff (BullMQ rounds delays up to whole seconds)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from webhook_receiver import Receiver, serve_receiver

from contract.runs import RunStatus
from contract.settings import Settings
from contract.webhooks import SignatureError, sign, verify_signature
from storage import RecordingRepository, RunRepository, create_pool
from worker.webhooks import webhook_loop

from services import api_client_for, wait_for
from stored_runs import finished_run


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    # The receiver is on loopback: opened to webhooks as the fixture site is to runs (the API's own port, Redis and
    # PostgreSQL stay refused).
    return settings.model_copy(update={"webhook_allowed_networks": ("127.0.0.0/8",), "webhook_backoff_ms": 100,
                                       "webhook_max_attempts": 4, "public_url": "https://reprise.example.com"})


@pytest.fixture
async def pool(hook_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(hook_settings.database_url)
    yield pool
    await pool.close()


@pytest.fixture
async def sender(hook_settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[None]:
    """The worker's webhook side task, running in the test's loop."""
    task = asyncio.create_task(webhook_loop(hook_settings, pool), name="webhooks")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled(), "the side task ended by itself"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serve_receiver() as serving:
        yield serving


async def subscribe(client: httpx.AsyncClient, receiver: Receiver, path: str, body: dict[str, Any],
                    answers: list[int] | None = None) -> dict[str, Any]:
    url = receiver.endpoint(path, answers=answers)
    response = await client.post("/api/webhooks", json={"name": path.strip("/"), "url": url, **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    receiver.endpoints[path].secret = created["secret"]
    return created


async def settled(client: httpx.AsyncClient, webhook_id: str, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    """The subscription's deliveries once `count` exist and none is pending or in flight (newest first)."""
    async def done() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (await client.get(f"/api/webhooks/{webhook_id}/deliveries")).json()["items"]
        finished = len(items) >= count and all(item["finishedAt"] for item in items)
        return items if finished else None

    return await wait_for(done, timeout=timeout, interval=0.2, what=f"{count} settled deliveries of {webhook_id}")


async def test_a_500_is_retried_until_delivered_and_the_log_shows_every_attempt(
    hook_settings: Settings, pool: asyncpg.Pool, receiver: Receiver, sender: None,
) -> None:
    async with api_client_for(hook_settings) as client:
        failures = await subscribe(client, receiver, "/failed", {"events": ["run.failed"]}, answers=[500, 500])
        finished = await subscribe(client, receiver, "/finished", {"events": ["run.finished"]})
        runs = RunRepository(pool, queue=hook_settings.queue_name)
        failed_run = await finished_run(runs, RunStatus.FAILED)

        [delivery] = await settled(client, failures["id"], 1)
        assert delivery["status"] == "delivered" and delivery["event"] == "run.failed"
        assert delivery["runId"] == str(failed_run) and delivery["attempts"] == 3
        history = delivery["attemptHistory"]
        assert [attempt["attempt"] for attempt in history] == [1, 2, 3]
        assert [attempt["statusCode"] for attempt in history] == [500, 500, 200]
        assert all(isinstance(attempt["latencyMs"], int) and attempt["latencyMs"] >= 0 for attempt in history)
        assert [attempt["responseExcerpt"] for attempt in history] == ["answered 500", "answered 500", "answered 200"]
        assert history[0]["startedAt"] < history[1]["startedAt"] < history[2]["startedAt"]

        requests = receiver.of("/failed")
        assert [request.answered for request in requests] == [500, 500, 200]
        assert all(request.verified for request in requests), [request.problem for request in requests]
        assert {request.delivery_id for request in requests} == {delivery["id"]}
        assert {request.event for request in requests} == {"run.failed"}
        payload = requests[-1].json()
        assert payload["event"] == "run.failed" and payload["deliveryId"] == delivery["id"]
        run = payload["run"]
        assert run["id"] == str(failed_run) and run["status"] == "failed" and run["durationMs"] == 1234
        assert run["error"] == "no element #missing" and run["errorCategory"] == "selector_not_found"
        assert run["failingStep"] == {"index": 1, "type": "click", "selector": "#missing",
                                      "error": "no element #missing"}
        base = "https://reprise.example.com"
        assert run["url"] == f"{base}/api/runs/{failed_run}"
        assert run["dashboardUrl"] == f"{base}/#/runs/{failed_run}"
        assert run["screenshotUrl"].startswith(f"{base}/api/runs/{failed_run}/artifacts/")

        # The subscription's last delivery, as the list shows it; the secret masked after the creation.
        listed = (await client.get(f"/api/webhooks/{failures['id']}")).json()
        assert listed["lastDelivery"]["status"] == "delivered"
        assert listed["secret"] != failures["secret"] and listed["secret"].endswith(failures["secret"][-4:])

        # run.finished for the failed run went to the other subscription, at once.
        [finished_delivery] = await settled(client, finished["id"], 1)
        assert finished_delivery["status"] == "delivered" and finished_delivery["event"] == "run.finished"
        assert [attempt["statusCode"] for attempt in finished_delivery["attemptHistory"]] == [200]

        # A passed run: run.finished, never run.failed.
        passed_run = await finished_run(runs, RunStatus.PASSED)
        deliveries = await settled(client, finished["id"], 2)
        assert deliveries[0]["runId"] == str(passed_run) and deliveries[0]["status"] == "delivered"
        passed_payload = receiver.of("/finished")[-1].json()["run"]
        assert passed_payload["status"] == "passed" and passed_payload["failingStep"] is None
        assert passed_payload["screenshotUrl"] is None
        failure_log = (await client.get(f"/api/webhooks/{failures['id']}/deliveries")).json()
        assert failure_log["total"] == 1, "no run.failed for a passed run"
        assert all(request.json()["run"]["id"] != str(passed_run) for request in receiver.of("/failed"))


async def test_signatures_detect_a_changed_body_a_wrong_secret_and_an_old_timestamp(
    hook_settings: Settings, pool: asyncpg.Pool, receiver: Receiver, sender: None,
) -> None:
    async with api_client_for(hook_settings) as client:
        good = await subscribe(client, receiver, "/good", {"events": ["run.finished"]})
        wrong = await subscribe(client, receiver, "/wrong-secret", {"events": ["run.finished"]})
        receiver.endpoints["/wrong-secret"].secret = "whsec_not-the-one-it-signs-with"
        await finished_run(RunRepository(pool, queue=hook_settings.queue_name), RunStatus.PASSED)

        [delivered] = await settled(client, good["id"], 1)
        assert delivered["status"] == "delivered"
        # The receiver that checks with another secret refuses (401): a 4xx is final, not retried.
        [refused] = await settled(client, wrong["id"], 1)
        assert refused["status"] == "failed" and refused["attempts"] == 1
        assert [attempt["statusCode"] for attempt in refused["attemptHistory"]] == [401]
        [wrong_request] = receiver.of("/wrong-secret")
        assert not wrong_request.verified and "does not match" in (wrong_request.problem or "")

    [request] = receiver.of("/good")
    secret, sent_at = good["secret"], int(request.timestamp)
    assert request.signature == sign(secret, sent_at, request.body)
    verify_signature(secret, request.timestamp, request.body, request.signature, now=time.time())
    changed = request.body.replace(b'"status":"passed"', b'"status":"failed"')
    assert changed != request.body
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(secret, request.timestamp, changed, request.signature, now=sent_at)
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(wrong["secret"], request.timestamp, request.body, request.signature, now=sent_at)
    with pytest.raises(SignatureError, match="does not match"):  # the timestamp is signed too
        verify_signature(secret, str(sent_at + 1), request.body, request.signature, now=sent_at)
    with pytest.raises(SignatureError, match="more than 300 s"):
        verify_signature(secret, request.timestamp, request.body, request.signature, now=sent_at + 301)
    verify_signature(secret, request.timestamp, request.body, request.signature, now=sent_at + 299)
    with pytest.raises(SignatureError, match="no v1="):
        verify_signature(secret, request.timestamp, request.body, "sha256=abc", now=sent_at)


async def test_the_slack_format_tells_the_failure_with_links(
    hook_settings: Settings, pool: asyncpg.Pool, receiver: Receiver, sender: None,
) -> None:
    async with api_client_for(hook_settings) as client:
        slack = await subscribe(client, receiver, "/slack", {"events": ["run.failed"], "format": "slack"})
        assert slack["format"] == "slack"
        failed_run = await finished_run(RunRepository(pool, queue=hook_settings.queue_name), RunStatus.FAILED)
        [delivery] = await settled(client, slack["id"], 1)
        assert delivery["status"] == "delivered"

    [request] = receiver.of("/slack")
    assert request.verified  # signed all the same (Slack ignores it)
    message = request.json()
    assert set(message) == {"text", "blocks"}
    assert "Run #" in message["text"] and "failed" in message["text"] and "no element #missing" in message["text"]
    first, step, shot, context = message["blocks"]
    dashboard = f"https://reprise.example.com/#/runs/{failed_run}"
    assert first["type"] == "section" and first["text"]["type"] == "mrkdwn"
    assert first["text"]["text"].startswith(":x: ") and f"<{dashboard}|Run #" in first["text"]["text"]
    assert step["type"] == "section"
    assert "Step 2 (click `#missing`) failed" in step["text"]["text"] and "no element #missing" in step["text"]["text"]
    assert shot["type"] == "section"
    assert f"<https://reprise.example.com/api/runs/{failed_run}/artifacts/" in shot["text"]["text"]
    assert "Failure screenshot" in shot["text"]["text"]
    assert context["type"] == "context"
    assert context["elements"][0]["text"] == "Duration: 1.2 s · Worker: w1 · Category: selector_not_found"


async def test_redeliver_sends_the_event_again_as_a_new_delivery_and_test_pings(
    hook_settings: Settings, pool: asyncpg.Pool, receiver: Receiver, sender: None,
) -> None:
    async with api_client_for(hook_settings) as client:
        hook = await subscribe(client, receiver, "/hook", {"events": ["run.finished", "run.failed"]})
        run_id = await finished_run(RunRepository(pool, queue=hook_settings.queue_name), RunStatus.ERROR)
        first = {delivery["event"]: delivery for delivery in await settled(client, hook["id"], 2)}
        original = first["run.failed"]

        again = await client.post(f"/api/webhooks/deliveries/{original['id']}/redeliver")
        assert again.status_code == 202, again.text
        redelivery = again.json()
        assert redelivery["id"] != original["id"] and redelivery["redeliveryOf"] == original["id"]
        assert redelivery["event"] == "run.failed" and redelivery["runId"] == str(run_id)
        latest = (await settled(client, hook["id"], 3))[0]
        assert latest["id"] == redelivery["id"] and latest["status"] == "delivered"
        sent = [request for request in receiver.of("/hook") if request.delivery_id == redelivery["id"]]
        assert len(sent) == 1 and sent[0].verified
        assert sent[0].json()["run"]["id"] == str(run_id) and sent[0].json()["deliveryId"] == redelivery["id"]

        ping = await client.post(f"/api/webhooks/{hook['id']}/test")
        assert ping.status_code == 202 and ping.json()["event"] == "ping"
        assert (await settled(client, hook["id"], 4))[0]["status"] == "delivered"
        pinged = [request for request in receiver.of("/hook") if request.event == "ping"]
        assert len(pinged) == 1 and pinged[0].json()["subscription"] == {"id": hook["id"], "name": "hook"}

        missing = await client.post(f"/api/webhooks/deliveries/{UUID(int=1)}/redeliver")
        assert missing.status_code == 404


async def test_inactive_subscriptions_get_nothing_and_deleting_one_removes_its_log(
    hook_settings: Settings, pool: asyncpg.Pool, receiver: Receiver, sender: None,
) -> None:
    async with api_client_for(hook_settings) as client:
        hook = await subscribe(client, receiver, "/toggled", {"events": ["run.finished"]})
        off = await client.patch(f"/api/webhooks/{hook['id']}", json={"active": False})
        assert off.status_code == 200 and off.json()["active"] is False
        runs = RunRepository(pool, queue=hook_settings.queue_name)
        await finished_run(runs, RunStatus.PASSED)
        on = await client.patch(f"/api/webhooks/{hook['id']}", json={"active": True, "name": "renamed"})
        assert on.json()["name"] == "renamed" and on.json()["active"] is True
        second = await finished_run(runs, RunStatus.PASSED)
        [delivery] = await settled(client, hook["id"], 1)
        assert delivery["runId"] == str(second), "the run that ended while it was off was not sent"

        assert (await client.delete(f"/api/webhooks/{hook['id']}")).status_code == 204
        assert (await client.get(f"/api/webhooks/{hook['id']}")).status_code == 404
        assert (await client.get(f"/api/webhooks/{hook['id']}/deliveries")).status_code == 404
        assert await pool.fetchval("SELECT count(*) FROM webhook_deliveries") == 0


async def test_the_api_refuses_urls_and_scopes_it_cannot_use(hook_settings: Settings, pool: asyncpg.Pool) -> None:
    recording = await RecordingRepository(pool, queue=hook_settings.queue_name).create(
        name="saved", script_format="native", script={"steps": []}, step_count=0)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"url": "ftp://hooks.example.com/"}, "url"),
        ({"url": "https://user:pw@hooks.example.com/"}, "url"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, "url"),  # cloud metadata
        ({"url": "http://10.1.2.3/hook"}, "url"),  # private, not opened
        ({"url": f"http://127.0.0.1:{hook_settings.api_port}/api/runs"}, "url"),  # the API itself, opened or not
        ({"url": "http://localhost:6379/"}, "url"),  # Redis
        ({"events": []}, "events"),
        ({"events": ["ping"]}, "events[0]"),
        ({"scope": "suite"}, "suiteId"),
        ({"scope": "recording"}, "recordingId"),
        ({"scope": "all", "recordingId": str(recording.id)}, "recordingId"),
        ({"scope": "recording", "recordingId": str(UUID(int=7))}, "recordingId"),
        ({"scope": "suite", "suiteId": str(UUID(int=7))}, "suiteId"),
        ({"format": "teams"}, "format"),
    ]
    async with api_client_for(hook_settings) as client:
        for change, field in cases:
            body = {"name": "x", "url": "https://hooks.example.com/reprise", "events": ["run.failed"], **change}
            response = await client.post("/api/webhooks", json=body)
            assert response.status_code == 422, (change, response.text)
            fields = [problem["field"] for problem in response.json().get("fields", [])]
            assert field in fields, (change, response.json())
        scoped = await client.post("/api/webhooks", json={
            "name": "saved only", "url": "http://127.0.0.1:9/hook", "events": ["run.failed"],
            "scope": "recording", "recordingId": str(recording.id)})
        assert scoped.status_code == 201, scoped.text
        assert scoped.json()["scope"] == "recording" and scoped.json()["recordingId"] == str(recording.id)
        bad_patch = await client.patch(f"/api/webhooks/{scoped.json()['id']}", json={"url": "http://169.254.169.254/"})
        assert bad_patch.status_code == 422
        page = (await client.get("/api/webhooks")).json()
        assert page["total"] == 1 and json.dumps(page).count("whsec_") == 1  # masked: the prefix only


async def test_a_receiver_that_keeps_failing_gets_max_attempts_then_the_delivery_fails(
    hook_settings: Settings, pool: asyncpg.Pool, receiver: Receiver, sender: None,
) -> None:
    assert hook_settings.webhook_max_attempts == 4
    async with api_client_for(hook_settings) as client:
        down = await subscribe(client, receiver, "/down", {"events": ["run.finished"]}, answers=[503] * 10)
        await finished_run(RunRepository(pool, queue=hook_settings.queue_name), RunStatus.PASSED)
        [delivery] = await settled(client, down["id"], 1)
        assert delivery["status"] == "failed" and delivery["attempts"] == 4
        assert [attempt["statusCode"] for attempt in delivery["attemptHistory"]] == [503] * 4
        assert delivery["lastStatusCode"] == 503 and delivery["nextAttemptAt"] is None
        assert delivery["lastError"] == "the receiver answered 503; 4 attempts made"
        assert len(receiver.of("/down")) == 4, "no fifth attempt"
