"""The next run's browser context, opened while a run executes (`runner.replay.contexts`).

After a run's context is planned, a context like it (and, when the worker enforces a network policy, the egress
proxy it goes through) is opened in the background and kept as the spare. The next run whose plan is the same
takes it and starts at its first step; a run planned otherwise (another viewport, device, locale, headers, video
mode) closes the spares and opens its own. As many spares as the worker runs at once, so each run slot finds one.
A spare in a browser that has died or been recycled since is never used.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
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
    """`take` a spare for a plan, `open_next` a spare like a plan, `close` at the worker's stop. Up to `size` spares
    (the worker's concurrency: each run slot finds one). `new_proxy`: the egress proxy each context goes through
    (None: no proxy)."""

    def __init__(self, folder: Path, new_proxy: Callable[[], EgressProxy] | None = None, size: int = 1) -> None:
        self._folder = folder
        self._new_proxy = new_proxy
        self._size = size
        self._spares: list[Spare] = []
        self._opening: set[asyncio.Task[None]] = set()
        self._closed = False
        self.taken = 0  # runs that started in a spare
        self.missed = 0  # runs that found no spare fit for them

    @property
    def has_spare(self) -> bool:
        return bool(self._spares)

    @property
    def spares(self) -> int:
        return len(self._spares)

    def _fitting(self, browser: Browser, plan: ContextPlan) -> Spare | None:
        for spare in self._spares:
            if spare.opened.plan.key == plan.key and spare.opened.usable_in(browser):
                self._spares.remove(spare)
                return spare
        return None

    async def take(self, browser: Browser, plan: ContextPlan) -> Spare | None:
        """A spare opened from an equal plan in `browser` and still open; else None (then the spares that do not
        fit are closed: they were planned for runs unlike this one, or in a browser gone since)."""
        spare = self._fitting(browser, plan)
        if spare is None and self._opening:
            # Half opened already: sooner ready than a context opened from scratch.
            await asyncio.wait([asyncio.shield(task) for task in self._opening], return_when=asyncio.FIRST_COMPLETED)
            spare = self._fitting(browser, plan)
        if spare is not None:
            if spare.proxy is not None:
                spare.proxy.forget()
            self.taken += 1
            return spare
        self.missed += 1
        unfit, self._spares = self._spares, []
        for other in unfit:
            await other.close()
        return None

    def open_next(self, browser: Browser, plan: ContextPlan) -> None:
        """Open a spare from `plan` in the background, unless `size` spares are kept or being opened."""
        if self._closed or len(self._spares) + len(self._opening) >= self._size:
            return
        task = asyncio.create_task(self._open(browser, plan))
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)

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
        self._spares.append(spare)

    async def close(self) -> None:
        self._closed = True
        opening = list(self._opening)
        for task in opening:
            task.cancel()
        await asyncio.gather(*opening, return_exceptions=True)
        spares, self._spares = self._spares, []
        for spare in spares:
            await spare.close()
