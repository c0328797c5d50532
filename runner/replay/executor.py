"""Replaying one step: the page and frame it runs in, the navigation it is expected to cause, and the handler
that does the rest (looked up by the step's class in the mapping it was given, `runner.replay.registry`).

A step that does not replay raises StepFailed with a message naming the selectors tried, the timeout, and for
assertions the expected and actual values; the runner prefixes it with `step N (type):`. Playwright errors
that mean the browser itself went away are left to the runner, which tells them apart by asking the browser
whether it is still connected.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from playwright.async_api import Frame, Page
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from runner.formats.steps import Step
from runner.replay.context import Handler, StepContext, left_ms
from runner.replay.errors import StepFailed
from runner.replay.locate import error_reason, poll


class StepExecutor:
    """Runs steps with the handlers of `handlers`; holds no state of its own, so one serves every replay."""

    def __init__(self, handlers: Mapping[type[Step], Handler]) -> None:
        self._handlers = handlers

    async def execute(self, ctx: StepContext, step: Step, timeout_ms: int) -> str | None:
        """Replay one step; returns the selector that matched (for element steps), else None."""
        deadline = time.monotonic() + timeout_ms / 1000
        # A safety net: no Playwright call of this step waits longer than the step may.
        ctx.context.set_default_timeout(timeout_ms)
        page = await _page_for(ctx, step, timeout_ms)
        ctx.last_page = page
        frame = await _frame_for(page, step, timeout_ms, deadline)
        try:
            if step.expect_navigation is None:
                return await self._dispatch(ctx, step, page, frame, timeout_ms, deadline)
            async with _navigation(page, step.expect_navigation, timeout_ms):
                return await self._dispatch(ctx, step, page, frame, timeout_ms, deadline)
        except PlaywrightTimeoutError as error:
            raise StepFailed(f"timed out after {timeout_ms} ms: {error_reason(error)}") from None

    async def _dispatch(self, ctx: StepContext, step: Step, page: Page, frame: Frame, timeout_ms: int,
                        deadline: float) -> str | None:
        handler = self._handlers.get(type(step))
        if handler is None:
            raise StepFailed(f"the runner cannot replay steps of type {step.type!r}")
        return await handler(ctx, step, page, frame, timeout_ms, deadline)


@asynccontextmanager
async def _navigation(page: Page, url: str, timeout_ms: int) -> AsyncIterator[None]:
    """Wait for the step to cause a navigation. As @puppeteer/replay does, any navigation will do: the
    recorded URL (`url`, maybe "") is named in the message, not compared, since a replay on another
    host or a redirect would otherwise fail a recording that did what it should."""
    try:
        async with page.expect_navigation(timeout=timeout_ms):
            yield
    except PlaywrightTimeoutError:
        where = f" to {url}" if url else ""
        raise StepFailed(f"expected a navigation{where} within {timeout_ms} ms, but none happened "
                         f"(the page is at {page.url})") from None


async def _page_for(ctx: StepContext, step: Step, timeout_ms: int) -> Page:
    if step.target is None:
        if ctx.main_page.is_closed():
            raise StepFailed("the page is closed (an earlier step closed it)")
        return ctx.main_page
    target = step.target

    async def opened() -> Page | None:
        return next((page for page in ctx.context.pages if page.url == target), None)

    page = await poll(opened, timeout_ms)
    if page is None:
        raise StepFailed(f"no page with URL {target} opened within {timeout_ms} ms")
    return page


async def _frame_for(page: Page, step: Step, timeout_ms: int, deadline: float) -> Frame:
    if not step.frame:
        return page.main_frame

    async def found() -> Frame | None:
        frame = page.main_frame
        for index in step.frame:
            children = frame.child_frames
            if index >= len(children):
                return None
            frame = children[index]
        return frame

    frame = await poll(found, left_ms(deadline))
    if frame is None:
        raise StepFailed(f"frame {list(step.frame)} not found within {timeout_ms} ms")
    return frame
