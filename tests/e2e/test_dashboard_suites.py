"""The dashboard's Suites and suite run pages in real headless Chromium, against the API served by uvicorn and a
real worker: a suite made on the page from two saved recordings, run from the page, its result and children shown."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from playwright.async_api import Page, expect

from flows import quick_script
from services import WorkerProcess, wait_for_workers


async def save(client: httpx.AsyncClient, script: dict[str, Any], name: str) -> str:
    response = await client.post("/api/recordings", json={"script": script, "name": name})
    assert response.status_code == 201, response.text
    recording_id: str = response.json()["id"]
    return recording_id


async def test_a_suite_made_and_run_on_the_page_shows_its_result_and_children(
    live_api: str, api_client: httpx.AsyncClient, page: Page, site_url: str,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})
    await save(api_client, quick_script(site_url, "login"), "login")
    await save(api_client, {"version": 1, "name": "heading", "steps": [
        {"action": "navigate", "url": f"{site_url}/index.html"},
        {"action": "assertText", "selector": "h1", "text": "not the heading", "timeoutMs": 300}]}, "heading")
    await save(api_client, quick_script(site_url, "not in the suite"), "not in the suite")

    await page.goto(f"{live_api}/#/suites")
    await page.locator("#suite-name").fill("smoke")
    await page.locator('input[data-recording="login"]').check()
    await page.locator('input[data-recording="heading"]').check()
    await page.get_by_role("button", name="Create suite").click()
    row = page.locator("tr[data-suite-id]", has_text="smoke")
    await expect(row.locator("td").nth(1)).to_have_text("2")
    suites = (await api_client.get("/api/suites", params={"name": "smoke"})).json()["items"]
    assert len(suites) == 1 and len(suites[0]["recordingIds"]) == 2

    await page.get_by_role("button", name="Run suite smoke").click()
    await expect(page).to_have_url(re.compile(r"#/suite-runs/[0-9a-f-]+$"))
    heading = page.locator("h1")
    await expect(heading.locator(".badge")).to_have_text("failed", timeout=90_000)
    await expect(page.locator("[data-counts]")).to_have_text("1 passed · 1 failed · 0 error · 0 cancelled (of 2)")
    children = page.locator("tr[data-run-id]")
    # In the order the page listed them (the recordings list: newest first).
    await expect(children.locator("td.name")).to_have_text(["heading", "login"])
    await expect(children.locator(".badge")).to_have_text(["failed", "passed"])
    await expect(page.get_by_role("button", name="Cancel suite run")).to_be_disabled()

    # A child's page links back to its suite run, and the Suites page shows the last run.
    suite_run_url = page.url
    await children.nth(0).get_by_role("link").click()
    await page.locator("a[data-suite-run-link]").click()
    await expect(page).to_have_url(suite_run_url)
    await page.goto(f"{live_api}/#/suites")
    await expect(row.locator(".badge")).to_have_text("failed")
    await expect(page.locator("tr[data-suite-run-id] .badge")).to_have_text(["failed"])
