"""The next run's browser context, opened while a run executes (`runner.replay.contexts`).

After a run's context is planned, a context like it (and, when the worker enforces a network policy, the egress
proxy it goes through) is opened in the background and kept as the spare. The next run whose plan is the same
takes it and starts at its first step; a run planned otherwise (another viewport, device, locale, headers, video
mode) closes the spare and opens its own. One spare per worker: at concurrency above one the other runs open
their own as before. A spare in a browser that has died since is never used.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import structlog
from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError

from runner.replay.contexts import ContextPlan, OpenContext, open_context
from runner.replay.locate import first_line
from worker.egress import EgressProxy

log = structlog.get_logger(__name__)


@dataclass
class Spare:
    opened: OpenContext
    proxy: EgressProxy | None

    async def close(self) -> None:
        await self.opened.discard()
        if self.proxy is not None:
            await self.proxy.close()


class WarmContexts:
    """`take` the spare for a plan, `open_next` a spare like a plan, `close` at the worker's stop.
    `new_proxy`: the egress proxy each context goes through (None: no proxy)."""

    def __init__(self, folder: Path, new_proxy: Callable[[], EgressProxy] | None = None) -> None:
        self._folder = folder
        self._new_proxy = new_proxy
        self._spare: Spare | None = None
        self._opening: asyncio.Task[None] | None = None
        self._closed = False
        self.taken = 0  # runs that started in a spare
        self.missed = 0  # runs that found no spare fit for them

    @property
    def has_spare(self) -> bool:
        return self._spare is not None

    @property
    def _is_opening(self) -> bool:
        return self._opening is not None and not self._opening.done()

    async def take(self, browser: Browser, plan: ContextPlan) -> Spare | None:
        """The spare when it was opened from an equal plan in `browser` and is still open; else None (a spare
        that does not fit is closed)."""
        if self._spare is None and self._opening is not None and self._is_opening:
            # Half opened already: sooner ready than a context opened from scratch.
            await asyncio.shield(self._opening)
        spare, self._spare = self._spare, None
        if spare is not None and spare.opened.plan.key == plan.key and spare.opened.usable_in(browser):
            if spare.proxy is not None:
                spare.proxy.forget()
            self.taken += 1
            return spare
        self.missed += 1
        if spare is not None:
            await spare.close()
        return None

    def open_next(self, browser: Browser, plan: ContextPlan) -> None:
        """Open a spare from `plan` in the background, unless one is kept or being opened."""
        if self._closed or self._spare is not None or self._is_opening:
            return
        self._opening = asyncio.create_task(self._open(browser, plan))

    async def _open(self, browser: Browser, plan: ContextPlan) -> None:
        proxy = self._new_proxy() if self._new_proxy is not None else None
        try:
            if proxy is not None:
                await proxy.start()
            opened = await open_context(browser, plan, self._folder / uuid.uuid4().hex,
                                        proxy=proxy.playwright_proxy() if proxy is not None else None)
        except BaseException as error:
            if proxy is not None:
                await proxy.close()
            if not isinstance(error, PlaywrightError | OSError):
                raise  # cancelled by close()
            log.info("could not open the next run's context ahead", error=first_line(error))
            return
        spare = Spare(opened, proxy)
        if self._closed:
            await spare.close()
            return
        self._spare = spare

    async def close(self) -> None:
        self._closed = True
        if self._opening is not None:
            self._opening.cancel()
            with suppress(asyncio.CancelledError):
                await self._opening
        if self._spare is not None:
            spare, self._spare = self._spare, None
            await spare.close()
