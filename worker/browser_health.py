"""The worker's one Chromium: relaunched when it crashes or disconnects, with a circuit breaker.

A disconnect (Chromium killed, crashed, OOM) fails the runs that were in it (the runner reports them as
`error` [browser_crashed], and they are retried) and starts a relaunch. While the browser is down, new runs
wait for it. After `failures_to_open` failed launches in a row the circuit opens: the worker stops claiming
jobs (`on_open`), reports it in its heartbeat, and tries a launch every `retry_s`; the first success closes
the circuit and claiming resumes (`on_close`).

Recycling: a browser that has served `recycle_after_runs` runs, or whose processes hold more than
`recycle_above_bytes` (`memory()`, read after each run), is replaced without failing a run. A new Chromium is
launched beside it, by a new launcher (`new_launcher`: its own Playwright driver, whose memory grows with the runs
it has served, more than Chromium's: BENCHMARKS.md); new runs go to the new one, and the old browser and its driver
are closed once the last run in it has finished.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import structlog
from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError

from runner.replay import BrowserError, ChromiumLauncher

log = structlog.get_logger(__name__)

RELAUNCH_FIRST_DELAY_S = 0.5
STATES = ("starting", "ok", "relaunching", "circuit_open", "stopped")  # BrowserSupervisor.state


class BrowserSupervisor:
    def __init__(
        self,
        launcher: ChromiumLauncher,
        *,
        failures_to_open: int = 3,
        retry_s: float = 30.0,
        on_open: Callable[[], None] = lambda: None,
        on_close: Callable[[], None] = lambda: None,
        recycle_after_runs: int = 0,
        recycle_above_bytes: int = 0,
        memory: Callable[[], int] = lambda: 0,
        new_launcher: Callable[[], ChromiumLauncher] | None = None,
    ) -> None:
        self._launcher = launcher
        self._new_launcher = new_launcher  # None: a recycle launches with the same launcher (driver)
        self._failures_to_open = failures_to_open
        self._retry_s = retry_s
        self._on_open = on_open
        self._on_close = on_close
        self._browser: Browser | None = None
        self._ready = asyncio.Event()
        self._relaunching: asyncio.Task[None] | None = None
        self._closing = False
        self._recycle_after_runs = recycle_after_runs  # 0: never for its run count
        self._recycle_above_bytes = recycle_above_bytes  # 0: never for its memory
        self._memory = memory
        self._leases: dict[Browser, int] = {}  # runs in progress per browser
        # Replaced by a recycle, closed when their last run ends, with the launcher to stop then (None: shared).
        self._retiring: dict[Browser, ChromiumLauncher | None] = {}
        self._recycling: asyncio.Task[None] | None = None
        self._closing_old: set[asyncio.Task[None]] = set()
        self.state = "starting"  # one of STATES
        self.launches = 0
        self.crashes = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None
        self.recycles = 0
        self.runs_in_browser = 0  # runs finished in the current browser

    async def start(self) -> None:
        """The first launch; BrowserError here is a configuration problem and stops the worker."""
        self._use(await self._launcher.launch())

    def _use(self, browser: Browser) -> None:
        self._browser = browser
        self.launches += 1
        self.runs_in_browser = 0
        self.consecutive_failures = 0
        self.state = "ok"
        browser.on("disconnected", lambda _: self._disconnected(browser))
        self._ready.set()
        log.info("chromium ready", launches=self.launches, version=browser.version)

    def _disconnected(self, browser: Browser) -> None:
        if self._closing or browser is not self._browser:
            return
        self.crashes += 1
        self._browser = None
        self._ready.clear()
        self.state = "relaunching"
        log.error("chromium disconnected; runs in it will be retried, relaunching", crashes=self.crashes)
        self._relaunching = asyncio.create_task(self._relaunch(), name="chromium-relaunch")

    async def _relaunch(self) -> None:
        delay = RELAUNCH_FIRST_DELAY_S
        while not self._closing:
            try:
                browser = await self._launcher.launch()
            except BrowserError as error:
                self.consecutive_failures += 1
                self.last_error = str(error)
                log.error("chromium relaunch failed", failures=self.consecutive_failures, error=str(error))
                if self.consecutive_failures >= self._failures_to_open and self.state != "circuit_open":
                    self.state = "circuit_open"
                    log.error("circuit open: not claiming jobs until chromium launches again",
                              retryInS=self._retry_s)
                    self._on_open()
                await asyncio.sleep(self._retry_s if self.state == "circuit_open" else delay)
                delay = min(delay * 2, self._retry_s)
                continue
            was_open = self.state == "circuit_open"
            self._use(browser)
            if was_open:
                log.info("circuit closed: chromium launched again, claiming jobs")
                self._on_close()
            return

    async def browser(self, timeout_s: float) -> Browser:
        """The live browser, waiting up to `timeout_s` for a relaunch; BrowserError if none comes."""
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    await self._ready.wait()
                    if self._browser is not None and self._browser.is_connected():
                        return self._browser
                    self._ready.clear()
        except TimeoutError as error:
            raise BrowserError(f"no browser within {timeout_s:.0f} s: {self.last_error or self.state}") from error

    @asynccontextmanager
    async def lease(self, timeout_s: float) -> AsyncIterator[Browser]:
        """The live browser (as `browser`) for one run: a recycle closes it only after the run has left it."""
        browser = await self.browser(timeout_s)
        self._leases[browser] = self._leases.get(browser, 0) + 1
        try:
            yield browser
        finally:
            self._leases[browser] -= 1
            if not self._leases[browser]:
                del self._leases[browser]
            if browser is self._browser:
                self.runs_in_browser += 1
                self._recycle_if_due()
            elif browser in self._retiring and browser not in self._leases:
                self._close_retired(browser)

    def _recycle_if_due(self) -> None:
        if self._closing or self.state != "ok" or (self._recycling is not None and not self._recycling.done()):
            return
        reason: dict[str, int] = {}
        if self._recycle_after_runs and self.runs_in_browser >= self._recycle_after_runs:
            reason["runs"] = self.runs_in_browser
        # Not while a replaced browser is still open: its processes are in the figure until it closes.
        if self._recycle_above_bytes and not reason and not self._retiring:
            used = self._memory()
            if used > self._recycle_above_bytes:
                reason["memoryMb"] = used // 2**20
        if reason:
            self._recycling = asyncio.create_task(self._recycle(reason), name="chromium-recycle")

    async def _recycle(self, reason: dict[str, int]) -> None:
        old, old_launcher = self._browser, self._launcher
        launcher = self._new_launcher() if self._new_launcher is not None else old_launcher
        try:
            fresh = await launcher.launch()
        except BrowserError as error:
            # The old browser goes on (with its own driver); tried again after as many runs again.
            if launcher is not old_launcher:
                await launcher.stop()
            self.runs_in_browser = 0
            log.warning("could not launch a fresh chromium to recycle into", error=str(error))
            return
        except asyncio.CancelledError:
            if launcher is not old_launcher:
                await launcher.stop()
            raise
        if self._closing or old is None or old is not self._browser or not old.is_connected():
            # Stopped, or the old one crashed meanwhile (its relaunch takes over): this one is not needed.
            with suppress(PlaywrightError):
                await fresh.close()
            if launcher is not old_launcher:
                await launcher.stop()
            return
        self.recycles += 1
        self._retiring[old] = old_launcher if launcher is not old_launcher else None
        self._launcher = launcher
        log.info("chromium recycled", recycles=self.recycles, **reason)
        self._use(fresh)
        if old not in self._leases:
            self._close_retired(old)

    def _close_retired(self, browser: Browser) -> None:
        launcher = self._retiring.pop(browser, None)

        async def close() -> None:
            with suppress(PlaywrightError):
                await browser.close()
            if launcher is not None:
                await launcher.stop()

        task = asyncio.create_task(close(), name="chromium-retire")
        self._closing_old.add(task)
        task.add_done_callback(self._closing_old.discard)

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "launches": self.launches,
            "recycles": self.recycles,
            "runsInBrowser": self.runs_in_browser,
            "crashes": self.crashes,
            "consecutiveLaunchFailures": self.consecutive_failures,
            "lastError": self.last_error,
        }

    async def close(self) -> None:
        self._closing = True
        self.state = "stopped"
        for task in (self._relaunching, self._recycling):
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        if self._closing_old:
            await asyncio.gather(*self._closing_old, return_exceptions=True)
        for browser in [self._browser, *self._retiring]:
            if browser is not None:
                with suppress(PlaywrightError):
                    await browser.close()
        launchers = [launcher for launcher in self._retiring.values() if launcher is not None]
        self._retiring.clear()
        for launcher in [*launchers, self._launcher]:
            await launcher.stop()
