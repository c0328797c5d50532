"""The Flaky view in the dashboard, driven in real headless Chromium against the API served by uvicorn on real
Postgres: recordings ranked by flakiness (their runs written through the storage layer, no replay needed), quarantined
and released with the buttons; and the "flaky" and "quarantined" badges on runs and recordings."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from contract.runs import RunStatus, StepStatus
from contract.settings import Settings
from storage import FlakyRepository, RecordingRepository, RunRepository, SuiteRepository, create_pool

from stored_history import step, store_recording, store_recording_run

P, F = RunStatus.PASSED, RunStatus.FAILED


async def test_the_flaky_view_ranks_by_score_and_quarantines_and_releases_with_its_buttons(
    live_api: str, page: Page, settings: Settings,
) -> None:
    pool = await create_pool(settings.database_url)
    try:
        runs = RunRepository(pool, queue=settings.queue_name)
        stable = await store_recording(pool, settings.queue_name, "stable login")
        alternating = await store_recording(pool, settings.queue_name, "alternating checkout")
        retried = await store_recording(pool, settings.queue_name, "banner needs retries")
        for _ in range(3):
            await store_recording_run(runs, stable, P, [step(0, StepStatus.PASSED, 10)], name="stable login")
        for status in (P, F, P, F):  # 3 flips over 4 runs: 1.00
            await store_recording_run(runs, alternating, status, [step(0, StepStatus.PASSED, 10)],
                                      name="alternating checkout")
        await store_recording_run(runs, retried, P, [step(0, StepStatus.PASSED, 10)], name="banner needs retries")
        # Passed on its retry after a failed attempt: flaky (1 flaky run over 3 runs: 1 / 2 = 0.50).
        flaky_run = await store_recording_run(runs, retried, P, [step(0, StepStatus.PASSED, 10)],
                                              earlier_attempts=[[step(0, StepStatus.FAILED, 10)]],
                                              name="banner needs retries")
        await store_recording_run(runs, retried, P, [step(0, StepStatus.PASSED, 10)], name="banner needs retries")
    finally:
        await pool.close()

    await page.goto(f"{live_api}/#/runs")
    await page.get_by_role("link", name="Flaky").click()
    await page.wait_for_url(re.compile(r"#/flaky$"))
    await expect(page.locator('nav a[data-section="flaky"]')).to_have_attribute("aria-current", "page")
    rows = page.locator("tbody tr[data-recording-id]")
    await expect(rows).to_have_count(3)
    assert await rows.evaluate_all("rows => rows.map(r => r.dataset.recordingId)") == [
        str(alternating), str(retried), str(stable)]
    assert await rows.evaluate_all("rows => rows.map(r => r.querySelector('td.score b').textContent)") == [
        "1.00", "0.50", "0.00"]
    first = rows.nth(0)
    await expect(first.locator("td.flips")).to_have_text("3")
    await expect(first.locator(".last-runs a")).to_have_count(4)
    await expect(rows.nth(1).locator("td.flaky-runs")).to_have_text("1")
    await expect(rows.nth(1).locator(".last-runs a.flaky")).to_have_count(1)

    # Quarantine the most flaky one, with a reason.
    await first.get_by_label("Reason to quarantine alternating checkout").fill("payment sandbox is flaky")
    await first.get_by_role("button", name="Quarantine alternating checkout").click()
    quarantined = page.locator(f'tr[data-recording-id="{alternating}"]')
    await expect(quarantined).to_have_attribute("data-quarantined", "true")
    await expect(quarantined.locator(".quarantine-reason")).to_have_text("payment sandbox is flaky")
    await expect(quarantined.locator('[data-mark="quarantined"]')).to_be_visible()
    await expect(page.locator("#flaky-summary")).to_have_text("3 recordings · 1 quarantined")
    check = await create_pool(settings.database_url)
    try:
        saved = await RecordingRepository(check, queue=settings.queue_name).get(alternating)
        assert saved.quarantine_reason == "payment sandbox is flaky" and saved.quarantined_at is not None
        # The recordings list shows it too.
        await page.goto(f"{live_api}/#/recordings")
        await expect(page.locator(f'tr[data-recording-id="{alternating}"] [data-mark="quarantined"]')).to_be_visible()
        await expect(page.locator(f'tr[data-recording-id="{stable}"] [data-mark="quarantined"]')).to_have_count(0)

        # Release it from the Flaky view.
        await page.goto(f"{live_api}/#/flaky")
        await page.get_by_role("button", name="Release alternating checkout").click()
        await expect(page.locator(f'tr[data-recording-id="{alternating}"]')).to_have_attribute(
            "data-quarantined", "false")
        assert (await RecordingRepository(check, queue=settings.queue_name).get(alternating)).quarantined_at is None
        assert (await FlakyRepository(check, queue=settings.queue_name).of_recording(alternating, 20)).flips == 3
    finally:
        await check.close()

    # The flaky run carries its badge in the runs list and on its page.
    await page.goto(f"{live_api}/#/runs")
    await expect(page.locator(f'tr[data-run-id="{flaky_run}"] [data-mark="flaky"]')).to_have_text("flaky")
    await expect(page.locator('tbody [data-mark="flaky"]')).to_have_count(1)
    await page.goto(f"{live_api}/#/runs/{flaky_run}")
    await expect(page.locator('h1 [data-mark="flaky"]')).to_be_visible()


async def test_a_suite_runs_page_shows_the_quarantined_failure_it_ignored(
    live_api: str, page: Page, settings: Settings,
) -> None:
    pool = await create_pool(settings.database_url)
    try:
        runs = RunRepository(pool, queue=settings.queue_name)
        suites = SuiteRepository(pool, queue=settings.queue_name)
        fine = await store_recording(pool, settings.queue_name, "fine")
        shaky = await store_recording(pool, settings.queue_name, "shaky")
        suite = await suites.create(name="smoke", recording_ids=[fine, shaky], defaults={}, created_by=None)
        suite_run_id, _ = await suites.start_run(suite, [], options={}, queued_by=None)
        await FlakyRepository(pool, queue=settings.queue_name).quarantine(shaky, "known flaky", "alice")
        ids = []
        for recording, status in ((fine, P), (shaky, F)):
            run_id = await store_recording_run(runs, recording, status, [step(0, StepStatus.PASSED, 10)],
                                               name="child")
            await pool.execute("UPDATE runs SET suite_run_id = $1 WHERE id = $2", suite_run_id, run_id)
            ids.append(run_id)
        assert await suites.finish(suite_run_id) == "passed"
    finally:
        await pool.close()

    await page.goto(f"{live_api}/#/suite-runs/{suite_run_id}")

    await expect(page.locator("h1 .badge")).to_have_text("passed")
    await expect(page.locator("[data-counts]")).to_have_text(
        "1 passed · 0 failed · 0 error · 0 cancelled · 1 quarantined (of 2)")
    ignored = page.locator(f'tr[data-run-id="{ids[1]}"]')
    await expect(ignored.locator('[data-mark="quarantined"]')).to_be_visible()
    await expect(ignored.locator("[data-ignored]")).to_have_text("ignored by the suite's result")
    await expect(page.locator(f'tr[data-run-id="{ids[0]}"] [data-ignored]')).to_have_count(0)
