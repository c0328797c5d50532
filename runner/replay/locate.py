"""Parsed selectors -> Playwright locators, and finding the first alternative that matches.

How each kind of part (`runner.formats.selectors`) is looked up:

- CSS and `pierce/CSS`: Playwright's `css=` engine, which already pierces open shadow roots.
- `xpath/EXPR`: `xpath=EXPR` (XPath does not pierce shadow roots, in Playwright as in Puppeteer).
- `text/TEXT`: the smallest elements whose text contains TEXT (`get_by_text`; case-insensitive and
  whitespace-normalised, where Puppeteer's `::-p-text` is case-sensitive).
- `aria/NAME[role="ROLE"]`: `get_by_role(ROLE, name=NAME, exact=True)`; `aria/[role="img"]` any of that role.
- `aria/NAME` without a role: Puppeteer queries the accessibility tree by name alone, which Playwright cannot.
  Approximation: an element labelled NAME (`<label>`, `aria-label`, `aria-labelledby`), or an element of one
  of the common named roles (`NAMED_ROLES`: button, link, heading, textbox, ...) whose accessible name is
  NAME, or an image whose alt text is NAME. Elements with other roles are not found by name alone.

A chain (`["my-host", "button"]`) looks each later part up inside what the earlier part matched: its
subtree and shadow root, or, when that element is an <iframe>, the frame's document.

Alternatives are polled together (every `POLL_INTERVAL_S`) until one matches or the step timeout ends,
so an outdated first alternative costs one cheap query per round, not the whole timeout.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, FrameLocator, Locator, Page

from runner.formats.selectors import SelectorPart, chain_text, parse_selector
from runner.formats.steps import SelectorChain, Selectors, describe_selectors
from runner.replay.errors import StepFailed

POLL_INTERVAL_S = 0.1

Root = Page | Frame | Locator | FrameLocator
T = TypeVar("T")

# Roles tried for `aria/NAME` without a role (see the module docstring).
NAMED_ROLES = (
    "button", "link", "heading", "textbox", "searchbox", "checkbox", "radio", "switch", "combobox",
    "listbox", "option", "menuitem", "menuitemcheckbox", "menuitemradio", "tab", "slider", "spinbutton",
    "img", "dialog", "cell", "columnheader", "rowheader", "treeitem", "region", "navigation",
)


def _by_role(root: Root, role: str, name: str | None) -> Locator:
    aria_role = cast(Any, role)  # checked against ARIA_ROLES when parsed
    if name is None:
        return root.get_by_role(aria_role)
    return root.get_by_role(aria_role, name=name, exact=True)


def apply_part(root: Root, part: SelectorPart) -> Locator:
    """The locator for one part, searched inside `root`."""
    if part.kind in ("css", "pierce"):
        return root.locator(f"css={part.value}")
    if part.kind == "xpath":
        return root.locator(f"xpath={part.value}")
    if part.kind == "text":
        return root.get_by_text(part.value)
    if part.role is not None:
        return _by_role(root, part.role, part.name)
    assert part.name is not None
    locator = root.get_by_label(part.name, exact=True).or_(root.get_by_alt_text(part.name, exact=True))
    for role in NAMED_ROLES:
        locator = locator.or_(_by_role(root, role, part.name))
    return locator


async def resolve_chain(frame: Frame, chain: SelectorChain) -> Locator | None:
    """The locator of a chain's last part; None when an earlier part matches nothing (yet)."""
    locator = apply_part(frame, parse_selector(chain[0]))
    for text in chain[1:]:
        if await locator.count() == 0:
            return None
        first = locator.first
        if await first.evaluate("element => element.localName") in ("iframe", "frame"):
            locator = apply_part(first.content_frame, parse_selector(text))
        else:
            locator = apply_part(locator, parse_selector(text))
    return locator


API_PREFIX = re.compile(r"^[A-Z]\w*\.\w+: ")  # "Frame.goto: ", "Locator.click: "
RETRY_LINE = re.compile(r"^(retrying \w+ action|waiting \d+ ?ms)")


def first_line(error: BaseException) -> str:
    """The first line of an error's message, without Playwright's `Class.method: ` prefix."""
    text = str(error).strip()
    return API_PREFIX.sub("", text.splitlines()[0]) if text else type(error).__name__


def error_reason(error: PlaywrightError) -> str:
    """The most telling line of a Playwright error: the last line of its call log that is not the retry loop's own,
    else its first line."""
    lines = [line.strip(" -") for line in str(error).splitlines() if line.strip(" -")]
    if "Call log:" in lines:
        log_lines = [re.sub(r"^\d+ \N{MULTIPLICATION SIGN} ", "", line)
                     for line in lines[lines.index("Call log:") + 1:]]
        # The retry loop's own lines ("retrying click action", "waiting 500ms") say nothing of why.
        telling = [line for line in log_lines if not RETRY_LINE.match(line)]
        if telling or log_lines:
            return (telling or log_lines)[-1]
    return API_PREFIX.sub("", lines[0]) if lines else type(error).__name__


@dataclass(frozen=True)
class Match:
    locator: Locator  # exactly one element
    selector: str  # the alternative that matched, as written in the recording


ElementWait = Literal["visible", "attached"]


async def poll(check: Callable[[], Awaitable[T | None]], timeout_ms: float) -> T | None:
    """Call `check` until it returns something other than None, or the timeout ends (then None).

    `check` runs at least once, even with no time left.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        result = await check()
        if result is not None:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        await asyncio.sleep(min(POLL_INTERVAL_S, remaining))


def is_closed_error(error: PlaywrightError) -> bool:
    """The page, context or browser went away (as opposed to a query failing)."""
    text = str(error)
    return "has been closed" in text or "Target closed" in text or "Browser closed" in text


class _Finder:
    """One search over the alternatives; remembers why each failed, for the error message."""

    def __init__(self, frame: Frame, selectors: Selectors, state: ElementWait) -> None:
        self.frame = frame
        self.selectors = selectors
        self.state = state
        self.hidden: list[str] = []  # alternatives that matched only invisible elements
        self.broken: dict[str, str] = {}  # alternatives the browser refused, with its reason

    async def __call__(self) -> Match | None:
        self.hidden.clear()
        for chain in self.selectors:
            text = chain_text(chain)
            if text in self.broken:
                continue
            try:
                locator = await resolve_chain(self.frame, chain)
                if locator is None:
                    continue
                if self.state == "visible":
                    visible = locator.filter(visible=True)
                    if await visible.count() > 0:
                        return Match(visible.first, text)
                    if await locator.count() > 0:
                        self.hidden.append(text)
                elif await locator.count() > 0:
                    return Match(locator.first, text)
            except PlaywrightError as error:
                if is_closed_error(error):
                    raise  # the page, context or browser is gone: nothing to wait for
                if "Execution context was destroyed" in str(error) or "navigat" in str(error).lower():
                    continue  # the page is navigating; try again next round
                self.broken[text] = first_line(error)
        return None

    def failure(self, timeout_ms: int) -> StepFailed:
        plural = "selector" if len(self.selectors) == 1 else "selectors"
        message = f"no element matched {plural} {describe_selectors(self.selectors)} within {timeout_ms} ms"
        if self.hidden:
            message = (f"no visible element matched {plural} {describe_selectors(self.selectors)} within "
                       f"{timeout_ms} ms (matched but hidden: {', '.join(repr(s) for s in self.hidden)})")
        if self.broken:
            reasons = "; ".join(f"{selector!r}: {reason}" for selector, reason in self.broken.items())
            message += f" (invalid: {reasons})"
        return StepFailed(message)


async def find_element(frame: Frame, selectors: Selectors, timeout_ms: int, *,
                       state: ElementWait = "visible", report_timeout_ms: int | None = None) -> Match:
    """The first alternative with a matching element (a visible one unless `state="attached"`).

    Raises StepFailed naming every alternative tried and the timeout (`report_timeout_ms` when the time
    left is shorter than the step's timeout that the message should name).
    """
    finder = _Finder(frame, selectors, state)
    match = await poll(finder, timeout_ms)
    if match is None:
        raise finder.failure(report_timeout_ms if report_timeout_ms is not None else timeout_ms)
    return match


async def first_matching(frame: Frame, selectors: Selectors, *, visible: bool = False) -> tuple[Locator, str]:
    """The elements of the first alternative matching anything now (only visible elements when `visible`),
    else of the first alternative, as @puppeteer/replay's `querySelectorsAll`; for counting elements."""
    fallback: tuple[Locator, str] | None = None
    for chain in selectors:
        locator = await resolve_chain(frame, chain)
        if locator is None:
            continue
        if visible:
            locator = locator.filter(visible=True)
        if fallback is None:
            fallback = (locator, chain_text(chain))
        if await locator.count() > 0:
            return locator, chain_text(chain)
    if fallback is None:
        return frame.locator("css=:not(*)"), chain_text(selectors[0])
    return fallback
