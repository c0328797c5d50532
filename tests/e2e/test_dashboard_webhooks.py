"""The dashboard's Webhooks page, in real headless Chromium against the API served by uvicorn on real Postgres and
Redis, with the worker's webhook side task sending to a real receiver in the test: the list (create, turn off and on,
delete), and a subscription's delivery log showing each attempt (time, status code, latency, error) with Redeliver."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from playwright.async_api import Page, expect
from webhook_receiver import Receiver, serve_receiver

from contract.runs import RunStatus
from contract.settings import Settings
from storage import RunRepository, create_pool
from worker.webhooks import webhook_loop

from stored_runs import finished_run


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_allowed_networks": ("127.0.0.0/8",), "webhook_backoff_ms": 100,
                                       "webhook_max_attempts": 4})


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.database_url)
    yield pool
    await pool.close()


@pytest.fixture
async def sender(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[None]:
    task = asyncio.create_task(webhook_loop(settings, pool), name="webhooks")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serve_receiver() as serving:
        yield serving


async def test_the_delivery_log_shows_every_attempt_and_redeliver_sends_again(
    live_api: str, api_client: httpx.AsyncClient, page: Page, settings: Settings, pool: asyncpg.Pool,
    receiver: Receiver, sender: None,
) -> None:
    url = receiver.endpoint("/hook", answers=[500])
    created = await api_client.post("/api/webhooks", json={"name": "ci alerts", "url": url, "events": ["run.failed"]})
    assert created.status_code == 201, created.text
    webhook = created.json()
    receiver.endpoints["/hook"].secret = webhook["secret"]
    run_id = await finished_run(RunRepository(pool, queue=settings.queue_name), RunStatus.FAILED)

    await page.goto(f"{live_api}/#/webhooks")
    row = page.locator(f'tr[data-webhook-id="{webhook["id"]}"]')
    await expect(row.locator("td").nth(0)).to_have_text("ci alerts")
    await expect(row.locator("td").nth(1)).to_have_text(url)
    await row.get_by_role("link", name="ci alerts").click()
    await expect(page.locator("h1")).to_have_text("ci alerts")

    # The log polls: the delivery shows up, is retried after the 500, and ends delivered with both attempts.
    delivery = page.locator("tr[data-delivery-id]")
    await expect(delivery).to_have_count(1, timeout=30_000)
    await expect(delivery).to_have_attribute("data-delivery-status", "delivered", timeout=30_000)
    attempts = delivery.locator("ol.attempts li")
    await expect(attempts).to_have_count(2)
    await expect(attempts.nth(0)).to_have_attribute("data-status-code", "500")
    await expect(attempts.nth(1)).to_have_attribute("data-status-code", "200")
    await expect(attempts.nth(0).locator(".latency")).to_have_text(re.compile(r"^\d+(\.\d)? m?s$"))
    await expect(attempts.nth(0).locator("time")).to_have_count(1)
    await expect(delivery.get_by_role("link", name="run")).to_have_attribute("href", f"#/runs/{run_id}")
    original = await delivery.get_attribute("data-delivery-id")

    await delivery.get_by_role("button", name="Redeliver").click()
    again = page.locator(f'tr[data-redelivery-of="{original}"]')
    await expect(again).to_have_count(1)
    await expect(again).to_have_attribute("data-delivery-status", "delivered", timeout=30_000)
    await expect(again.locator("ol.attempts li")).to_have_count(1)
    await expect(again.locator("ol.attempts li")).to_have_attribute("data-status-code", "200")
    redelivered = await again.get_attribute("data-delivery-id")
    sent = [request for request in receiver.of("/hook") if request.delivery_id == redelivered]
    assert len(sent) == 1 and sent[0].verified and sent[0].json()["run"]["id"] == str(run_id)


async def test_the_webhooks_page_creates_toggles_and_deletes(
    live_api: str, api_client: httpx.AsyncClient, page: Page,
) -> None:
    await page.goto(f"{live_api}/#/webhooks")
    await expect(page.locator("h1")).to_have_text("Webhooks")
    await page.get_by_label("Name").fill("chat")
    await page.get_by_label("URL").fill("http://169.254.169.254/latest")
    await page.get_by_role("button", name="Create webhook").click()
    await expect(page.locator("#webhook-status")).to_contain_text("Not created: url:")
    await page.get_by_label("URL").fill("https://hooks.example.com/services/T000/B000/XXXX")
    await page.get_by_label("Format").select_option("slack")
    await page.get_by_role("button", name="Create webhook").click()
    await expect(page.locator("#webhook-status")).to_contain_text("Webhook “chat” created.")
    secret = await page.locator("#webhook-status code.secret").text_content()
    [listed] = (await api_client.get("/api/webhooks")).json()["items"]
    assert secret and secret.startswith("whsec_")
    assert listed["secret"].endswith(secret[-4:]) and listed["secret"] != secret, "masked after the creation"
    assert listed["format"] == "slack" and listed["events"] == ["run.failed", "suite.finished"]

    row = page.locator(f'tr[data-webhook-id="{listed["id"]}"]')
    await expect(row).to_have_attribute("data-active", "true")
    await page.get_by_role("button", name="Turn off chat").click()
    await expect(row).to_have_attribute("data-active", "false")
    assert (await api_client.get(f"/api/webhooks/{listed['id']}")).json()["active"] is False
    await page.get_by_role("button", name="Turn on chat").click()
    await expect(row).to_have_attribute("data-active", "true")
    await page.get_by_role("button", name="Delete chat").click()
    await expect(row).to_have_count(0)
    assert (await api_client.get("/api/webhooks")).json()["total"] == 0
