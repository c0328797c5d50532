"""The dashboard driven in real headless Chromium against the API served by uvicorn, with real workers,
Postgres and Redis. The tests also take the screenshots the README shows: into a temporary folder, or into
$REPRISE_SCREENSHOTS_DIR (`make screenshots` sets it to docs/screenshots), so `make test` writes no tracked
file."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from playwright.async_api import Page, expect

from contract.settings import Settings

from flows import numbered_slow_script, post_run
from recordings import load_recording
from services import WorkerProcess, wait_for_final, wait_for_workers

Shoot = Callable[[Page, str], Awaitable[Path]]  # the `shoot` fixture (tests/e2e/conftest.py)
XSS_NAME = "<img src=x onerror=alert(1)>"


def ends_with(url: str) -> re.Pattern[str]:
    """The same path, whatever host the API saw (the test client and the browser use different ones)."""
    return re.compile(re.escape(httpx.URL(url).path) + "$")


async def set_runs(database_url: str, updates: list[tuple[str, str, str | None]]) -> None:
    """Give runs a final status and a worker directly, for list fixtures that need no replay."""
    connection = await asyncpg.connect(database_url)
    try:
        for run_id, status, worker in updates:
            # A run reaches a final status through `running`, as the database's transition guard demands.
            await connection.execute("UPDATE runs SET status = 'running' WHERE id = $1::uuid", run_id)
            await connection.execute(
                "UPDATE runs SET status = $2, worker_name = $3, attempts = 1, started_at = now(), "
                "finished_at = now(), duration_ms = 1234 WHERE id = $1::uuid", run_id, status, worker)
    finally:
        await connection.close()


async def test_runs_list_filters_and_shows_untrusted_names_as_text(
    live_api: str, api_client: httpx.AsyncClient, page: Page, site_url: str, settings: Settings, shoot: Shoot,
) -> None:
    script = numbered_slow_script(site_url, 0)
    ids = {}
    for name in ("checkout smoke", "login smoke", "search smoke", XSS_NAME):
        ids[name] = await post_run(api_client, {"script": script, "name": name})
    await set_runs(settings.database_url, [
        (ids["checkout smoke"], "passed", "worker-1"), (ids["login smoke"], "failed", "worker-2"),
        (ids["search smoke"], "failed", "worker-1"), (ids[XSS_NAME], "passed", "worker-2"),
    ])

    await page.goto(f"{live_api}/#/runs")
    rows = page.locator("tbody tr[data-run-id]")
    await expect(rows).to_have_count(4)
    xss_cell = page.locator(f'tr[data-run-id="{ids[XSS_NAME]}"] td.name')
    await expect(xss_cell).to_have_text(XSS_NAME)
    assert await page.locator("tbody img").count() == 0
    await shoot(page, "runs")

    await page.get_by_label("Status").select_option("failed")
    await expect(rows).to_have_count(2)
    assert set(await rows.evaluate_all("rows => rows.map(r => r.dataset.status)")) == {"failed"}

    await page.get_by_label("Recording").fill("login")
    await page.get_by_role("button", name="Apply").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first.locator("td.name")).to_have_text("login smoke")

    await page.get_by_role("button", name="Clear").click()
    await expect(rows).to_have_count(4)
    await page.get_by_label("Worker").fill("worker-2")
    await page.get_by_label("Worker").press("Enter")
    await expect(rows).to_have_count(2)
    await page.get_by_label("Worker").fill("")
    await page.get_by_label("Search").fill("checkout")
    await page.get_by_label("Search").press("Enter")
    await expect(rows).to_have_count(1)

    # Opening a run from the list, by keyboard.
    await page.get_by_role("link", name="checkout smoke").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("h1 .run-name")).to_have_text("checkout smoke")


async def test_a_new_run_appears_in_the_list_without_reload(
    live_api: str, api_client: httpx.AsyncClient, page: Page, site_url: str,
) -> None:
    await page.goto(f"{live_api}/#/runs")
    await expect(page.locator("#live")).to_have_text("live")
    run_id = await post_run(api_client, {"script": numbered_slow_script(site_url, 0), "name": "arrives live"})
    await expect(page.locator(f'tr[data-run-id="{run_id}"]')).to_be_visible()


def paced_recording(site_url: str) -> dict[str, Any]:
    """Steps a second or so apart, so the video has distinct moments to seek to."""
    return {"version": 1, "name": "paced sign-up", "steps": [
        {"action": "navigate", "url": f"{site_url}/index.html"},
        {"action": "wait", "ms": 1200},
        {"action": "fill", "selector": "#name", "value": "Ada"},
        {"action": "wait", "ms": 1200},
        {"action": "select", "selector": "#plan", "value": "pro"},
        {"action": "wait", "ms": 1200},
        {"action": "assertValue", "selector": "#name", "value": "Ada"},
    ]}


async def test_run_detail_plays_the_video_and_seeks_to_a_step(
    live_api: str, api_client: httpx.AsyncClient, page: Page, site_url: str,
    start_worker: Callable[..., WorkerProcess], shoot: Shoot,
) -> None:
    start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})
    run_id = await post_run(api_client, {"script": paced_recording(site_url), "screenshots": "every-step"})
    run = await wait_for_final(api_client, run_id, timeout=90)
    assert run["status"] == "passed"
    video_statuses: list[int] = []
    page.on("response", lambda response: video_statuses.append(response.status)
            if "/artifacts/" in response.url and response.request.resource_type == "media" else None)

    await page.goto(f"{live_api}/#/runs/{run_id}")
    video = page.locator("video")
    await expect(video).to_have_attribute("src", ends_with(run["videoUrl"]))
    await page.wait_for_function("() => document.querySelector('video').readyState >= 1")
    await video.evaluate("v => v.play()")
    await page.wait_for_function("() => document.querySelector('video').currentTime > 0.5")

    step = next(step for step in run["steps"] if step["index"] == 4)
    await video.evaluate("v => v.pause()")
    await page.locator('button[data-step="4"]').click()
    await expect(page.locator('button[data-step="4"]')).to_have_attribute("aria-pressed", "true")
    position = await video.evaluate("v => v.currentTime")
    assert abs(position - step["startedOffsetMs"] / 1000) < 0.25, (position, step)
    shot = page.locator("figure.shot img")
    screenshot = next(a for a in run["artifacts"] if a["kind"] == "screenshot" and a["step"] == 4)
    await expect(shot).to_have_attribute("src", ends_with(screenshot["url"]))
    await page.wait_for_function("() => document.querySelector('figure.shot img').naturalWidth > 0")
    # The player fetched the video in ranges (206), which is what lets it seek.
    assert 206 in video_statuses, video_statuses
    await shoot(page, "run-detail")


async def test_cancel_and_retry_buttons(
    live_api: str, api_client: httpx.AsyncClient, page: Page, site_url: str,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})
    run_id = await post_run(api_client, {"script": numbered_slow_script(site_url, 30), "name": "long wait",
                                         "video": "off"})
    await page.goto(f"{live_api}/#/runs/{run_id}")
    heading_badge = page.locator("h1 .badge")
    await expect(heading_badge).to_have_text("running", timeout=30_000)
    retry = page.get_by_role("button", name="Retry run")
    await expect(retry).to_be_disabled()

    await page.get_by_role("button", name="Cancel run").click()
    await expect(heading_badge).to_have_text("cancelled")
    await expect(page.get_by_role("button", name="Cancel run")).to_be_disabled()

    await retry.click()
    await page.wait_for_url(lambda url: run_id not in url and "#/runs/" in url)
    new_id = page.url.rsplit("/", 1)[1]
    await expect(page.locator("h1 .run-name")).to_have_text("long wait")
    created = (await api_client.get(f"/api/runs/{new_id}")).json()
    assert created["retryOf"] == run_id
    await api_client.post(f"/api/runs/{new_id}/cancel")


async def test_queue_page_shows_workers_and_pauses_the_queue(
    live_api: str, api_client: httpx.AsyncClient, page: Page, start_worker: Callable[..., WorkerProcess],
    site_url: str, shoot: Shoot,
) -> None:
    start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})
    for run_id in [await post_run(api_client, {"script": numbered_slow_script(site_url, 0), "video": "off"})
                   for _ in range(3)]:
        await wait_for_final(api_client, run_id, timeout=60)
    await page.goto(f"{live_api}/#/queue")
    worker_row = page.locator('tr[data-worker="worker-1"]')
    await expect(worker_row).to_be_visible()
    await expect(worker_row.locator("td").nth(5)).to_have_text("3", timeout=15_000)  # processed (page polls 5 s)
    await expect(page.locator('.count[data-state="completed"] b')).to_have_text("3")
    await expect(page.locator(".chart svg")).to_have_attribute("aria-label", "3 runs finished in the last hour")
    assert await page.locator(".chart svg rect").count() >= 1
    await shoot(page, "queue")

    await page.get_by_role("button", name="Pause queue").click()
    await expect(page.get_by_role("button", name="Resume queue")).to_be_visible()
    assert (await api_client.get("/api/queue")).json()["paused"] is True
    await page.get_by_role("button", name="Resume queue").click()
    await expect(page.get_by_role("button", name="Pause queue")).to_be_visible()
    assert (await api_client.get("/api/queue")).json()["paused"] is False


async def test_recordings_upload_and_run_now(
    live_api: str, api_client: httpx.AsyncClient, page: Page, site_url: str, tmp_path: Path,
    start_worker: Callable[..., WorkerProcess], shoot: Shoot,
) -> None:
    start_worker("worker-1")
    recording = load_recording("recorder-signup.json", site_url)
    path = tmp_path / "signup.json"
    path.write_text(json.dumps(recording))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"title": "no steps"}))

    await page.goto(f"{live_api}/#/recordings")
    await page.get_by_label("choose a file").set_input_files(broken)
    await expect(page.locator("#upload-status")).to_contain_text("broken.json was not added")
    await expect(page.locator("#upload-status")).to_contain_text("steps")  # the field the API named
    await page.get_by_label("choose a file").set_input_files(path)
    row = page.locator("tr[data-recording-id]")
    await expect(row).to_have_count(1)
    await expect(row.locator("td.name")).to_have_text(recording["title"])

    # Dragging a file onto the drop zone does the same.
    dropped = paced_recording(site_url)
    transfer = await page.evaluate_handle(
        "text => { const t = new DataTransfer(); "
        "t.items.add(new File([text], 'paced.json', {type: 'application/json'})); return t; }",
        json.dumps(dropped))
    await page.dispatch_event(".drop", "drop", {"dataTransfer": transfer})
    await expect(row).to_have_count(2)
    await expect(page.locator("#upload-status")).to_have_text(f"Added “{dropped['name']}”.")
    await shoot(page, "recordings")

    await page.get_by_role("button", name=f"Run {recording['title']} now").click()
    await page.wait_for_url(lambda url: "#/runs/" in url)
    await expect(page.locator("h1 .badge")).to_have_text("passed", timeout=90_000)


async def test_an_earlier_attempt_can_be_watched(
    live_api: str, api_client: httpx.AsyncClient, page: Page, site_url: str,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})
    flaky = {"version": 1, "name": "flaky heading", "steps": [
        {"action": "navigate", "url": f"{site_url}/index.html"},
        {"action": "assertText", "selector": "h1", "text": "never this", "timeoutMs": 300},
    ]}
    run_id = await post_run(api_client, {"script": flaky, "retries": 1, "screenshots": "every-step"})
    run = await wait_for_final(api_client, run_id, timeout=90)
    assert run["status"] == "failed" and run["attempts"] == 2
    first_video = next(a["url"] for a in run["artifacts"] if a["kind"] == "video" and a["attempt"] == 1)
    latest_video = next(a["url"] for a in run["artifacts"] if a["kind"] == "video" and a["attempt"] == 2)

    await page.goto(f"{live_api}/#/runs/{run_id}")
    await expect(page.locator("video")).to_have_attribute("src", ends_with(latest_video))
    await page.get_by_label("Attempt", exact=True).select_option("1")
    await expect(page.locator("video")).to_have_attribute("src", ends_with(first_video))
    await expect(page.locator("button[data-step]")).to_have_count(2)
    await page.locator('button[data-step="1"]').click()
    first_shot = next(a["url"] for a in run["artifacts"]
                      if a["kind"] == "screenshot" and a["attempt"] == 1 and a["step"] == 1)
    await expect(page.locator("figure.shot img")).to_have_attribute("src", ends_with(first_shot))
