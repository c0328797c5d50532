"""Fixtures of the end-to-end tests that drive the dashboard in Chromium."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from services import REPO_ROOT


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A dashboard-sized page that fails the test if anything on it opens a dialog (script run from data)."""
    context = await browser.new_context(viewport={"width": 1366, "height": 860})
    page = await context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    yield page
    await context.close()
    assert dialogs == [], f"the page opened dialogs (script ran from data?): {dialogs}"


@pytest.fixture
def shoot(tmp_path: Path) -> Callable[[Page, str], Awaitable[Path]]:
    """Screenshots of dashboard pages: into $REPRISE_SCREENSHOTS_DIR when set (`make screenshots`: the README's),
    else a temporary folder."""
    configured = os.environ.get("REPRISE_SCREENSHOTS_DIR")
    directory = (REPO_ROOT / configured) if configured else tmp_path / "screenshots"

    async def take(page: Page, name: str) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.png"
        await page.screenshot(path=path)
        assert path.stat().st_size > 10_000, f"{path} is too small to show the page"
        return path

    return take
