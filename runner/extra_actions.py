"""Replaying the native format's later steps (`runner.steps`: ModifierClick ... HandleDialog).

`StepExecutor._dispatch` hands every step it does not know to `dispatch_extra`, with the page and frame it
resolved; this module uses the executor's own helpers (`_element`, `_act`) so messages read as theirs do:
the selector tried, the timeout, and for assertions the expected and actual values. Failures name their
category (`runner.categories`) where the inference from the message would be wrong.

State kept per executor (`_State`): the one-shot dialog answer armed by `handleDialog`, and where named
screenshots go. `switchToPage` replaces the executor's `main_page`, the page every later step runs in;
`switchToFrame` only checks the iframe, since the native parser already chained later selectors into it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from weakref import WeakKeyDictionary

from playwright.async_api import Dialog, Frame, Page
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from contract.results import ArtifactFile
from contract.runs import FailureCategory
from runner.formats.steps import (
    AssertCount,
    AssertElement,
    AssertHidden,
    AssertTitle,
    DragAndDrop,
    HandleDialog,
    ModifierClick,
    Screenshot,
    ScrollIntoView,
    SelectorChain,
    SetChecked,
    Sleep,
    Step,
    SwitchToFrame,
    SwitchToPage,
    TextMatch,
    TypeText,
    Upload,
    WaitForFunction,
    WaitForLoadState,
    WaitForUrl,
    describe_selectors,
)
from runner.replay.errors import StepFailed
from runner.replay.locate import find_element, first_line, first_matching, is_closed_error, poll

if TYPE_CHECKING:
    from runner.actions import StepExecutor

_COMPARE: dict[str, Callable[[int, int], bool]] = {
    ">=": lambda found, wanted: found >= wanted,
    "==": lambda found, wanted: found == wanted,
    "<=": lambda found, wanted: found <= wanted,
}
_VERB = {"equals": "equal", "contains": "contain", "matches": "match"}


@dataclass
class _State:
    screenshot_dir: Path | None = None
    artifacts: list[ArtifactFile] | None = None
    captured: dict[str, bytes] = field(default_factory=dict)  # named screenshots when no folder is set
    armed_dialog: tuple[Page, Callable[[Dialog], Awaitable[None]]] | None = None


_STATES: WeakKeyDictionary[StepExecutor, _State] = WeakKeyDictionary()


def _state(executor: StepExecutor) -> _State:
    return _STATES.setdefault(executor, _State())


def keep_screenshots(executor: StepExecutor, directory: Path, artifacts: list[ArtifactFile]) -> None:
    """Write the `screenshot` steps' PNGs to `directory/screenshot-<name>.png` and list them in `artifacts`.
    Without this they are taken (so a missing element still fails the step) and kept in memory only."""
    state = _state(executor)
    state.screenshot_dir, state.artifacts = directory, artifacts


def captured_screenshots(executor: StepExecutor) -> dict[str, bytes]:
    """The named screenshots taken while no folder was set, by name."""
    return dict(_state(executor).captured)


def text_matches(actual: str, expected: str, mode: TextMatch) -> bool:
    if mode == "matches":
        return re.search(expected, actual) is not None
    return actual == expected if mode == "equals" else expected in actual


def _left_ms(deadline: float) -> int:
    return max(1, int((deadline - time.monotonic()) * 1000))


def _plural(selectors: tuple[SelectorChain, ...]) -> str:
    return f"{'selector' if len(selectors) == 1 else 'selectors'} {describe_selectors(selectors)}"


async def _refused(description: str, selector: str, action: Awaitable[Any]) -> None:
    """An action the browser refuses outright (not a checkbox, not a file input): the script is wrong."""
    try:
        await action
    except PlaywrightTimeoutError:
        raise
    except PlaywrightError as error:
        if is_closed_error(error):
            raise
        raise StepFailed(f'element matched selector "{selector}" but could not be {description}: '
                         f"{first_line(error)}", category=FailureCategory.SCRIPT_ERROR) from None


async def dispatch_extra(executor: StepExecutor, step: Step, page: Page, frame: Frame, timeout_ms: int,
                         deadline: float) -> str | None:
    """Replay one of this module's steps; StepFailed for a step type nothing replays."""
    match step:
        case ModifierClick():
            locator, selector = await executor._element(frame, step.selectors, timeout_ms, deadline)
            position = {"x": step.offset[0], "y": step.offset[1]} if step.offset else None
            await executor._act("clicked", selector, timeout_ms, locator.click(
                button=step.button, click_count=step.click_count, modifiers=list(step.modifiers),
                position=cast(Any, position), timeout=_left_ms(deadline)))
            return selector
        case TypeText():
            locator, selector = await executor._element(frame, step.selectors, timeout_ms, deadline)
            await executor._act("typed into", selector, timeout_ms, locator.press_sequentially(
                step.value, delay=step.delay_ms, timeout=_left_ms(deadline)))
            return selector
        case SetChecked():
            locator, selector = await executor._element(frame, step.selectors, timeout_ms, deadline)
            verb = "checked" if step.checked else "unchecked"
            await executor._act(verb, selector, timeout_ms, _refused(verb, selector, locator.set_checked(
                step.checked, timeout=_left_ms(deadline))))
            return selector
        case Upload():
            locator, selector = await executor._element(frame, step.selectors, timeout_ms, deadline, visible=False)
            files: Any = [{"name": file.name, "mimeType": file.mime_type, "buffer": file.content}
                          for file in step.files]
            await executor._act("given files", selector, timeout_ms, _refused(
                "given files", selector, locator.set_input_files(files, timeout=_left_ms(deadline))))
            return selector
        case ScrollIntoView():
            locator, selector = await executor._element(frame, step.selectors, timeout_ms, deadline, visible=False)
            await executor._act("scrolled into view", selector, timeout_ms,
                                locator.scroll_into_view_if_needed(timeout=_left_ms(deadline)))
            return selector
        case DragAndDrop():
            source, selector = await executor._element(frame, step.selectors, timeout_ms, deadline)
            target, target_selector = await executor._element(frame, step.target_selectors, timeout_ms, deadline)
            await executor._act(f'dragged onto "{target_selector}"', selector, timeout_ms,
                                source.drag_to(target, timeout=_left_ms(deadline)))
            return selector
        case WaitForUrl():
            await _wait_for_url(page, step, timeout_ms, deadline)
            return None
        case WaitForLoadState():
            try:
                await page.wait_for_load_state(step.state, timeout=_left_ms(deadline))
            except PlaywrightTimeoutError:
                raise StepFailed(f'the page did not reach load state "{step.state}" within {timeout_ms} ms '
                                 f"(it is at {page.url})", category=FailureCategory.TIMEOUT) from None
            return None
        case Sleep():
            await asyncio.sleep(step.ms / 1000)
            return None
        case WaitForFunction():
            target_frame = frame
            if step.frame_selectors:
                target_frame, _ = await _inner_frame(frame, (step.frame_selectors,), timeout_ms, deadline)
            await _wait_for_function(target_frame, step.expression, timeout_ms, deadline)
            return None
        case AssertHidden():
            await _assert_hidden(frame, step, timeout_ms, deadline)
            return None
        case AssertElement():
            return await _assert_element(executor, frame, step, timeout_ms, deadline)
        case AssertCount():
            return await _assert_count(frame, step, timeout_ms, deadline)
        case AssertTitle():
            await _assert_title(page, step, timeout_ms, deadline)
            return None
        case Screenshot():
            return await _screenshot(executor, page, frame, step, timeout_ms, deadline)
        case SwitchToFrame():
            if step.selectors is None:
                return None
            _, selector = await _inner_frame(frame, step.selectors, timeout_ms, deadline)
            return selector
        case SwitchToPage():
            await _switch_to_page(executor, step, timeout_ms, deadline)
            return None
        case HandleDialog():
            _arm_dialog(executor, page, step)
            return None
    raise StepFailed(f"the runner cannot replay steps of type {step.type!r}")


async def _inner_frame(frame: Frame, selectors: tuple[SelectorChain, ...], timeout_ms: int,
                       deadline: float) -> tuple[Frame, str]:
    match = await find_element(frame, selectors, _left_ms(deadline), report_timeout_ms=timeout_ms, state="attached")
    handle = await match.locator.element_handle(timeout=_left_ms(deadline))
    inner = await handle.content_frame()
    if inner is None:
        raise StepFailed(f'element matched selector "{match.selector}" but it is not an iframe',
                         category=FailureCategory.SELECTOR_NOT_FOUND)
    return inner, match.selector


async def _wait_for_function(frame: Frame, expression: str, timeout_ms: int, deadline: float) -> None:
    try:
        await frame.wait_for_function(expression, timeout=_left_ms(deadline), polling=100)
    except PlaywrightTimeoutError:
        raise StepFailed(f"expression {expression!r} was not truthy within {timeout_ms} ms",
                         category=FailureCategory.TIMEOUT) from None
    except PlaywrightError as error:
        if frame.page.is_closed() or is_closed_error(error):
            raise
        raise StepFailed(f"expression {expression!r} failed: {first_line(error)}",
                         category=FailureCategory.SCRIPT_ERROR) from None


async def _wait_for_url(page: Page, step: WaitForUrl, timeout_ms: int, deadline: float) -> None:
    async def check() -> bool | None:
        return True if text_matches(page.url, step.url, step.match) else None

    if await poll(check, _left_ms(deadline)) is None:
        raise StepFailed(f'expected the URL to {_VERB[step.match]} "{step.url}" but it was "{page.url}" '
                         f"(waited {timeout_ms} ms)",
                         category=FailureCategory.ASSERTION_FAILED if step.assertion else FailureCategory.TIMEOUT)


async def _assert_hidden(frame: Frame, step: AssertHidden, timeout_ms: int, deadline: float) -> None:
    seen = {"count": 0}

    async def hidden() -> bool | None:
        try:
            locator, _ = await first_matching(frame, step.selectors, visible=True)
            seen["count"] = await locator.count()
        except PlaywrightError as error:
            if is_closed_error(error):
                raise
            return None
        return True if seen["count"] == 0 else None

    if await poll(hidden, _left_ms(deadline)) is None:
        raise StepFailed(f"expected no visible element matching {_plural(step.selectors)} but {seen['count']} "
                         f"visible (waited {timeout_ms} ms)", category=FailureCategory.ASSERTION_FAILED)


def _normalise(text: str) -> str:
    return " ".join(text.split())


async def _assert_element(executor: StepExecutor, frame: Frame, step: AssertElement, timeout_ms: int,
                          deadline: float) -> str:
    locator, selector = await executor._element(frame, step.selectors, timeout_ms, deadline, visible=False)
    expected = _normalise(step.expected) if step.what == "text" and step.match != "matches" else step.expected
    seen: dict[str, str | None] = {}

    async def check() -> bool | None:
        wait = max(1, min(1000, _left_ms(deadline)))
        try:
            if step.what == "text":
                actual: str | None = _normalise(await locator.inner_text(timeout=wait))
            elif step.what == "value":
                actual = await locator.input_value(timeout=wait)
            else:
                actual = await locator.get_attribute(cast(str, step.name), timeout=wait)
        except PlaywrightError as error:
            if is_closed_error(error):
                raise
            seen["error"] = first_line(error)
            return None
        seen["actual"] = actual
        return True if actual is not None and text_matches(actual, expected, step.match) else None

    if await poll(check, _left_ms(deadline)) is None:
        what = f'attribute "{step.name}"' if step.what == "attribute" else step.what
        if "actual" not in seen:
            found = f"it could not be read ({seen.get('error')})"
        elif seen["actual"] is None:
            found = "the element has no such attribute"
        else:
            found = f'it was "{seen["actual"]}"'
        raise StepFailed(f'expected the {what} of "{selector}" to {_VERB[step.match]} "{expected}" but {found} '
                         f"(waited {timeout_ms} ms)", category=FailureCategory.ASSERTION_FAILED)
    return selector


async def _assert_count(frame: Frame, step: AssertCount, timeout_ms: int, deadline: float) -> str:
    seen = {"count": 0, "selector": ""}
    compare = _COMPARE[step.operator]

    async def check() -> str | None:
        try:
            locator, selector = await first_matching(frame, step.selectors)
            count = await locator.count()
        except PlaywrightError as error:
            if is_closed_error(error):
                raise
            return None
        seen.update(count=count, selector=selector)
        return selector if compare(count, step.count) else None

    matched = await poll(check, _left_ms(deadline))
    if matched is None:
        raise StepFailed(f"expected {step.operator} {step.count} element(s) matching {_plural(step.selectors)} "
                         f"but found {seen['count']} (waited {timeout_ms} ms)",
                         category=FailureCategory.ASSERTION_FAILED)
    return matched


async def _assert_title(page: Page, step: AssertTitle, timeout_ms: int, deadline: float) -> None:
    seen = {"title": ""}

    async def check() -> bool | None:
        try:
            seen["title"] = await page.title()
        except PlaywrightError as error:
            if is_closed_error(error):
                raise
            return None  # navigating
        return True if text_matches(seen["title"], step.text, step.match) else None

    if await poll(check, _left_ms(deadline)) is None:
        raise StepFailed(f'expected the title to {_VERB[step.match]} "{step.text}" but it was "{seen["title"]}" '
                         f"(waited {timeout_ms} ms)", category=FailureCategory.ASSERTION_FAILED)


async def _screenshot(executor: StepExecutor, page: Page, frame: Frame, step: Screenshot, timeout_ms: int,
                      deadline: float) -> str | None:
    state = _state(executor)
    path = state.screenshot_dir / f"screenshot-{step.name}.png" if state.screenshot_dir else None
    selector = None
    if step.selectors is not None:
        locator, selector = await executor._element(frame, step.selectors, timeout_ms, deadline)
        shot: Awaitable[bytes] = locator.screenshot(path=path, timeout=_left_ms(deadline))
    else:
        shot = page.screenshot(path=path, full_page=step.full_page, timeout=_left_ms(deadline))
    result: list[bytes] = []

    async def take() -> None:
        result.append(await shot)

    await executor._act("captured", selector or "page", timeout_ms, take())
    if path is None:
        state.captured[step.name] = result[0]
    elif state.artifacts is not None:
        state.artifacts.append(ArtifactFile(kind="screenshot", path=path, content_type="image/png",
                                            step_index=executor.step_index))
    return selector


async def _switch_to_page(executor: StepExecutor, step: SwitchToPage, timeout_ms: int, deadline: float) -> None:
    context = executor.context

    async def opened() -> Page | None:
        pages = [page for page in context.pages if not page.is_closed()]
        if step.index is not None:
            return pages[step.index] if step.index < len(pages) else None
        return next((page for page in pages if step.url_contains and step.url_contains in page.url), None)

    page = await poll(opened, _left_ms(deadline))
    if page is None:
        wanted = f"number {step.index}" if step.index is not None else f'whose URL contains "{step.url_contains}"'
        urls = ", ".join(page.url for page in context.pages) or "none"
        raise StepFailed(f"no page {wanted} opened within {timeout_ms} ms (open pages: {urls})",
                         category=FailureCategory.TIMEOUT)
    with suppress(PlaywrightError):
        await page.wait_for_load_state("domcontentloaded", timeout=_left_ms(deadline))
    await page.bring_to_front()
    executor.main_page = executor.last_page = page


def _arm_dialog(executor: StepExecutor, page: Page, step: HandleDialog) -> None:
    """Answer the next dialog of `page` once; later ones get Playwright's default again (dismissed)."""
    state = _state(executor)
    if state.armed_dialog is not None:  # a previous answer never used: this one replaces it
        armed_page, handler = state.armed_dialog
        armed_page.remove_listener("dialog", handler)

    async def answer(dialog: Dialog) -> None:
        state.armed_dialog = None
        with suppress(PlaywrightError):
            if not step.accept:
                await dialog.dismiss()
            elif step.prompt_text is not None:
                await dialog.accept(step.prompt_text)
            else:
                await dialog.accept()

    page.once("dialog", answer)
    state.armed_dialog = (page, answer)
