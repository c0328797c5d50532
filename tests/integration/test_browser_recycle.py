"""A worker's Chromium replaced after N runs or M MB (worker.browser_health), in real Chromium: the run still in the
old browser finishes there, new runs go to the fresh one, the old one is closed after its last run, and no run
fails or counts as a crash."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import time
from collections.abc import Callable
from pathlib import Path

from playwright.async_api import Browser

from contract.network import NetworkPolicy
from contract.options import RunOptions
from contract.runs import RunStatus
from runner.formats import Script, prepare_script
from runner.replay import ChromiumLauncher
from worker.browser_health import BrowserSupervisor
from worker.egress import EgressProxy
from worker.main import replay_in
from worker.process_memory import descendants, parent_pids
from worker.warm import WarmContexts


async def until(condition: Callable[[], bool], what: str, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


def signup(site_url: str) -> Script:
    return prepare_script({"version": 1, "name": "signup", "steps": [
        {"action": "navigate", "url": f"{site_url}/index.html"},
        {"action": "fill", "selector": "#name", "value": "Ada"},
        {"action": "assertValue", "selector": "#name", "value": "Ada"},
    ]}, {}, {})


def drivers() -> int:
    """Playwright drivers (Node processes) this test process has started and that still run."""
    parents = parent_pids()
    return sum(b"run-driver" in (Path("/proc") / str(pid) / "cmdline").read_bytes()
               for pid in descendants(os.getpid(), parents) if (Path("/proc") / str(pid)).exists())


async def test_a_recycle_waits_for_the_run_still_in_the_old_browser(chromium_path: str, site_url: str) -> None:
    supervisor = BrowserSupervisor(ChromiumLauncher(chromium_path), recycle_after_runs=2,
                                   new_launcher=lambda: ChromiumLauncher(chromium_path))
    await supervisor.start()
    try:
        async with supervisor.lease(5) as old:
            page = await (await old.new_context()).new_page()
            await page.goto(f"{site_url}/index.html")
            for _ in range(2):
                async with supervisor.lease(5) as same:
                    assert same is old
            # Two runs ended in it: a fresh browser is launched beside it, while the first run goes on.
            await until(lambda: supervisor.recycles == 1, "no recycle after the run count was reached")
            async with supervisor.lease(5) as fresh:
                assert fresh is not old and fresh.is_connected()
            assert drivers() == 2  # the fresh browser has a driver of its own
            # The run still in the old browser goes on there.
            assert old.is_connected()
            await page.fill("#name", "Ada")
            assert await page.input_value("#name") == "Ada"
        await until(lambda: not old.is_connected(), "the old browser was not closed after its last run")
        await until(lambda: drivers() == 1, "the old browser's driver was not stopped")
        assert supervisor.status() | {"lastError": None} == {
            "state": "ok", "launches": 2, "recycles": 1, "runsInBrowser": 1, "crashes": 0,
            "consecutiveLaunchFailures": 0, "lastError": None}
    finally:
        await supervisor.close()


async def test_memory_above_the_limit_recycles_and_below_it_does_not(chromium_path: str) -> None:
    used = {"bytes": 100 * 2**20}
    supervisor = BrowserSupervisor(ChromiumLauncher(chromium_path), recycle_above_bytes=512 * 2**20,
                                   memory=lambda: used["bytes"])
    await supervisor.start()
    try:
        for _ in range(5):
            async with supervisor.lease(5):
                pass
        first: Browser = await supervisor.browser(5)
        assert supervisor.recycles == 0 and supervisor.runs_in_browser == 5
        used["bytes"] = 600 * 2**20
        async with supervisor.lease(5):
            pass
        await until(lambda: supervisor.recycles == 1, "no recycle above the memory limit")
        await until(lambda: not first.is_connected(), "the old browser was not closed")
        assert await supervisor.browser(5) is not first and supervisor.crashes == 0
    finally:
        await supervisor.close()


async def test_the_worker_passes_every_run_across_recycles(chromium_path: str, site_url: str,
                                                            tmp_path: Path) -> None:
    """Through `replay_in` as the worker wires it (spare contexts, egress proxies), two runs at a time, a fresh
    Chromium every 3 runs: every run passes and none is a crash."""
    open_site = NetworkPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    supervisor = BrowserSupervisor(ChromiumLauncher(chromium_path), recycle_after_runs=3)
    await supervisor.start()
    warm = WarmContexts(tmp_path / "ahead", new_proxy=lambda: EgressProxy(open_site))
    try:
        replay = replay_in({"chromium": supervisor}, 30, open_site, warm=warm)
        options = RunOptions(video="off", trace="off", step_timeout_ms=10_000)
        results = []
        for pair in range(6):
            results += await asyncio.gather(*(replay(signup(site_url), options, tmp_path / f"run-{pair}-{slot}")
                                              for slot in range(2)))
    finally:
        await warm.close()
        await supervisor.close()
    assert [result.status for result in results] == [RunStatus.PASSED] * 12, [result.error for result in results]
    # Runs go on in the old browser while the fresh one launches, so a browser may serve more than 3: at least
    # two recycles in 12 runs.
    assert supervisor.recycles >= 2 and supervisor.launches == supervisor.recycles + 1
    assert supervisor.crashes == 0
