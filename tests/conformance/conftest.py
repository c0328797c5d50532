"""The session's reference runner (see `oracle_client`)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from oracle_client import CONFORMANCE_DIR, SETUP_NODE, Oracle, case_paths
from playwright.async_api import Browser

from runner.replay import launch_chromium


@pytest.fixture(scope="session")
def oracle(site_url: str, chromium_path: str) -> Iterator[Oracle]:
    if shutil.which("node") is None:
        pytest.fail("node is needed for the conformance suite (the reference runner is @puppeteer/replay)")
    if not (CONFORMANCE_DIR / "node_modules" / "@puppeteer" / "replay").is_dir():
        pytest.fail(f"the reference runner is not installed: run {SETUP_NODE}")
    running = Oracle(site_url, case_paths(), chromium_path)
    try:
        yield running
    finally:
        running.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_browser(chromium_path: str) -> AsyncIterator[Browser]:
    """One Chromium for every case (each run still gets a fresh browser context); launching one per case
    would double the suite's time."""
    async with launch_chromium(chromium_path) as launched:
        yield launched
