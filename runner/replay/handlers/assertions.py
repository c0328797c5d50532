"""Steps that check the page: an element's text, value or attribute, that elements are visible, hidden or
counted, the URL and the title.

Assertions retry until they hold or the step's timeout ends, as waits do; a mismatch names the expected and
the actual value (`assertion_failed`), an element that never appeared is `selector_not_found`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import cast

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, Page

from contract.runs import FailureCategory
from runner.formats.steps import (
    AssertCount,
    AssertElement,
    AssertHidden,
    AssertText,
    AssertTitle,
    AssertUrl,
    AssertVisible,
    Step,
)
from runner.replay.context import Handler, StepContext, left_ms, normalise
from runner.replay.errors import StepFailed
from runner.replay.handlers.matching import COMPARE, VERB, plural, text_matches
from runner.replay.locate import first_line, first_matching, is_closed_error, poll


def _read_wait_ms(deadline: float) -> int:
    """How long one read of an element waits: at most a second, so a check is asked again soon."""
    return max(1, min(1000, left_ms(deadline)))


async def assert_text(ctx: StepContext, step: AssertText, page: Page, frame: Frame, timeout_ms: int,
                      deadline: float) -> str | None:
    locator, selector = await ctx.element(frame, step.selectors, timeout_ms, deadline, visible=False)
    expected = normalise(step.text)
    seen: dict[str, str | None] = {"actual": None}

    async def check() -> bool | None:
        try:
            actual = normalise(await locator.inner_text(timeout=_read_wait_ms(deadline)))
        except PlaywrightError as error:
            if is_closed_error(error):
                raise
            return None
        seen["actual"] = actual
        return True if text_matches(actual, expected, step.match) else None

    if await poll(check, left_ms(deadline)) is None:
        actual = seen["actual"]
        found = f'it was "{actual}"' if actual is not None else "the element was gone"
        raise StepFailed(f'expected the text of "{selector}" to {VERB[step.match]} "{expected}" but {found} '
                         f"(waited {timeout_ms} ms)")
    return selector


async def assert_visible(ctx: StepContext, step: AssertVisible, page: Page, frame: Frame, timeout_ms: int,
                         deadline: float) -> str | None:
    _, selector = await ctx.element(frame, step.selectors, timeout_ms, deadline)
    return selector


async def assert_hidden(ctx: StepContext, step: AssertHidden, page: Page, frame: Frame, timeout_ms: int,
                        deadline: float) -> str | None:
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

    if await poll(hidden, left_ms(deadline)) is None:
        raise StepFailed(f"expected no visible element matching {plural(step.selectors)} but {seen['count']} "
                         f"visible (waited {timeout_ms} ms)", category=FailureCategory.ASSERTION_FAILED)
    return None


async def assert_element(ctx: StepContext, step: AssertElement, page: Page, frame: Frame, timeout_ms: int,
                         deadline: float) -> str | None:
    locator, selector = await ctx.element(frame, step.selectors, timeout_ms, deadline, visible=False)
    expected = normalise(step.expected) if step.what == "text" and step.match != "matches" else step.expected
    seen: dict[str, str | None] = {}

    async def check() -> bool | None:
        wait = _read_wait_ms(deadline)
        try:
            if step.what == "text":
                actual: str | None = normalise(await locator.inner_text(timeout=wait))
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

    if await poll(check, left_ms(deadline)) is None:
        what = f'attribute "{step.name}"' if step.what == "attribute" else step.what
        if "actual" not in seen:
            found = f"it could not be read ({seen.get('error')})"
        elif seen["actual"] is None:
            found = "the element has no such attribute"
        else:
            found = f'it was "{seen["actual"]}"'
        raise StepFailed(f'expected the {what} of "{selector}" to {VERB[step.match]} "{expected}" but {found} '
                         f"(waited {timeout_ms} ms)", category=FailureCategory.ASSERTION_FAILED)
    return selector


async def assert_count(ctx: StepContext, step: AssertCount, page: Page, frame: Frame, timeout_ms: int,
                       deadline: float) -> str | None:
    seen = {"count": 0, "selector": ""}
    compare = COMPARE[step.operator]

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

    matched = await poll(check, left_ms(deadline))
    if matched is None:
        raise StepFailed(f"expected {step.operator} {step.count} element(s) matching {plural(step.selectors)} "
                         f"but found {seen['count']} (waited {timeout_ms} ms)",
                         category=FailureCategory.ASSERTION_FAILED)
    return matched


async def assert_url(ctx: StepContext, step: AssertUrl, page: Page, frame: Frame, timeout_ms: int,
                     deadline: float) -> str | None:
    async def check() -> bool | None:
        return True if text_matches(page.url, step.url, step.match) else None

    if await poll(check, left_ms(deadline)) is None:
        raise StepFailed(f'expected the URL to {VERB[step.match]} "{step.url}" but it was "{page.url}" '
                         f"(waited {timeout_ms} ms)")
    return None


async def assert_title(ctx: StepContext, step: AssertTitle, page: Page, frame: Frame, timeout_ms: int,
                       deadline: float) -> str | None:
    seen = {"title": ""}

    async def check() -> bool | None:
        try:
            seen["title"] = await page.title()
        except PlaywrightError as error:
            if is_closed_error(error):
                raise
            return None  # navigating
        return True if text_matches(seen["title"], step.text, step.match) else None

    if await poll(check, left_ms(deadline)) is None:
        raise StepFailed(f'expected the title to {VERB[step.match]} "{step.text}" but it was "{seen["title"]}" '
                         f"(waited {timeout_ms} ms)", category=FailureCategory.ASSERTION_FAILED)
    return None


HANDLERS: Mapping[type[Step], Handler] = MappingProxyType({
    AssertText: assert_text,
    AssertVisible: assert_visible,
    AssertHidden: assert_hidden,
    AssertElement: assert_element,
    AssertCount: assert_count,
    AssertUrl: assert_url,
    AssertTitle: assert_title,
})
