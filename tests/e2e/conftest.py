"""Fixtures of the end-to-end tests that drive the dashboard in Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page


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
