"""A recording's history and the comparison of two of its runs in the dashboard, driven in real headless
Chromium against the API served by uvicorn on real Postgres (the runs written through the storage layer,
tests/stored_history.py: no replay needed to have a history)."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from contract.runs import RunStatus, StepStatus
from contract.settings import Settings
from storage import RunRepository, create_pool

from stored_history import step, store_recording, store_recording_run

PASSED, FAILED = StepStatus.PASSED, StepStatus.FAILED
NOT_FOUND = "#buy is not on the page (waited 5000 ms)"


async def test_history_shows_pass_rate_and_failing_steps_and_compare_highlights_the_first_difference(
    live_api: str, page: Page, settings: Settings,
) -> None:
    pool = await create_pool(settings.database_url)
    try:
        runs = RunRepository(pool, queue=settings.queue_name)
        recording = await store_recording(pool, settings.queue_name, "checkout")
        await store_recording(pool, settings.queue_name, "login")
        first = await store_recording_run(runs, recording, RunStatus.PASSED, [
            step(0, PASSED, 100, type="navigate"), step(1, PASSED, 200, selector="#buy"), step(2, PASSED, 700)],
            duration_ms=1000, name="checkout")
        failure = await store_recording_run(runs, recording, RunStatus.FAILED, [
            step(0, PASSED, 130, type="navigate"), step(1, FAILED, 2500, selector="#buy", error=NOT_FOUND)],
            duration_ms=3000, error=f"step 2 (click): {NOT_FOUND}", name="checkout")
        last = await store_recording_run(runs, recording, RunStatus.PASSED, [
            step(0, PASSED, 90, type="navigate"), step(1, PASSED, 210, selector="#buy"), step(2, PASSED, 900)],
            duration_ms=2000, name="checkout")
        failure_number = (await runs.get(failure)).number
        first_number = (await runs.get(first)).number
    finally:
        await pool.close()

    # From the recordings list to the recording's history.
    await page.goto(f"{live_api}/#/recordings")
    await page.get_by_role("link", name="checkout").click()
    await page.wait_for_url(re.compile(rf"#/recordings/{recording}/history$"))
    await expect(page.locator("h1 .recording-name")).to_have_text("checkout")
    await expect(page.locator("#pass-rate b")).to_have_text("66.7%")  # 2 of 3
    await expect(page.locator("#median-duration b")).to_have_text("2.0 s")  # of 1, 3 and 2 s
    rows = page.locator("tbody tr[data-run-id]")
    await expect(rows).to_have_count(3)
    assert await rows.evaluate_all("rows => rows.map(r => r.dataset.runId)") == [str(last), str(failure), str(first)]
    failing = page.locator(f'tr[data-run-id="{failure}"] td.failing-step')
    await expect(failing).to_contain_text("Step 2: click #buy")
    await expect(failing).to_contain_text(NOT_FOUND)
    await expect(page.locator(f'tr[data-run-id="{first}"] td.failing-step')).to_have_text("—")
    # The strip: a bar per run, oldest first, coloured by status.
    bars = page.locator(".strip svg rect")
    await expect(bars).to_have_count(3)
    assert await bars.evaluate_all("bars => bars.map(b => b.dataset.runId)") == [str(first), str(failure), str(last)]

    # "Compare with previous" on the failed run: the pass before it (A) against it (B).
    await page.get_by_role("link", name=f"compare with #{first_number}").click()
    await page.wait_for_url(re.compile(rf"#/compare\?a={first}&b={failure}$"))
    await expect(page.locator("h1")).to_have_text(f"Compare #{first_number} and #{failure_number}")
    await expect(page.locator("#first-difference")).to_have_text("First difference: Step 2: click #buy")
    highlighted = page.locator("table.compare tr.first-difference")
    await expect(highlighted).to_have_count(1)
    await expect(highlighted).to_have_attribute("data-step", "1")
    await expect(highlighted).to_contain_text(NOT_FOUND)
    await expect(highlighted.locator("td.delta")).to_have_text("+2.3 s")
    assert await highlighted.evaluate("row => getComputedStyle(row).backgroundColor") not in (
        "rgba(0, 0, 0, 0)", "transparent", "rgb(255, 255, 255)")
    steps = page.locator("table.compare tbody tr")
    assert await steps.evaluate_all("rows => rows.map(r => r.dataset.differs)") == ["false", "true", "true"]
    await expect(page.locator('table.compare tr[data-step="0"] td.delta')).to_have_text("+30 ms")

    # Two passes picked by hand: no step differs, nothing highlighted.
    await page.get_by_role("link", name="History of checkout").click()
    await page.get_by_label("Compare run").select_option(str(first))
    await page.get_by_label("with run").select_option(str(last))
    await page.get_by_role("button", name="Compare").click()
    await page.wait_for_url(re.compile(rf"#/compare\?a={first}&b={last}$"))
    await expect(page.locator("#first-difference")).to_have_text(re.compile("^No step differs"))
    await expect(page.locator("table.compare tbody tr")).to_have_count(3)
    await expect(page.locator("table.compare tr.first-difference")).to_have_count(0)

    # A run's page links to its recording's history.
    await page.goto(f"{live_api}/#/runs/{failure}")
    await page.locator("#recording-history").click()
    await page.wait_for_url(re.compile(rf"#/recordings/{recording}/history$"))
    await expect(page.locator("#pass-rate b")).to_have_text("66.7%")
