"""What the steps of one replay share: its browser context and pages, where its files go, and the helpers every
step handler uses to find an element and act on it.

One `StepContext` per replay, made by the runner (or a test) and passed to each handler; nothing is kept
anywhere else. A handler changes it where a step changes what later steps see: `switchToPage` replaces
`main_page`, `handleDialog` arms `armed_dialog`, `emulateNetworkConditions` keeps its CDP session, a named
`screenshot` adds to `captured` or to `artifacts`.

Timeouts: every step gets one timeout that covers finding its element and acting on it, so handlers pass
`left_ms(deadline)` (the time left of it) to Playwright and name the step's whole timeout in their messages.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, CDPSession, Dialog, Frame, Locator, Page
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from contract.results import ArtifactFile
from contract.runs import FailureCategory
from contract.visual import VisualBaselines
from runner.formats.steps import Selectors
from runner.formats.variables import SecretMasker
from runner.replay.errors import StepFailed
from runner.replay.locate import error_reason, find_element

# The page whose next dialog is answered, and the listener that answers it.
ArmedDialog = tuple[Page, Callable[[Dialog], Awaitable[None]]]


def left_ms(deadline: float) -> int:
    """Milliseconds until `deadline` (a `time.monotonic()` value), at least 1 (Playwright reads 0 as no timeout)."""
    return max(1, int((deadline - time.monotonic()) * 1000))


def normalise(text: str) -> str:
    """Whitespace collapsed, as a person reads a page's text."""
    return " ".join(text.split())


class StepContext:
    """One replay's browser context, whose first page is the run's main page, and the state its steps share."""

    def __init__(self, context: BrowserContext, page: Page, *, screenshot_dir: Path | None = None,
                 artifacts: list[ArtifactFile] | None = None) -> None:
        self.context = context
        self.main_page = page  # where steps without a `target` run; `switchToPage` replaces it
        self.last_page = page  # where the last step ran, for the failure screenshot
        self.step_index: int | None = None  # set by the runner: files a step makes are filed under it
        self.screenshot_dir = screenshot_dir  # where named screenshots go; None = kept in `captured`
        self.artifacts = artifacts  # the run's artifact list, which named screenshots are added to
        self.captured: dict[str, bytes] = {}  # named screenshots taken while no folder was set, by name
        self.armed_dialog: ArmedDialog | None = None  # the one-shot answer `handleDialog` armed
        self.cdp_sessions: list[CDPSession] = []  # kept alive for the context's lifetime
        self.strict_clicks = False  # the run's `strictClicks`: clicks wait for the element to receive them
        self.warning: str | None = None  # what the current step did otherwise, though it did not fail
        self.skipped = False  # the current step was not replayed (a `customStep`): reported `skipped`
        self.visual: VisualBaselines | None = None  # what `screenshot` steps with `compare` compare with
        self.secrets = SecretMasker()  # the run's secrets: a field about to receive one is concealed first
        self.mask_selectors: tuple[str, ...] = ()  # the run's `maskSelectors`, painted out in screenshots

    def warn(self, text: str) -> None:
        """Report `text` with the current step (the runner reads and clears it after each step)."""
        self.warning = text if self.warning is None else f"{self.warning}; {text}"

    def skip(self, reason: str) -> None:
        """The current step is not replayed: reported `skipped`, with `reason` as its warning."""
        self.skipped = True
        self.warn(reason)

    def keep_screenshots(self, directory: Path, artifacts: list[ArtifactFile]) -> None:
        """Write the `screenshot` steps' PNGs to `directory/screenshot-<name>.png` and list them in `artifacts`.
        Without this they are taken (so a missing element still fails the step) and kept in memory only."""
        self.screenshot_dir, self.artifacts = directory, artifacts

    async def element(self, frame: Frame, selectors: Selectors, timeout_ms: int, deadline: float, *,
                      visible: bool = True) -> tuple[Locator, str]:
        """The first alternative's element (a visible one unless `visible=False`) and the selector that
        matched; StepFailed naming every alternative and the step's timeout."""
        match = await find_element(frame, selectors, left_ms(deadline), report_timeout_ms=timeout_ms,
                                   state="visible" if visible else "attached")
        return match.locator, match.selector

    async def act(self, description: str, selector: str, timeout_ms: int, action: Awaitable[Any]) -> None:
        """Await a Playwright action on a found element, explaining a timeout (not actionable in time)."""
        try:
            await action
        except PlaywrightTimeoutError as error:
            raise StepFailed(f'element matched selector "{selector}" but could not be {description} within '
                             f"{timeout_ms} ms: {error_reason(error)}") from None


async def inner_frame(frame: Frame, selectors: Selectors, timeout_ms: int, deadline: float) -> tuple[Frame, str]:
    """The document of the iframe the selectors match, and the selector that matched."""
    match = await find_element(frame, selectors, left_ms(deadline), report_timeout_ms=timeout_ms, state="attached")
    handle = await match.locator.element_handle(timeout=left_ms(deadline))
    inner = await handle.content_frame()
    if inner is None:
        raise StepFailed(f'element matched selector "{match.selector}" but it is not an iframe',
                         category=FailureCategory.SELECTOR_NOT_FOUND)
    return inner, match.selector


# A step handler: replays one kind of step with the page and frame the executor resolved, returns the selector
# that matched (element steps) or None, raises StepFailed when the step does not replay. `step` is the step
# class the registry maps to the handler.
Handler = Callable[[StepContext, Any, Page, Frame, int, float], Awaitable[str | None]]
