"""A run's browser context: what it is made with (`ContextPlan`) and the context itself once open (`OpenContext`).

A plan holds everything but the run's files and proxy, so a context can be opened before its run is known: the
worker opens the next run's context while a run executes, like the last one's (`worker.warm`), and the runner
takes it when the next run's plan is the same. Opening a context and its page is about a third of a short run.

A context opened ahead has its page already when the run records no video. With video the page is made when the
run starts: the video begins with the page, and a page made ahead would record the wait for the run.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, ProxySettings
from playwright.async_api import Error as PlaywrightError

HAR_NAME = "network.har"
VIDEO_FOLDER = ".video"


@dataclass(frozen=True)
class ContextPlan:
    """`emulation`: the keyword arguments of `Browser.new_context` that depend on the run (viewport, device,
    locale, headers, storage state). `video`: a video is recorded. `tracing`: a Playwright trace is recorded, with
    DOM snapshots and screenshots when `full_trace`."""

    emulation: dict[str, Any]
    video: bool
    tracing: bool
    full_trace: bool = False

    @property
    def key(self) -> str:
        """Equal for plans that make the same context."""
        return json.dumps([self.emulation, self.video, self.tracing, self.full_trace], sort_keys=True, default=str)


@dataclass
class OpenContext:
    """A context made from a plan, with its page when it was made ahead without video. `folder`: the files Playwright
    writes for it (the video folder, the HAR written when it closes); removed by `discard`."""

    browser: Browser
    plan: ContextPlan
    context: BrowserContext
    folder: Path
    page: Page | None = None

    @property
    def video_dir(self) -> Path | None:
        return self.folder / VIDEO_FOLDER if self.plan.video else None

    @property
    def har_path(self) -> Path:
        return self.folder / HAR_NAME

    def usable_in(self, browser: Browser) -> bool:
        """Still open in `browser` (a context of a browser that died or was relaunched is not)."""
        return self.browser is browser and browser.is_connected() and (self.page is None or not self.page.is_closed())

    async def discard(self, *, remove_files: bool = True) -> None:
        """Close the context (and remove its folder): for a context made ahead that no run took."""
        with suppress(PlaywrightError):
            await self.context.close()
        if remove_files:
            shutil.rmtree(self.folder, ignore_errors=True)


async def open_context(browser: Browser, plan: ContextPlan, folder: Path, *, proxy: ProxySettings | None = None,
                       with_page: bool = True) -> OpenContext:
    """A new context from `plan` writing its files under `folder`; its tracing started, and its page made when
    `with_page` (never with video: see the module docstring). PlaywrightError when the browser refuses."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    opened = OpenContext(browser=browser, plan=plan, folder=folder, context=await browser.new_context(
        **plan.emulation,
        record_video_dir=folder / VIDEO_FOLDER if plan.video else None,
        # Written when the context closes; the runner deletes it again if the run passes.
        record_har_path=folder / HAR_NAME,
        record_har_content="omit",
        proxy=proxy,
    ))
    try:
        if plan.tracing:
            await opened.context.tracing.start(screenshots=plan.full_trace, snapshots=plan.full_trace, sources=False)
        if with_page and not plan.video:
            opened.page = await opened.context.new_page()
    except BaseException:
        await opened.discard()
        raise
    return opened
