"""`reprise dev` started key-less in a fresh folder: it makes an admin key, prints a one-time login link that
logs Chromium in to the dashboard, and a second start reuses the key."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect
from test_dev_e2e import DevProcess, free_port

from contract.settings import Settings

LINK = re.compile(r"Log in to the dashboard \(one-time link, 15 min\): (http://\S+/login\?token=\S+)")


StartDev = Callable[[], tuple[DevProcess, str]]


@pytest.fixture
def start_dev(settings: Settings, tmp_path: Path) -> Iterator[StartDev]:
    started: list[subprocess.Popen[str]] = []
    port = free_port()

    def start() -> tuple[DevProcess, str]:
        env = {k: v for k, v in os.environ.items() if k != "AUTH"}
        env.update(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, QUEUE_NAME=settings.queue_name,
                   ARTIFACT_STORAGE_PATH=str(tmp_path / "files"))
        process = subprocess.Popen(
            [sys.executable, "-m", "reprise.cli", "dev", "--workers", "0", "--port", str(port),
             "--state-dir", str(tmp_path / "state")],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        started.append(process)
        return DevProcess(process), f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def stop(dev: DevProcess) -> None:
    dev.process.send_signal(signal.SIGINT)
    assert dev.process.wait(timeout=60) == 0, dev.output()[-4000:]


def login_link(dev: DevProcess) -> str:
    dev.wait_for_line("Log in to the dashboard", timeout=90)
    [link] = [match[1] for line in dev.lines if (match := LINK.search(line))]
    return link


async def test_a_first_dev_start_prints_a_login_link_that_opens_the_dashboard(
    start_dev: StartDev, browser: Browser, tmp_path: Path,
) -> None:
    first, url = start_dev()
    first.wait_for_line(f"Reprise is running at {url}", timeout=90)
    link = login_link(first)
    assert link.startswith(f"{url}/login?token=")
    assert any("made on this first start" in line for line in first.lines), first.output()
    key_file = tmp_path / "state" / "admin-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert key.startswith("rk_") and key not in first.output()  # the key is in the file, never printed

    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(link)
    await expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    await expect(page.locator("#user")).to_have_text("reprise-dev (admin)")
    assert page.url == f"{url}/"  # the token left the address bar
    [cookie] = [c for c in await context.cookies() if c["name"] == "reprise_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # The link works once: another browser following it lands on the login form.
    other = await browser.new_context()
    second_page = await other.new_page()
    await second_page.goto(link)
    await expect(second_page.get_by_label("API key")).to_be_visible()
    await expect(second_page.get_by_text("invalid, expired or was already used")).to_be_visible()
    await other.close()
    await context.close()
    stop(first)

    # A second start keeps the key (it still works) and prints a new link.
    second, _ = start_dev()
    second.wait_for_line(f"Reprise is running at {url}", timeout=90)
    new_link = login_link(second)
    assert new_link != link
    assert any("kept from an earlier start" in line for line in second.lines), second.output()
    assert key_file.read_text().strip() == key
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        assert (await client.get("/api/runs")).status_code == 401
        assert (await client.get("/api/runs", headers={"Authorization": f"Bearer {key}"})).status_code == 200
    stop(second)
