"""Steps about pages rather than their elements: load a URL, resize, close, emulate the network, switch to
another page or frame, answer the next dialog, take a named screenshot.

`switchToPage` replaces the context's `main_page`, the page every later step runs in; `switchToFrame` only
checks the iframe, since the native parser already chained later selectors into it. `handleDialog` arms a
one-shot answer on the page (`StepContext.armed_dialog`). A named `screenshot` goes to the context's
screenshot folder, filed under the step that took it, or stays in memory (`StepContext.captured`); one with
`compare: true` is compared with its baseline (`runner.replay.handlers.visual`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from contextlib import suppress
from types import MappingProxyType

from playwright.async_api import Dialog, Frame, Page
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from contract.results import ArtifactFile
from contract.runs import FailureCategory
from runner.formats.steps import (
    ClosePage,
    EmulateNetwork,
    HandleDialog,
    Navigate,
    Screenshot,
    SetViewport,
    Step,
    SwitchToFrame,
    SwitchToPage,
)
from runner.replay.concealment import mask_locators
from runner.replay.context import Handler, StepContext, inner_frame, left_ms
from runner.replay.errors import StepFailed
from runner.replay.handlers.visual import NO_RECORDING, compared_screenshot
from runner.replay.locate import first_line, is_closed_error, poll


async def navigate(ctx: StepContext, step: Navigate, page: Page, frame: Frame, timeout_ms: int,
                   deadline: float) -> str | None:
    try:
        response = await frame.goto(step.url, timeout=timeout_ms)
    except PlaywrightTimeoutError:
        raise StepFailed(f"navigation to {step.url} did not finish loading within {timeout_ms} ms") from None
    except PlaywrightError as error:
        if frame.page.is_closed() or is_closed_error(error):
            raise
        raise StepFailed(f"navigation to {step.url} failed: {first_line(error)}") from None
    if response is not None and response.status >= 400:
        status = f"{response.status} {response.status_text}".strip()
        raise StepFailed(f"navigation to {step.url} answered HTTP {status}")
    return None


async def set_viewport(ctx: StepContext, step: SetViewport, page: Page, frame: Frame, timeout_ms: int,
                       deadline: float) -> str | None:
    await page.set_viewport_size({"width": step.viewport.width, "height": step.viewport.height})
    return None


async def close_page(ctx: StepContext, step: ClosePage, page: Page, frame: Frame, timeout_ms: int,
                     deadline: float) -> str | None:
    await page.close()
    return None


async def emulate_network(ctx: StepContext, step: EmulateNetwork, page: Page, frame: Frame, timeout_ms: int,
                          deadline: float) -> str | None:
    session = await ctx.context.new_cdp_session(page)
    ctx.cdp_sessions.append(session)
    await session.send("Network.enable")
    await session.send("Network.emulateNetworkConditions", {
        "offline": not step.download and not step.upload,
        "latency": step.latency,
        "downloadThroughput": step.download,
        "uploadThroughput": step.upload,
    })
    return None


async def switch_to_frame(ctx: StepContext, step: SwitchToFrame, page: Page, frame: Frame, timeout_ms: int,
                          deadline: float) -> str | None:
    if step.selectors is None:
        return None
    _, selector = await inner_frame(frame, step.selectors, timeout_ms, deadline)
    return selector


async def switch_to_page(ctx: StepContext, step: SwitchToPage, page: Page, frame: Frame, timeout_ms: int,
                         deadline: float) -> str | None:
    context = ctx.context

    async def opened() -> Page | None:
        pages = [page for page in context.pages if not page.is_closed()]
        if step.index is not None:
            return pages[step.index] if step.index < len(pages) else None
        return next((page for page in pages if step.url_contains and step.url_contains in page.url), None)

    found = await poll(opened, left_ms(deadline))
    if found is None:
        wanted = f"number {step.index}" if step.index is not None else f'whose URL contains "{step.url_contains}"'
        urls = ", ".join(page.url for page in context.pages) or "none"
        raise StepFailed(f"no page {wanted} opened within {timeout_ms} ms (open pages: {urls})",
                         category=FailureCategory.TIMEOUT)
    with suppress(PlaywrightError):
        await found.wait_for_load_state("domcontentloaded", timeout=left_ms(deadline))
    await found.bring_to_front()
    ctx.main_page = ctx.last_page = found
    return None


async def handle_dialog(ctx: StepContext, step: HandleDialog, page: Page, frame: Frame, timeout_ms: int,
                        deadline: float) -> str | None:
    """Answer the next dialog of `page` once; later ones get Playwright's default again (dismissed)."""
    if ctx.armed_dialog is not None:  # a previous answer never used: this one replaces it
        armed_page, handler = ctx.armed_dialog
        armed_page.remove_listener("dialog", handler)

    async def answer(dialog: Dialog) -> None:
        ctx.armed_dialog = None
        with suppress(PlaywrightError):
            if not step.accept:
                await dialog.dismiss()
            elif step.prompt_text is not None:
                await dialog.accept(step.prompt_text)
            else:
                await dialog.accept()

    page.once("dialog", answer)
    ctx.armed_dialog = (page, answer)
    return None


async def screenshot(ctx: StepContext, step: Screenshot, page: Page, frame: Frame, timeout_ms: int,
                     deadline: float) -> str | None:
    if step.compare:
        if ctx.visual is not None and ctx.visual.recording:
            return await compared_screenshot(ctx, step, page, frame, timeout_ms, deadline)
        ctx.warn(NO_RECORDING)
    path = ctx.screenshot_dir / f"screenshot-{step.name}.png" if ctx.screenshot_dir else None
    selector = None
    if step.selectors is not None:
        locator, selector = await ctx.element(frame, step.selectors, timeout_ms, deadline)
        shot: Awaitable[bytes] = locator.screenshot(path=path, timeout=left_ms(deadline),
                                                    mask=mask_locators(page, ctx.mask_selectors))
    else:
        shot = page.screenshot(path=path, full_page=step.full_page, timeout=left_ms(deadline),
                               mask=mask_locators(page, ctx.mask_selectors))
    result: list[bytes] = []

    async def take() -> None:
        result.append(await shot)

    await ctx.act("captured", selector or "page", timeout_ms, take())
    if path is None:
        ctx.captured[step.name] = result[0]
    elif ctx.artifacts is not None:
        ctx.artifacts.append(ArtifactFile(kind="screenshot", path=path, content_type="image/png",
                                          step_index=ctx.step_index))
    return selector


HANDLERS: Mapping[type[Step], Handler] = MappingProxyType({
    Navigate: navigate,
    SetViewport: set_viewport,
    ClosePage: close_page,
    EmulateNetwork: emulate_network,
    SwitchToFrame: switch_to_frame,
    SwitchToPage: switch_to_page,
    HandleDialog: handle_dialog,
    Screenshot: screenshot,
})
