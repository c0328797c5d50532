"""Replaying one step in a browser context: what each step type does, and how it fails.

Every step gets one timeout (its own `timeout`, else the recording's, else the run's default) that covers
finding its element and acting on it. A step that does not replay raises StepFailed with a message
naming the selectors tried, the timeout, and for assertions the expected and actual values; the runner
prefixes it with `step N (type):`. Playwright errors that mean the browser itself went away are left to
the runner, which tells them apart by asking the browser whether it is still connected.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from playwright.async_api import BrowserContext, CDPSession, Frame, Locator, Page
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from contract.runs import FailureCategory
from runner.extra_actions import dispatch_extra
from runner.formats.steps import (
    AssertText,
    AssertUrl,
    AssertVisible,
    Click,
    ClosePage,
    EmulateNetwork,
    Fill,
    Hover,
    KeyDown,
    KeyUp,
    MatchMode,
    Navigate,
    Press,
    Scroll,
    SelectOption,
    Selectors,
    SetViewport,
    Step,
    WaitForElement,
    WaitForExpression,
    WaitForState,
    describe_selectors,
)
from runner.replay.errors import StepFailed
from runner.replay.locate import API_PREFIX, find_element, first_line, first_matching, is_closed_error, poll

_DEEP_MATCH_JS = """(elements, [attributes, properties]) => {
  const isDeepMatch = (a, b) => {
    if (a === b) return true;
    if ((a && !b) || (!a && b)) return false;
    if (!(a instanceof Object) || !(b instanceof Object)) return false;
    for (const [key, value] of Object.entries(a)) {
      if (!isDeepMatch(value, b[key])) return false;
    }
    return true;
  };
  for (const element of elements) {
    for (const [name, value] of Object.entries(attributes || {})) {
      if (element.getAttribute(name) !== value) return false;
    }
    if (properties && !isDeepMatch(properties, element)) return false;
  }
  return true;
}"""

# What `change`/`fill` does with an element, as @puppeteer/replay's `Locator.fill` decides it.
_FILL_KIND_JS = """element => {
  if (element instanceof HTMLSelectElement) return 'select';
  if (element instanceof HTMLTextAreaElement) return 'typeable';
  if (element instanceof HTMLInputElement) {
    if (element.type === 'checkbox' || element.type === 'radio') return 'checkable';
    return ['text', 'url', 'tel', 'search', 'password', 'number', 'email'].includes(element.type)
      ? 'typeable' : 'other-input';
  }
  if (['checkbox', 'radio', 'switch'].includes(element.getAttribute('role'))) return 'checkable';
  if (element.isContentEditable) return 'typeable';
  return 'unknown';
}"""

# Checked state of a checkbox, radio or switch: true, false, or "mixed".
_CHECKED_JS = """element => (element.indeterminate || element.getAttribute('aria-checked') === 'mixed') ? 'mixed'
  : Boolean(element.checked || element.getAttribute('aria-checked') === 'true')"""

_SET_VALUE_JS = """(element, value) => {
  element.focus();
  if (element.value === value) return;
  element.value = value;
  element.dispatchEvent(new Event('input', { bubbles: true }));
  element.dispatchEvent(new Event('change', { bubbles: true }));
}"""

_COMPARE = {
    ">=": lambda found, wanted: found >= wanted,
    "==": lambda found, wanted: found == wanted,
    "<=": lambda found, wanted: found <= wanted,
}


def _reason(error: PlaywrightError) -> str:
    """The most telling line of a Playwright error: the last line of its call log, else its first line."""
    lines = [line.strip(" -") for line in str(error).splitlines() if line.strip(" -")]
    if "Call log:" in lines:
        log_lines = lines[lines.index("Call log:") + 1:]
        if log_lines:
            return re.sub(r"^\d+ \N{MULTIPLICATION SIGN} ", "", log_lines[-1])
    return API_PREFIX.sub("", lines[0]) if lines else type(error).__name__


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _matches(actual: str, expected: str, mode: MatchMode) -> bool:
    return actual == expected if mode == "equals" else expected in actual


class StepExecutor:
    """Runs steps against one browser context whose first page is the run's main page."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.context = context
        self.main_page = page
        self._cdp_sessions: list[CDPSession] = []  # kept alive for the context's lifetime
        self.last_page: Page = page  # where the last step ran, for the failure screenshot
        self.step_index: int | None = None  # set by the runner: artifacts a step makes are filed under it

    async def execute(self, step: Step, timeout_ms: int) -> str | None:
        """Replay one step; returns the selector that matched (for element steps), else None."""
        deadline = time.monotonic() + timeout_ms / 1000
        # A safety net: no Playwright call of this step waits longer than the step may.
        self.context.set_default_timeout(timeout_ms)
        page = await self._page_for(step, timeout_ms)
        self.last_page = page
        frame = await self._frame_for(page, step, timeout_ms, deadline)
        try:
            if step.expect_navigation is None:
                return await self._dispatch(step, page, frame, timeout_ms, deadline)
            async with self._navigation(page, step.expect_navigation, timeout_ms):
                return await self._dispatch(step, page, frame, timeout_ms, deadline)
        except PlaywrightTimeoutError as error:
            raise StepFailed(f"timed out after {timeout_ms} ms: {_reason(error)}") from None

    @asynccontextmanager
    async def _navigation(self, page: Page, url: str, timeout_ms: int) -> AsyncIterator[None]:
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

    async def _page_for(self, step: Step, timeout_ms: int) -> Page:
        if step.target is None:
            if self.main_page.is_closed():
                raise StepFailed("the page is closed (an earlier step closed it)")
            return self.main_page
        target = step.target

        async def opened() -> Page | None:
            return next((page for page in self.context.pages if page.url == target), None)

        page = await poll(opened, timeout_ms)
        if page is None:
            raise StepFailed(f"no page with URL {target} opened within {timeout_ms} ms")
        return page

    async def _frame_for(self, page: Page, step: Step, timeout_ms: int, deadline: float) -> Frame:
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

        frame = await poll(found, _left_ms(deadline))
        if frame is None:
            raise StepFailed(f"frame {list(step.frame)} not found within {timeout_ms} ms")
        return frame

    async def _element(self, frame: Frame, selectors: Selectors, timeout_ms: int, deadline: float, *,
                       visible: bool = True) -> tuple[Locator, str]:
        match = await find_element(frame, selectors, _left_ms(deadline), report_timeout_ms=timeout_ms,
                                   state="visible" if visible else "attached")
        return match.locator, match.selector

    async def _act(self, description: str, selector: str, timeout_ms: int, action: Any) -> None:
        """Await a Playwright action on a found element, explaining a timeout (not actionable in time)."""
        try:
            await action
        except PlaywrightTimeoutError as error:
            raise StepFailed(f'element matched selector "{selector}" but could not be {description} within '
                             f"{timeout_ms} ms: {_reason(error)}") from None

    async def _dispatch(self, step: Step, page: Page, frame: Frame, timeout_ms: int, deadline: float) -> str | None:
        match step:
            case Navigate():
                await self._navigate(frame, step, timeout_ms)
                return None
            case Click():
                locator, selector = await self._element(frame, step.selectors, timeout_ms, deadline)
                position = {"x": step.offset[0], "y": step.offset[1]} if step.offset else None
                await self._act("clicked", selector, timeout_ms, locator.click(
                    button=step.button, click_count=step.click_count, delay=step.delay_ms,
                    position=cast(Any, position), timeout=_left_ms(deadline)))
                return selector
            case Hover():
                locator, selector = await self._element(frame, step.selectors, timeout_ms, deadline)
                await self._act("hovered", selector, timeout_ms, locator.hover(timeout=_left_ms(deadline)))
                return selector
            case Fill():
                locator, selector = await self._element(frame, step.selectors, timeout_ms, deadline)
                await self._fill(locator, selector, step.value, timeout_ms, deadline)
                return selector
            case SelectOption():
                locator, selector = await self._element(frame, step.selectors, timeout_ms, deadline)
                await self._act(f"set to option {step.value!r}", selector, timeout_ms,
                                locator.select_option(step.value, timeout=_left_ms(deadline)))
                return selector
            case KeyDown():
                await _keyboard(page.keyboard.down(step.key), step.key)
                return None
            case KeyUp():
                await _keyboard(page.keyboard.up(step.key), step.key)
                return None
            case Press():
                if step.selectors is None:
                    await _keyboard(page.keyboard.press(step.key), step.key)
                    return None
                locator, selector = await self._element(frame, step.selectors, timeout_ms, deadline)
                await self._act(f"sent key {step.key!r}", selector, timeout_ms,
                                _keyboard(locator.press(step.key, timeout=_left_ms(deadline)), step.key))
                return selector
            case WaitForElement():
                return await self._wait_for_element(frame, step, timeout_ms, deadline)
            case WaitForState():
                return await self._wait_for_state(frame, step, timeout_ms, deadline)
            case WaitForExpression():
                await self._wait_for_expression(frame, step.expression, timeout_ms, deadline)
                return None
            case SetViewport():
                await page.set_viewport_size({"width": step.viewport.width, "height": step.viewport.height})
                return None
            case Scroll():
                return await self._scroll(frame, step, timeout_ms, deadline)
            case ClosePage():
                await page.close()
                return None
            case EmulateNetwork():
                await self._emulate_network(page, step)
                return None
            case AssertText():
                return await self._assert_text(frame, step, timeout_ms, deadline)
            case AssertVisible():
                _, selector = await self._element(frame, step.selectors, timeout_ms, deadline)
                return selector
            case AssertUrl():
                await self._assert_url(page, step, timeout_ms, deadline)
                return None
        return await dispatch_extra(self, step, page, frame, timeout_ms, deadline)

    async def _navigate(self, frame: Frame, step: Navigate, timeout_ms: int) -> None:
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

    async def _fill(self, locator: Locator, selector: str, value: str, timeout_ms: int, deadline: float) -> None:
        """As @puppeteer/replay's `change`: a <select> picks the option, a checkbox, radio or switch is clicked
        when its checked state differs from the value's truthiness (any non-empty value checks it), text
        fields and contenteditable elements are filled, other inputs (range, color, date, ...) get the value
        set with input and change events, and any other element cannot be filled."""
        kind = await locator.evaluate(_FILL_KIND_JS)
        if kind == "select":
            await self._act(f"set to option {value!r}", selector, timeout_ms,
                            locator.select_option(value, timeout=_left_ms(deadline)))
        elif kind == "checkable":
            if await locator.evaluate(_CHECKED_JS) != bool(value):
                await self._act("clicked", selector, timeout_ms, locator.click(timeout=_left_ms(deadline)))
        elif kind == "typeable":
            await self._act("filled", selector, timeout_ms, locator.fill(value, timeout=_left_ms(deadline)))
        elif kind == "other-input":
            await locator.evaluate(_SET_VALUE_JS, value)
        else:
            tag = await locator.evaluate("element => element.localName")
            raise StepFailed(f'element matched selector "{selector}" is a <{tag}>, which cannot be filled (expected '
                             "an input, textarea, select or contenteditable element)",
                             category=FailureCategory.SCRIPT_ERROR)

    async def _wait_for_element(self, frame: Frame, step: WaitForElement, timeout_ms: int, deadline: float) -> str:
        seen = {"count": 0, "selector": ""}
        compare = _COMPARE[step.operator]

        async def check() -> str | None:
            try:
                locator, selector = await first_matching(frame, step.selectors, visible=True)
                count = await locator.count()
                holds = compare(count, step.count)
                if holds and (step.attributes or step.properties):
                    holds = bool(await locator.evaluate_all(_DEEP_MATCH_JS, [step.attributes, step.properties]))
            except PlaywrightError as error:
                if is_closed_error(error):
                    raise
                return None  # navigating; ask again
            seen.update(count=count, selector=selector)
            return selector if holds == step.visible else None

        matched = await poll(check, _left_ms(deadline))
        if matched is None:
            plural = "selector" if len(step.selectors) == 1 else "selectors"
            condition = (f"{step.operator} {step.count} visible element(s) matching {plural} "
                         f"{describe_selectors(step.selectors)}")
            extra = []
            if step.attributes:
                extra.append(f"attributes {step.attributes}")
            if step.properties:
                extra.append(f"properties {step.properties}")
            if extra:
                condition += f" with {' and '.join(extra)}"
            if step.visible:
                raise StepFailed(f"expected {condition} within {timeout_ms} ms, found {seen['count']}")
            raise StepFailed(f"expected the opposite of {condition} (visible: false) within {timeout_ms} ms, "
                             f"found {seen['count']}")
        return matched

    async def _wait_for_state(self, frame: Frame, step: WaitForState, timeout_ms: int, deadline: float) -> str | None:
        if step.state in ("visible", "attached"):
            visible = step.state == "visible"
            _, selector = await self._element(frame, step.selectors, timeout_ms, deadline, visible=visible)
            return selector

        async def gone() -> bool | None:
            try:
                locator, _ = await first_matching(frame, step.selectors, visible=step.state == "hidden")
                return True if await locator.count() == 0 else None
            except PlaywrightError as error:
                if is_closed_error(error):
                    raise
                return None

        if await poll(gone, _left_ms(deadline)) is None:
            plural = "selector" if len(step.selectors) == 1 else "selectors"
            raise StepFailed(f"an element matching {plural} {describe_selectors(step.selectors)} was still "
                             f"{'visible' if step.state == 'hidden' else 'attached'} after {timeout_ms} ms")
        return None

    async def _wait_for_expression(self, frame: Frame, expression: str, timeout_ms: int, deadline: float) -> None:
        try:
            await frame.wait_for_function(expression, timeout=_left_ms(deadline), polling=100)
        except PlaywrightTimeoutError:
            raise StepFailed(f"expression {expression!r} was not truthy within {timeout_ms} ms") from None
        except PlaywrightError as error:
            if frame.page.is_closed() or is_closed_error(error):
                raise
            raise StepFailed(f"expression {expression!r} failed: {first_line(error)}") from None

    async def _scroll(self, frame: Frame, step: Scroll, timeout_ms: int, deadline: float) -> str | None:
        if step.selectors is None:
            await frame.evaluate("([x, y]) => window.scroll(x, y)", [step.x, step.y])
            return None
        match = await find_element(frame, step.selectors, _left_ms(deadline), report_timeout_ms=timeout_ms,
                                   state="attached")
        await match.locator.evaluate("(e, [x, y]) => { e.scrollLeft = x; e.scrollTop = y; }", [step.x, step.y])
        return match.selector

    async def _emulate_network(self, page: Page, step: EmulateNetwork) -> None:
        session = await self.context.new_cdp_session(page)
        self._cdp_sessions.append(session)
        await session.send("Network.enable")
        await session.send("Network.emulateNetworkConditions", {
            "offline": not step.download and not step.upload,
            "latency": step.latency,
            "downloadThroughput": step.download,
            "uploadThroughput": step.upload,
        })

    async def _assert_text(self, frame: Frame, step: AssertText, timeout_ms: int, deadline: float) -> str:
        locator, selector = await self._element(frame, step.selectors, timeout_ms, deadline, visible=False)
        expected = _normalise(step.text)
        seen: dict[str, str | None] = {"actual": None}

        async def check() -> bool | None:
            try:
                actual = _normalise(await locator.inner_text(timeout=max(1, min(1000, _left_ms(deadline)))))
            except PlaywrightError as error:
                if is_closed_error(error):
                    raise
                return None
            seen["actual"] = actual
            return True if _matches(actual, expected, step.match) else None

        if await poll(check, _left_ms(deadline)) is None:
            verb = "equal" if step.match == "equals" else "contain"
            actual = seen["actual"]
            found = f'it was "{actual}"' if actual is not None else "the element was gone"
            raise StepFailed(f'expected the text of "{selector}" to {verb} "{expected}" but {found} '
                             f"(waited {timeout_ms} ms)")
        return selector

    async def _assert_url(self, page: Page, step: AssertUrl, timeout_ms: int, deadline: float) -> None:
        async def check() -> bool | None:
            return True if _matches(page.url, step.url, step.match) else None

        if await poll(check, _left_ms(deadline)) is None:
            verb = "equal" if step.match == "equals" else "contain"
            raise StepFailed(f'expected the URL to {verb} "{step.url}" but it was "{page.url}" '
                             f"(waited {timeout_ms} ms)")


async def _keyboard(action: Any, key: str) -> None:
    try:
        await action
    except PlaywrightTimeoutError:
        raise
    except PlaywrightError as error:
        if "Unknown key" in str(error):
            raise StepFailed(f"unknown key {key!r}") from None
        raise


def _left_ms(deadline: float) -> int:
    """Milliseconds until `deadline`, at least 1 (Playwright reads 0 as no timeout)."""
    return max(1, int((deadline - time.monotonic()) * 1000))

