"""Steps that wait for the page: elements to appear, change state or be counted (Recorder `waitForElement`,
native `waitForSelector`), a JavaScript expression to hold, the URL or load state to be reached, or time.

Waits poll until their condition holds or the step's timeout ends; a wait that ends unmet is a `timeout`
(or, for a Recorder `waitForElement` that checks a count, attributes or properties, an `assertion_failed`:
see `runner.replay.categories`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import MappingProxyType

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, Page
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from contract.runs import FailureCategory
from runner.formats.steps import (
    Sleep,
    Step,
    WaitForElement,
    WaitForExpression,
    WaitForFunction,
    WaitForLoadState,
    WaitForState,
    WaitForUrl,
    describe_selectors,
)
from runner.replay.context import Handler, StepContext, inner_frame, left_ms
from runner.replay.errors import StepFailed
from runner.replay.handlers.matching import COMPARE, VERB, text_matches
from runner.replay.locate import first_line, first_matching, is_closed_error, poll

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


async def wait_for_element(ctx: StepContext, step: WaitForElement, page: Page, frame: Frame, timeout_ms: int,
                           deadline: float) -> str | None:
    seen = {"count": 0, "selector": ""}
    compare = COMPARE[step.operator]

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

    matched = await poll(check, left_ms(deadline))
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


async def wait_for_state(ctx: StepContext, step: WaitForState, page: Page, frame: Frame, timeout_ms: int,
                         deadline: float) -> str | None:
    if step.state in ("visible", "attached"):
        _, selector = await ctx.element(frame, step.selectors, timeout_ms, deadline, visible=step.state == "visible")
        return selector

    async def gone() -> bool | None:
        try:
            locator, _ = await first_matching(frame, step.selectors, visible=step.state == "hidden")
            return True if await locator.count() == 0 else None
        except PlaywrightError as error:
            if is_closed_error(error):
                raise
            return None

    if await poll(gone, left_ms(deadline)) is None:
        plural = "selector" if len(step.selectors) == 1 else "selectors"
        raise StepFailed(f"an element matching {plural} {describe_selectors(step.selectors)} was still "
                         f"{'visible' if step.state == 'hidden' else 'attached'} after {timeout_ms} ms")
    return None


async def _wait_for_function(frame: Frame, expression: str, timeout_ms: int, deadline: float) -> None:
    try:
        await frame.wait_for_function(expression, timeout=left_ms(deadline), polling=100)
    except PlaywrightTimeoutError:
        raise StepFailed(f"expression {expression!r} was not truthy within {timeout_ms} ms",
                         category=FailureCategory.TIMEOUT) from None
    except PlaywrightError as error:
        if frame.page.is_closed() or is_closed_error(error):
            raise
        raise StepFailed(f"expression {expression!r} failed: {first_line(error)}",
                         category=FailureCategory.SCRIPT_ERROR) from None


async def wait_for_expression(ctx: StepContext, step: WaitForExpression, page: Page, frame: Frame,
                              timeout_ms: int, deadline: float) -> str | None:
    await _wait_for_function(frame, step.expression, timeout_ms, deadline)
    return None


async def wait_for_function(ctx: StepContext, step: WaitForFunction, page: Page, frame: Frame, timeout_ms: int,
                            deadline: float) -> str | None:
    target_frame = frame
    if step.frame_selectors:
        target_frame, _ = await inner_frame(frame, (step.frame_selectors,), timeout_ms, deadline)
    await _wait_for_function(target_frame, step.expression, timeout_ms, deadline)
    return None


async def wait_for_url(ctx: StepContext, step: WaitForUrl, page: Page, frame: Frame, timeout_ms: int,
                       deadline: float) -> str | None:
    async def check() -> bool | None:
        return True if text_matches(page.url, step.url, step.match) else None

    if await poll(check, left_ms(deadline)) is None:
        raise StepFailed(f'expected the URL to {VERB[step.match]} "{step.url}" but it was "{page.url}" '
                         f"(waited {timeout_ms} ms)",
                         category=FailureCategory.ASSERTION_FAILED if step.assertion else FailureCategory.TIMEOUT)
    return None


async def wait_for_load_state(ctx: StepContext, step: WaitForLoadState, page: Page, frame: Frame,
                              timeout_ms: int, deadline: float) -> str | None:
    try:
        await page.wait_for_load_state(step.state, timeout=left_ms(deadline))
    except PlaywrightTimeoutError:
        raise StepFailed(f'the page did not reach load state "{step.state}" within {timeout_ms} ms '
                         f"(it is at {page.url})", category=FailureCategory.TIMEOUT) from None
    return None


async def sleep(ctx: StepContext, step: Sleep, page: Page, frame: Frame, timeout_ms: int,
                deadline: float) -> str | None:
    await asyncio.sleep(step.ms / 1000)
    return None


HANDLERS: Mapping[type[Step], Handler] = MappingProxyType({
    WaitForElement: wait_for_element,
    WaitForState: wait_for_state,
    WaitForExpression: wait_for_expression,
    WaitForFunction: wait_for_function,
    WaitForUrl: wait_for_url,
    WaitForLoadState: wait_for_load_state,
    Sleep: sleep,
})
