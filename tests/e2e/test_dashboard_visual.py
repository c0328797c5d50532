"""Visual comparison in the dashboard, driven in real headless Chromium against the API served by uvicorn, with
a real worker, Postgres and Redis: the first run of a saved recording proposes its screenshot, approving it on the
run's page makes it the baseline, the same page then passes, and a page with 10 changed pixels fails with its
baseline, actual and diff shown side by side and a slider over them. The test also takes the README's screenshot
of that view (docs/screenshots/visual-diff.png under `make screenshots`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, expect

from services import WorkerProcess, wait_for_final, wait_for_workers

Shoot = Callable[[Page, str], Awaitable[Path]]  # the `shoot` fixture (tests/e2e/conftest.py)


def visual_recording(site_url: str) -> dict[str, Any]:
    return {"version": 1, "name": "visual", "viewport": {"width": 800, "height": 400}, "steps": [
        {"action": "navigate", "url": f"{site_url}/visual.html?change=${{change}}"},
        {"action": "screenshot", "name": "page", "compare": True, "maskSelectors": ["#clock"]},
    ]}


async def run_of(client: httpx.AsyncClient, recording_id: str, change: str) -> dict[str, Any]:
    response = await client.post(f"/api/recordings/{recording_id}/runs",
                                 json={"variables": {"change": change}, "video": "off"})
    assert response.status_code == 201, response.text
    return await wait_for_final(client, response.json()["id"], timeout=90)


async def loaded(page: Page, selector: str) -> None:
    """The image at `selector` has loaded (its pixels arrived), within the expect timeout."""
    await expect(page.locator(selector)).to_have_js_property("complete", True)
    assert await page.locator(selector).evaluate("image => image.naturalWidth") == 800


async def test_first_run_proposes_approve_on_the_page_then_same_passes_and_ten_pixels_fail_side_by_side(
    live_api: str, api_client: httpx.AsyncClient, page: Page, site_url: str, shoot: Shoot,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})
    created = await api_client.post("/api/recordings", json={"name": "visual", "script": visual_recording(site_url)})
    assert created.status_code == 201, created.text
    recording_id = created.json()["id"]

    # The first run has no baseline: it passes, proposing its image.
    first = await run_of(api_client, recording_id, "0")
    assert first["status"] == "passed", first
    assert first["steps"][1]["warning"].startswith("no baseline yet: proposed")
    await page.goto(f"{live_api}/#/runs/{first['id']}")
    panel = page.locator('section.visual[data-visual-step="1"]')
    await expect(panel.locator("h2")).to_have_text("Visual comparison: step 2")
    await expect(panel.locator(".visual-baseline")).to_contain_text("No baseline yet")
    await loaded(page, 'section.visual[data-visual-step="1"] .visual-actual img')
    await expect(panel.locator(".visual-range")).to_have_count(0)  # nothing to slide over yet

    # Approved on the page: the recording's baseline is that run's image.
    await panel.get_by_role("button", name="Approve as new baseline").click()
    await expect(panel.locator("button.approve-baseline")).to_have_text("Approved")
    baselines = (await api_client.get(f"/api/recordings/{recording_id}/baselines")).json()["items"]
    assert [(b["stepIndex"], b["viewportKey"], b["runId"]) for b in baselines] == [(1, "800x400", first["id"])]
    image = await api_client.get(baselines[0]["imageUrl"].replace(live_api, ""))
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"

    # The same page now passes against it.
    same = await run_of(api_client, recording_id, "0")
    assert same["status"] == "passed", same
    assert same["steps"][1]["warning"] is None

    # 10 changed pixels fail [visual_diff]; the run's page shows baseline, actual and diff, and the slider.
    changed = await run_of(api_client, recording_id, "1")
    assert (changed["status"], changed["errorCategory"]) == ("failed", "visual_diff"), changed
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.goto(f"{live_api}/#/runs/{changed['id']}")
    await page.reload()  # a fresh page: no toast left from the approval
    panel = page.locator('section.visual[data-visual-step="1"]')
    await expect(panel.locator(".error-box")).to_contain_text(
        "step 2 (screenshot) [visual_diff]: 10 pixels differ from the baseline")
    for what in ("baseline", "actual", "diff"):
        await loaded(page, f'section.visual[data-visual-step="1"] .visual-{what} img')
    slider = panel.locator("input.visual-range")
    await expect(slider).to_have_attribute("type", "range")
    over = panel.locator("img.visual-over")
    await expect(over).to_have_attribute("style", "clip-path: inset(0px 50% 0px 0px);")
    await slider.fill("20")
    await expect(over).to_have_attribute("style", "clip-path: inset(0px 80% 0px 0px);")
    await slider.fill("50")
    # Selecting the step shows its image as taken, as for any step's screenshot.
    await page.locator('ol.steps button[data-step="1"]').click()
    await expect(page.locator("figure.shot img")).to_have_attribute("alt", "Screenshot after step 2 (screenshot)")
    await expect(page.locator("#toast")).to_be_hidden()
    await panel.evaluate("section => section.scrollIntoView({ block: 'start' })")
    await shoot(page, "visual-diff")
