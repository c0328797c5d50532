"""A run whose video and screenshots retention removed, in the dashboard (real headless Chromium, the API
served by uvicorn, a real worker, `reprise cleanup` as a process): the page says what was removed and when,
in place of the player and the pictures, and never points a player at a file that is gone; the download
answers 410 naming the date."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
from playwright.async_api import Page, Response, expect

from contract.settings import Settings

from flows import post_run, quick_script
from services import REPO_ROOT, WorkerProcess, wait_for_final, wait_for_workers, worker_env


async def age_run(database_url: str, run_id: str, days: int) -> list[tuple[str, str]]:
    """As if the run finished `days` ago; its artifacts' (kind, storage key)."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("UPDATE runs SET finished_at = now() - make_interval(days => $2) "
                                 "WHERE id = $1::uuid", run_id, days)
        rows = await connection.fetch("SELECT kind, storage_key FROM run_artifacts WHERE run_id = $1::uuid", run_id)
    finally:
        await connection.close()
    return [(row["kind"], row["storage_key"]) for row in rows]


def local_file(settings: Settings, key: str) -> Path:
    area, _, rest = key.partition("/")
    root = {"videos": settings.video_storage_path, "screenshots": settings.screenshot_storage_path}.get(
        area, settings.artifact_storage_path)
    return Path(root) / rest


async def test_an_expired_video_shows_as_removed_and_its_download_is_gone(
    live_api: str, api_client: httpx.AsyncClient, page: Page, site_url: str, settings: Settings,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})
    run_id = await post_run(api_client, {"script": quick_script(site_url, "kept a week"),
                                         "screenshots": "every-step"})
    run = await wait_for_final(api_client, run_id, timeout=90)
    assert run["status"] == "passed" and run["videoUrl"] and len(run["screenshotUrls"]) == 3
    stored = await age_run(settings.database_url, run_id, 10)
    assert all(local_file(settings, key).is_file() for _, key in stored)

    env = worker_env(settings, "cleanup", RETENTION_VIDEO_PASSED_DAYS="7", RETENTION_SCREENSHOTS_PASSED_DAYS="7")
    completed = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "reprise.cli", "cleanup"],
                                        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "video: 1 artifact(s)" in completed.stdout and "screenshots: 3 artifact(s)" in completed.stdout
    assert not any(local_file(settings, key).exists() for _, key in stored)  # the files are gone

    run = (await api_client.get(f"/api/runs/{run_id}")).json()
    assert run["videoUrl"] is None and run["screenshotUrls"] == [] and run["videoRemovedAt"]
    day = datetime.fromisoformat(run["videoRemovedAt"]).date().isoformat()
    failed_media: list[str] = []

    def watch(response: Response) -> None:
        if "/artifacts/" in response.url and response.status >= 400:
            failed_media.append(f"{response.status} {response.url}")

    page.on("response", watch)
    await page.goto(f"{live_api}/#/runs/{run_id}")
    await expect(page.locator("h1 .run-name")).to_have_text("kept a week")
    # In place of the player: what happened and when. No player, no source.
    await expect(page.locator(".no-video")).to_have_text(f"Video removed by retention on {day}")
    await expect(page.locator("video")).to_be_hidden()
    assert await page.locator("video").get_attribute("src") is None
    # A step's screenshot, removed too, says so instead of a broken picture.
    await page.locator('button[data-step="1"]').click()
    await expect(page.locator("figure.shot")).to_contain_text(f"Screenshot removed by retention on {day}")
    assert await page.locator("figure.shot img").count() == 0
    # The file list names the video without a link.
    video_item = page.locator('li[data-artifact="video"]')
    await expect(video_item).to_contain_text(f"File removed by retention on {day}")
    assert await video_item.locator("a").count() == 0
    await expect(page.locator(".artifacts")).to_contain_text(f"3 of them removed by retention on {day}")
    assert failed_media == []  # the page asked for no removed file

    # Downloading it (as a browser would, over HTTP) is 410 Gone, naming the date.
    video = next(a for a in run["artifacts"] if a["kind"] == "video")
    assert video["url"] is None and video["removedAt"] == run["videoRemovedAt"]
    gone = await page.request.get(f"{live_api}/api/runs/{run_id}/artifacts/{video['id']}")
    assert gone.status == 410
    body = await gone.json()
    assert body["error"] == "gone" and f"removed by retention on {day}" in body["message"]
