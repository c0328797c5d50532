"""Per-run replay options, as given by `POST /api/runs` or `reprise run` flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

VideoMode = Literal["on", "off", "retain-on-failure"]
ScreenshotMode = Literal["off", "on-failure", "every-step"]
TraceMode = Literal["off", "on-failure", "on"]

DEFAULT_STEP_TIMEOUT_MS = 5_000
DEFAULT_RUN_TIMEOUT_MS = 120_000


@dataclass(frozen=True)
class RunOptions:
    video: VideoMode = "on"
    screenshots: ScreenshotMode = "on-failure"
    # The whole replay's budget; a run past it is aborted and `failed`.
    timeout_ms: int = DEFAULT_RUN_TIMEOUT_MS
    # Default wait for a selector, navigation or assertion, unless the recording sets its own.
    step_timeout_ms: int = DEFAULT_STEP_TIMEOUT_MS
    # Default wait for steps that load a page (navigate, and steps the recording says navigate);
    # None = the step timeout.
    navigation_timeout_ms: int | None = None
    # A Playwright trace (trace.zip, for `playwright show-trace`). The page HTML, console log and network
    # log (HAR) are kept whenever the run does not pass.
    trace: TraceMode = "on-failure"
    # Values to mask as `***` in every error and text artifact. A run with secrets records no trace: its DOM
    # snapshots would hold typed values.
    secret_values: tuple[str, ...] = field(default=(), repr=False)
    # The browser context: these override what the recording sets (its setViewport).
    viewport: tuple[int, int] | None = None
    # A Playwright device descriptor (runner.devices): viewport, user agent, scale, touch, mobile.
    device: dict[str, Any] | None = None
    locale: str | None = None
    timezone_id: str | None = None
    extra_http_headers: dict[str, str] | None = None
    # Playwright storage state (cookies, localStorage): start the run logged in.
    storage_state: dict[str, Any] | None = field(default=None, repr=False)
    # Replay against another host: URLs on the recording's origin move here (runner.rebase).
    base_url: str | None = None
