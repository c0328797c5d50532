"""The dashboard's Schedules page and the runs list's priorities, driven in real headless Chromium against the API
served by uvicorn, on real Postgres and Redis (as tests/e2e/test_dashboard.py). No worker: what is checked is what
the page shows and asks of the API."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
from bullmq import Queue
from playwright.async_api import Page, expect

from contract.settings import Settings
from jobs.queue import bullmq_connection

from flows import numbered_slow_script, post_run, quick_script


async def has_scheduler(settings: Settings, schedule_id: str) -> bool:
    queue = Queue(settings.queue_name, {"connection": bullmq_connection(settings.redis_url)})
    try:
        return bool(await queue.isJobScheduler(f"schedule:{schedule_id}"))
    finally:
        await queue.close()


async def save_recording(client: httpx.AsyncClient, name: str, site_url: str) -> dict[str, Any]:
    response = await client.post("/api/recordings", json={"script": quick_script(site_url, name)})
    assert response.status_code == 201, response.text
    recording: dict[str, Any] = response.json()
    return recording


async def test_schedules_page_lists_creates_pauses_resumes_and_deletes(
    live_api: str, api_client: httpx.AsyncClient, page: Page, site_url: str, settings: Settings,
) -> None:
    nightly = await save_recording(api_client, "nightly checkout", site_url)
    await save_recording(api_client, "hourly search", site_url)
    created = await api_client.post("/api/schedules", json={
        "recordingId": nightly["id"], "cron": "0 30 9 * * *", "timezone": "Asia/Kolkata", "name": "morning run",
        "options": {"priority": "high"}})
    assert created.status_code == 201, created.text
    schedule = created.json()

    await page.goto(f"{live_api}/#/schedules")
    row = page.locator(f'tr[data-schedule-id="{schedule["id"]}"]')
    await expect(row.locator("td").nth(0)).to_have_text("morning run")
    await expect(row.locator("td").nth(1)).to_have_text("nightly checkout")
    await expect(row.locator("td.cadence")).to_contain_text("0 30 9 * * * (Asia/Kolkata)")
    await expect(row.locator("td.cadence .prio")).to_have_text("high")
    next_run = row.locator("td.next-run time")
    await expect(next_run).to_have_attribute("datetime", schedule["nextRunAt"])
    await expect(row).to_have_attribute("data-state", "active")

    # Pause and resume from the page: BullMQ's scheduler goes and comes back.
    await page.get_by_role("button", name="Pause morning run").click()
    await expect(row).to_have_attribute("data-state", "paused")
    await expect(row.locator("td.next-run")).to_have_text("—")
    assert (await api_client.get(f"/api/schedules/{schedule['id']}")).json()["state"] == "paused"
    assert not await has_scheduler(settings, schedule["id"])
    await page.get_by_role("button", name="Resume morning run").click()
    await expect(row).to_have_attribute("data-state", "active")
    shown = (await api_client.get(f"/api/schedules/{schedule['id']}")).json()
    assert shown["state"] == "active" and await has_scheduler(settings, schedule["id"])
    await expect(row.locator("td.next-run time")).to_have_attribute("datetime", shown["nextRunAt"])

    # The form: a bad cron pattern is refused with the API's message naming the field, then a good schedule.
    await page.get_by_label("Recording").select_option(label="hourly search")
    await page.get_by_label("Cron pattern").fill("61 * * * *")
    await page.get_by_role("button", name="Create schedule").click()
    await expect(page.locator("#schedule-status")).to_contain_text("Not created: cron:")
    await page.get_by_label("Runs", exact=True).select_option("every")
    await expect(page.get_by_label("Cron pattern")).to_be_hidden()
    await page.get_by_label("Every (seconds)").fill("3600")
    await page.get_by_label("Priority").select_option("low")
    await page.get_by_label("Name").fill("hourly")
    await page.get_by_role("button", name="Create schedule").click()
    await expect(page.locator("#schedule-status")).to_have_text("Schedule “hourly” created.")
    listed = (await api_client.get("/api/schedules")).json()["items"]
    hourly = next(item for item in listed if item["name"] == "hourly")
    assert (hourly["everyMs"], hourly["cron"], hourly["priority"], hourly["recordingName"]) == (
        3_600_000, None, "low", "hourly search")
    hourly_row = page.locator(f'tr[data-schedule-id="{hourly["id"]}"]')
    await expect(hourly_row.locator("td.cadence")).to_contain_text("every 3600 s")
    await expect(hourly_row.locator("td.next-run time")).to_have_attribute("datetime", hourly["nextRunAt"])

    await page.get_by_role("button", name="Delete hourly").click()
    await expect(hourly_row).to_have_count(0)
    assert (await api_client.get(f"/api/schedules/{hourly['id']}")).status_code == 404
    await expect(page.locator("tr[data-schedule-id]")).to_have_count(1)


async def test_runs_list_shows_and_filters_priorities_and_links_a_schedules_runs(
    live_api: str, api_client: httpx.AsyncClient, page: Page, site_url: str, settings: Settings,
) -> None:
    script = numbered_slow_script(site_url, 0)
    ids = {priority: await post_run(api_client, {"script": script, "name": f"{priority} one", "priority": priority})
           for priority in ("high", "normal", "low")}
    plain = await post_run(api_client, {"script": script, "name": "by default"})
    recording = await save_recording(api_client, "scheduled thing", site_url)
    schedule = (await api_client.post("/api/schedules", json={
        "recordingId": recording["id"], "cron": "0 0 1 1 *", "name": "yearly"})).json()
    # A tick's run, as the worker records it (no worker runs here): linked to the schedule.
    connection = await asyncpg.connect(settings.database_url)
    try:
        await connection.execute("UPDATE runs SET schedule_id = $1::uuid, queued_by = 'schedule yearly' "
                                 "WHERE id = $2::uuid", schedule["id"], ids["low"])
    finally:
        await connection.close()

    await page.goto(f"{live_api}/#/runs")
    rows = page.locator("tbody tr[data-run-id]")
    await expect(rows).to_have_count(4)
    await expect(page.locator(f'tr[data-run-id="{ids["high"]}"] .prio')).to_have_text("high")
    await expect(page.locator(f'tr[data-run-id="{plain}"] .prio')).to_have_text("normal")

    await page.get_by_label("Priority").select_option("high")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-run-id", ids["high"])
    await page.get_by_label("Priority").select_option("normal")
    await expect(rows).to_have_count(2)
    assert set(await rows.evaluate_all("rows => rows.map(r => r.dataset.priority)")) == {"normal"}
    await page.get_by_label("Priority").select_option("low")
    await expect(rows).to_have_count(1)

    # The scheduled run links to its schedule; the schedule's runs link back to the filtered list.
    link = page.locator(f'tr[data-run-id="{ids["low"]}"] a[data-schedule-link]')
    await expect(link).to_have_text("schedule yearly")
    await link.click()
    focused = page.locator(f'tr.focused[data-schedule-id="{schedule["id"]}"]')
    await expect(focused).to_be_visible()
    await focused.get_by_role("link", name="0 runs").click()
    await expect(page.locator("#schedule-filter")).to_be_visible()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-run-id", ids["low"])
