"""The next run's context opened ahead (runner.replay.contexts, worker.warm), in real Chromium: a run takes it only
when its plan is the same and the browser is the one it was opened in, keeps every artifact as a run in a fresh
context does, goes through the spare's own egress proxy (the network policy holds), and leaves no folder behind."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from pathlib import Path

from playwright.async_api import Browser

from contract.network import NetworkPolicy
from contract.options import RunOptions
from contract.runs import FailureCategory, RunStatus
from runner.formats import Script, prepare_script
from runner.replay import ChromiumLauncher, PlaywrightRunner, launch_chromium
from runner.replay.contexts import open_context
from worker.browser_health import BrowserSupervisor
from worker.egress import EgressProxy
from worker.main import replay_in
from worker.warm import WarmContexts


def signup(site_url: str, *, name: str = "Ada", expected: str = "Ada") -> Script:
    return prepare_script({"version": 1, "name": "signup", "steps": [
        {"action": "navigate", "url": f"{site_url}/index.html"},
        {"action": "fill", "selector": "#name", "value": name},
        {"action": "assertValue", "selector": "#name", "value": expected},
    ]}, {}, {})


async def spare_opened(warm: WarmContexts, browser: Browser, deadline_s: float = 30.0) -> None:
    """Wait until `warm` holds a spare (opening one takes well under a second)."""
    deadline = time.monotonic() + deadline_s
    while not warm.has_spare:
        assert time.monotonic() < deadline, "no spare context was opened"
        await asyncio.sleep(0.05)


async def test_a_run_in_a_context_opened_ahead_keeps_its_video_and_leaves_no_folder(
        browser: Browser, site_url: str, tmp_path: Path) -> None:
    runner = PlaywrightRunner(browser)
    options = RunOptions(video="on", trace="off")
    script = signup(site_url)
    prepared = await open_context(browser, runner.plan(script, options), tmp_path / "ahead")
    assert prepared.page is None  # with video the page waits for the run: the video starts with it
    result = await runner.run(script, options, tmp_path / "run", prepared=prepared)
    assert result.status == RunStatus.PASSED, result.error
    assert [artifact.kind for artifact in result.artifacts] == ["video"]
    assert (tmp_path / "run" / "video.webm").stat().st_size > 0
    assert not (tmp_path / "ahead").exists()
    assert prepared.context not in browser.contexts


async def test_a_failed_run_in_a_context_opened_ahead_keeps_trace_har_html_and_console(
        browser: Browser, site_url: str, tmp_path: Path) -> None:
    runner = PlaywrightRunner(browser)
    options = RunOptions(video="off", step_timeout_ms=2000)
    script = signup(site_url, expected="Grace")
    prepared = await open_context(browser, runner.plan(script, options), tmp_path / "ahead")
    page = prepared.page
    assert page is not None  # without video the page is made ahead too
    result = await runner.run(script, options, tmp_path / "run", prepared=prepared)
    assert (result.status, result.category) == (RunStatus.FAILED, FailureCategory.ASSERTION_FAILED), result.error
    assert sorted(artifact.kind for artifact in result.artifacts) == ["console", "har", "html", "screenshot",
                                                                      "trace"]
    assert all(artifact.path.parent == tmp_path / "run" for artifact in result.artifacts)
    assert (tmp_path / "run" / "network.har").stat().st_size > 0
    assert page.is_closed() and not (tmp_path / "ahead").exists()


async def test_a_context_planned_otherwise_is_closed_and_the_run_opens_its_own(
        browser: Browser, site_url: str, tmp_path: Path) -> None:
    runner = PlaywrightRunner(browser)
    script = signup(site_url)
    prepared = await open_context(browser, runner.plan(script, RunOptions(video="off", locale="de-DE")),
                                  tmp_path / "ahead")
    options = RunOptions(video="off", trace="off", locale="fr-FR")
    assert runner.plan(script, options).key != prepared.plan.key
    result = await runner.run(script, options, tmp_path / "run", prepared=prepared)
    assert result.status == RunStatus.PASSED, result.error
    assert prepared.page is not None and prepared.page.is_closed()
    assert not (tmp_path / "ahead").exists()


async def test_the_pool_hands_a_spare_only_to_an_equal_plan_in_the_same_browser(
        browser: Browser, chromium_path: str, site_url: str, tmp_path: Path) -> None:
    runner = PlaywrightRunner(browser)
    script = signup(site_url)
    plan = runner.plan(script, RunOptions(video="off"))
    warm = WarmContexts(tmp_path / "ahead")
    try:
        assert await warm.take(browser, plan) is None  # nothing opened yet
        warm.open_next(browser, plan)
        await spare_opened(warm, browser)
        spare = await warm.take(browser, plan)
        assert spare is not None and spare.opened.plan.key == plan.key
        await spare.close()

        warm.open_next(browser, plan)
        await spare_opened(warm, browser)
        other = runner.plan(script, RunOptions(video="off", timezone_id="Asia/Tokyo"))
        assert await warm.take(browser, other) is None  # planned otherwise: closed, not handed out

        warm.open_next(browser, plan)
        await spare_opened(warm, browser)
        async with launch_chromium(chromium_path) as relaunched:
            assert await warm.take(relaunched, plan) is None  # another browser (a relaunch): never used
        assert (warm.taken, warm.missed) == (1, 3)
    finally:
        await warm.close()
    assert list((tmp_path / "ahead").iterdir()) == []


async def test_a_pool_of_two_keeps_a_spare_for_each_run_slot(browser: Browser, site_url: str,
                                                              tmp_path: Path) -> None:
    plan = PlaywrightRunner(browser).plan(signup(site_url), RunOptions(video="off"))
    warm = WarmContexts(tmp_path / "ahead", size=2)
    try:
        for _ in range(3):  # asked three times: two are opened
            warm.open_next(browser, plan)
        deadline = time.monotonic() + 30
        while warm.spares < 2:
            assert time.monotonic() < deadline, f"{warm.spares} spares opened of 2"
            await asyncio.sleep(0.05)
        first, second = await warm.take(browser, plan), await warm.take(browser, plan)
        assert first is not None and second is not None and first.opened.context is not second.opened.context
        assert (warm.taken, warm.missed, warm.spares) == (2, 0, 0)
        for spare in (first, second):
            await spare.close()
    finally:
        await warm.close()
    assert list((tmp_path / "ahead").iterdir()) == []


async def test_the_worker_replays_in_spares_behind_their_own_egress_proxy(
        chromium_path: str, site_url: str, tmp_path: Path) -> None:
    """Through `replay_in` as the worker wires it: the second and third runs start in spares, and the network policy
    still holds for them (a blocked address ends the run `failed` [blocked], naming it)."""
    site_port = int(site_url.rsplit(":", 1)[1])
    policy = NetworkPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    supervisor = BrowserSupervisor(ChromiumLauncher(chromium_path))
    await supervisor.start()
    warm = WarmContexts(tmp_path / "ahead", new_proxy=lambda: EgressProxy(policy))
    try:
        replay = replay_in({"chromium": supervisor}, 30, policy, warm=warm)
        options = RunOptions(video="off", trace="off", step_timeout_ms=5000)
        first = await replay(signup(site_url), options, tmp_path / "one")
        browser = await supervisor.browser(5)
        await spare_opened(warm, browser)
        second = await replay(signup(site_url), options, tmp_path / "two")
        await spare_opened(warm, browser)
        blocked = await replay(prepare_script({"version": 1, "name": "inside", "steps": [
            {"action": "navigate", "url": f"{site_url}/index.html"},
            {"action": "navigate", "url": f"http://127.0.0.3:{site_port}/index.html"}]}, {}, {}),
            options, tmp_path / "three")
    finally:
        await warm.close()
        await supervisor.close()
    assert first.status == second.status == RunStatus.PASSED, (first.error, second.error)
    assert warm.taken == 2
    assert (blocked.status, blocked.category) == (RunStatus.FAILED, FailureCategory.BLOCKED), blocked.error
    assert f"127.0.0.3:{site_port}" in (blocked.error or "")
