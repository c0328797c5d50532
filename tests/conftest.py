"""Fixtures shared by the runner tests: the fixture website and a real Chromium."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser

from runner.replay import launch_chromium

from site_server import serve_site

# Postgres/Redis/API/worker fixtures live in tests/services.py.
pytest_plugins = ["services", "private_services", "s3_server"]


@pytest.fixture(scope="session")
def site_url() -> Iterator[str]:
    """The fixture website's origin, e.g. http://127.0.0.1:40123 (pages: /index.html, /page2.html, ...)."""
    with serve_site() as base_url:
        yield base_url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.access(path, os.X_OK):
        pytest.fail(f"Chromium is needed for these tests and is missing at {path} (set CHROMIUM_PATH)")
    return path


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    """A fresh Chromium per test (the event loop is per test too), closed afterwards."""
    async with launch_chromium(chromium_path) as launched:
        yield launched
