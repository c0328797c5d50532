"""The worker's one Chromium: relaunched when it crashes or disconnects, with a circuit breaker.

A disconnect (Chromium killed, crashed, OOM) fails the runs that were in it (the runner reports them as
`error` [browser_crashed], and they are retried) and starts a relaunch. While the browser is down, new runs
wait for it. After `failures_to_open` failed launches in a row the circuit opens: the worker stops claiming
jobs (`on_open`), reports it in its heartbeat, and tries a launch every `retry_s`; the first success closes
the circuit and claiming resumes (`on_close`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
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
    ) -> None:
        self._launcher = launcher
        self._failures_to_open = failures_to_open
        self._retry_s = retry_s
        self._on_open = on_open
        self._on_close = on_close
        self._browser: Browser | None = None
        self._ready = asyncio.Event()
        self._relaunching: asyncio.Task[None] | None = None
        self._closing = False
        self.state = "starting"  # one of STATES
        self.launches = 0
        self.crashes = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None

    async def start(self) -> None:
        """The first launch; BrowserError here is a configuration problem and stops the worker."""
        self._use(await self._launcher.launch())

    def _use(self, browser: Browser) -> None:
        self._browser = browser
        self.launches += 1
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

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "launches": self.launches,
            "crashes": self.crashes,
            "consecutiveLaunchFailures": self.consecutive_failures,
            "lastError": self.last_error,
        }

    async def close(self) -> None:
        self._closing = True
        self.state = "stopped"
        if self._relaunching is not None:
            self._relaunching.cancel()
            with suppress(asyncio.CancelledError):
                await self._relaunching
        if self._browser is not None:
            with suppress(PlaywrightError):
                await self._browser.close()
        await self._launcher.stop()
