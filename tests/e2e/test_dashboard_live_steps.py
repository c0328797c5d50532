"""The run page follows a run as it executes: each step's event is patched into the page as a row, and the
whole run (`GET /api/runs/{id}`) is read only at load and when the run's status changes; in real headless
Chromium against uvicorn, a real worker, Postgres and Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Page, Request, expect

from flows import post_run
from services import WorkerProcess, wait_for_workers

# More than a Postgres notification holds (8000 bytes): that step's event comes without it ("partial").
LONG_SELECTOR = "#name, #absent-" + "x" * 9000

# Each row's first appearance: its step, its status, the run's status in the heading at that moment, and how
# long its selector was. Set up before the app's script runs (Playwright's init scripts are not page scripts,
# so the page's Content-Security-Policy does not apply).
WATCH_ROWS = """
window.__rows = {};
document.addEventListener("DOMContentLoaded", () => {
  const seen = new WeakSet();
  new MutationObserver(() => {
    for (const button of document.querySelectorAll("ol.steps button[data-step]")) {
      if (seen.has(button)) continue;
      seen.add(button);
      const index = Number(button.dataset.step);
      if (index in window.__rows) continue;
      window.__rows[index] = {
        status: button.dataset.status,
        run: document.querySelector("h1 .badge")?.dataset.status,
        selectorLength: button.querySelector(".selector")?.textContent.length ?? 0,
      };
    }
  }).observe(document.getElementById("main"), { childList: true, subtree: true });
});
"""

ROWS_SHOWN = """() => [...document.querySelectorAll("ol.steps button[data-step]")].map((button) => ({
  index: Number(button.dataset.step), status: button.dataset.status, text: button.innerText,
}))"""


def stepwise_recording(site_url: str) -> dict[str, Any]:
    """Nine steps with waits between, so they complete over seconds; the last one fails."""
    return {"version": 1, "name": "steps over time", "steps": [
        {"action": "navigate", "url": f"{site_url}/index.html"},
        {"action": "wait", "ms": 700},
        {"action": "fill", "selector": "#name", "value": "Ada"},
        {"action": "wait", "ms": 700},
        {"action": "assertVisible", "selector": LONG_SELECTOR},
        {"action": "wait", "ms": 700},
        {"action": "select", "selector": "#plan", "value": "pro"},
        {"action": "wait", "ms": 700},
        {"action": "assertText", "selector": "h1", "text": "never this", "timeoutMs": 500},
    ]}


async def test_run_page_patches_steps_in_as_they_complete(
    live_api: str, api_client: httpx.AsyncClient, page: Page, site_url: str,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    recording = stepwise_recording(site_url)
    run_id = await post_run(api_client, {"script": recording, "video": "off", "retries": 0})
    run_reads: list[str] = []
    step_reads: list[str] = []

    def count(request: Request) -> None:
        path = urlsplit(request.url).path
        if path == f"/api/runs/{run_id}":
            run_reads.append(request.url)
        elif path == f"/api/runs/{run_id}/attempts/1/steps":
            step_reads.append(request.url)

    page.on("request", count)
    await page.add_init_script(WATCH_ROWS)

    # The page is open and listening before any worker can take the run.
    await page.goto(f"{live_api}/#/runs/{run_id}")
    await expect(page.locator("h1 .badge")).to_have_text("queued")
    await expect(page.locator("#live")).to_have_text("live")
    start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})

    await expect(page.locator("h1 .badge")).to_have_text("failed", timeout=90_000)
    steps = page.locator("ol.steps button[data-step]")
    await expect(steps).to_have_count(len(recording["steps"]))

    # Every row came while the run was running, as its step completed: none waited for the run to end.
    rows = await page.evaluate("() => window.__rows")
    assert sorted(int(index) for index in rows) == list(range(len(recording["steps"]))), rows
    assert {row["run"] for row in rows.values()} == {"running"}, rows
    assert [rows[str(index)]["status"] for index in range(9)] == ["passed"] * 8 + ["failed"], rows
    # The step whose event could not carry its selector was read alone, and shown whole.
    assert rows["4"]["selectorLength"] == len(LONG_SELECTOR), rows["4"]
    assert step_reads, "the partial step event was not followed by a read of that attempt's steps"
    # The whole run was read at load, when it started and when it ended (one more for a reconnection at
    # most), not once per step as each step event used to cause.
    assert 2 <= len(run_reads) <= 4 < len(recording["steps"]), run_reads

    # What the page shows is what the API has, and what a reload shows.
    run = (await api_client.get(f"/api/runs/{run_id}")).json()
    failed = run["steps"][8]
    assert failed["status"] == "failed" and failed["error"], failed
    await expect(page.locator('button[data-step="8"] .step-error')).to_contain_text(failed["error"])
    await expect(page.locator(".step-counts")).to_have_text("9 steps: 8 passed, 1 failed")
    shown = await page.evaluate(ROWS_SHOWN)
    assert [(row["index"], row["status"]) for row in shown] == [(s["index"], s["status"]) for s in run["steps"]]

    await page.reload()
    await expect(page.locator("h1 .badge")).to_have_text("failed")
    await expect(steps).to_have_count(len(recording["steps"]))
    assert await page.evaluate(ROWS_SHOWN) == shown
    await expect(page.locator(".step-counts")).to_have_text("9 steps: 8 passed, 1 failed")
