"""Dashboard login in real Chromium against the API served by uvicorn with API keys on (AUTH=keys): the login
form, the session cookie's flags, logout, and a request from another origin that carries the cookie but not
the session's CSRF token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from contract.access import Scope
from contract.settings import Settings

from services import make_key, serve_api


@pytest.fixture
async def keyed_api(settings: Settings) -> AsyncIterator[tuple[str, Any]]:
    async with serve_api(settings) as served:
        yield served


async def test_the_dashboard_asks_for_a_key_then_shows_the_runs(
    keyed_api: tuple[str, Any], page: Page, site_url: str,
) -> None:
    url, app = keyed_api
    admin = await make_key(app, Scope.ADMIN, name="dashboard-admin")

    await page.goto(f"{url}/#/runs")
    key_field = page.get_by_label("API key")
    await expect(key_field).to_be_visible()
    await expect(page.locator("tbody tr[data-run-id]")).to_have_count(0)

    await key_field.fill("rk_wrong_key")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("status").filter(has_text="unknown or revoked")).to_be_visible()

    await key_field.fill(admin)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    await expect(page.locator("#user")).to_have_text("dashboard-admin (admin)")
    await expect(page.locator("#live")).to_have_text("live")  # the event stream goes with the cookie too

    [cookie] = [c for c in await page.context.cookies() if c["name"] == "reprise_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["value"] not in admin and admin not in cookie["value"]
    assert await page.evaluate("document.cookie") == ""  # HttpOnly: the page's script cannot read it

    # The dashboard itself changes state (its requests carry the CSRF token).
    await page.goto(f"{url}/#/queue")
    await page.get_by_role("button", name="Pause queue").click()
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as api:
        async def queue() -> dict[str, Any]:
            body: dict[str, Any] = (await api.get("/api/queue")).json()
            return body

        await expect(page.get_by_role("button", name="Resume queue")).to_be_visible()
        state = await queue()
        assert state["paused"] is True and state["lastAction"]["by"] == "dashboard-admin"
        await page.get_by_role("button", name="Resume queue").click()
        await expect(page.get_by_role("button", name="Pause queue")).to_be_visible()

        # Another origin on the same site (the test website: same host, another port) sends the cookie along,
        # but cannot know the CSRF token: refused, and nothing changes.
        other = await page.context.new_page()
        await other.goto(f"{site_url}/index.html")
        statuses = await other.evaluate("""async (api) => {
            const form = await fetch(api + "/api/queue/pause", {method: "POST", credentials: "include",
                mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: "x"});
            return form.type;
        }""", url)
        assert statuses == "opaque"
        same_origin = await page.evaluate(
            "async () => (await fetch('/api/queue/pause', {method: 'POST'})).status")
        assert same_origin == 403  # the cookie alone, without the header, changes nothing
        assert (await queue())["paused"] is False
        await other.close()

    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_label("API key")).to_be_visible()
    assert [c for c in await page.context.cookies() if c["name"] == "reprise_session"] == []
    assert await page.evaluate("async () => (await fetch('/api/runs')).status") == 401


async def test_a_read_key_browses_but_cannot_pause(keyed_api: tuple[str, Any], page: Page) -> None:
    url, app = keyed_api
    reader = await make_key(app, Scope.READ, name="viewer")
    await page.goto(f"{url}/#/queue")
    await page.get_by_label("API key").fill(reader)
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_role("button", name="Pause queue").click()
    await expect(page.locator("#toast")).to_contain_text("scope 'admin'")
