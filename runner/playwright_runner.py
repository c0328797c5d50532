"""`PlaywrightRunner.run`: replay one Script in a fresh browser context and report what happened.

Verdicts:
- `passed`: every step replayed.
- `failed`: the recording did not replay (selector not found, assertion mismatch, a step or the whole run
  out of time, a page that failed to load). The first failing step is `failed`, the rest `skipped`.
- `error`: the infrastructure failed (the context could not be created, the browser disconnected or the
  page crashed); the step that was running is `failed` with the reason, the rest `skipped`.

A test failure is never raised. Cancellation (asyncio.CancelledError) propagates, after the context is
closed. Artifacts go to `output_dir`: `video.webm` (per `RunOptions.video`) and `step-<index:03>.png`.

Step numbering: `StepResult.index` is the 0-based position in the recording (as in `steps[2]` of
InvalidScript paths); messages count from 1 as people do (`step 3 (click): ...` is index 2).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path

import structlog
from playwright.async_api import Browser, BrowserContext, Page
from playwright.async_api import Error as PlaywrightError

from runner.actions import StepExecutor
from runner.errors import StepFailed
from runner.options import RunOptions
from runner.results import ArtifactFile, RunResult, RunStatus, StepResult
from runner.selectors import first_line
from runner.steps import Script, Step, Viewport

log = structlog.get_logger(__name__)

DEFAULT_VIEWPORT = Viewport(width=1280, height=720)
SCREENSHOT_TIMEOUT_MS = 5_000
VIDEO_NAME = "video.webm"

StepCallback = Callable[[StepResult], Awaitable[None]]


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


class PlaywrightRunner:
    """Replays scripts in the given browser, one fresh context per run; safe to use concurrently."""

    def __init__(self, browser: Browser) -> None:
        self._browser = browser

    async def run(
        self,
        script: Script,
        options: RunOptions,
        output_dir: Path,
        *,
        on_step: StepCallback | None = None,
    ) -> RunResult:
        return await _Run(self._browser, script, options, output_dir, on_step).execute()


class _Run:
    """One replay: its context, the results so far, and the verdict."""

    def __init__(self, browser: Browser, script: Script, options: RunOptions, output_dir: Path,
                 on_step: StepCallback | None) -> None:
        self.browser = browser
        self.script = script
        self.options = options
        self.output_dir = output_dir
        self.on_step = on_step
        self.video_dir = output_dir / ".video" if options.video != "off" else None
        self.steps: list[StepResult] = []
        self.artifacts: list[ArtifactFile] = []
        self.status: RunStatus = "passed"
        self.error: str | None = None
        self.started = time.monotonic()

    def result(self) -> RunResult:
        return RunResult(status=self.status, steps=self.steps, artifacts=self.artifacts, error=self.error,
                         duration_ms=_ms(time.monotonic() - self.started))

    async def report(self, step_result: StepResult) -> None:
        self.steps.append(step_result)
        if self.on_step is not None:
            await self.on_step(step_result)

    async def execute(self) -> RunResult:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        try:
            context, page = await self.new_context()
        except PlaywrightError as error:
            self.status, self.error = "error", f"could not create a browser context: {first_line(error)}"
            log.warning("run could not start", error=self.error)
            for index, step in enumerate(self.script.steps):
                await self.report(StepResult(index=index, type=step.type, status="skipped", duration_ms=0))
            return self.result()
        try:
            await self.replay(StepExecutor(context, page))
        finally:
            with suppress(PlaywrightError):
                await context.close()
            video = await self.keep_video(page)
        if video is not None:
            self.artifacts.insert(0, video)
        return self.result()

    async def new_context(self) -> tuple[BrowserContext, Page]:
        viewport = self.script.viewport or DEFAULT_VIEWPORT
        context = await self.browser.new_context(
            viewport={"width": viewport.width, "height": viewport.height},
            device_scale_factor=viewport.device_scale_factor,
            is_mobile=viewport.is_mobile,
            has_touch=viewport.has_touch,
            record_video_dir=self.video_dir,
        )
        try:
            page = await context.new_page()
        except BaseException:
            with suppress(PlaywrightError):
                await context.close()
            raise
        return context, page

    async def replay(self, executor: StepExecutor) -> None:
        crashed: list[str] = []
        executor.main_page.on("crash", lambda _: crashed.append("the page crashed"))
        video_start = time.monotonic()  # the video starts with the page
        run_deadline = self.started + self.options.timeout_ms / 1000
        for index, step in enumerate(self.script.steps):
            if self.status != "passed":
                await self.report(StepResult(index=index, type=step.type, status="skipped", duration_ms=0))
                continue
            step_start = time.monotonic()
            selector, error = await self.run_step(executor, step, run_deadline)
            if error is not None and (crashed or not self.browser.is_connected()):
                self.status = "error"
                error = f"{crashed[0] if crashed else 'the browser disconnected'} ({error})"
            result = StepResult(index=index, type=step.type, status="passed" if error is None else "failed",
                                duration_ms=_ms(time.monotonic() - step_start), selector=selector,
                                started_offset_ms=max(0, _ms(step_start - video_start)))
            if error is not None:
                self.status = "error" if self.status == "error" else "failed"
                result.error = self.error = f"step {index + 1} ({step.type}): {error}"
                log.info("step failed", step=index, type=step.type, error=result.error, status=self.status)
            screenshots = self.options.screenshots
            if (screenshots == "every-step" or (screenshots == "on-failure" and error is not None)) \
                    and self.status != "error":
                await self.screenshot(executor.last_page, index)
            await self.report(result)

    async def run_step(self, executor: StepExecutor, step: Step, run_deadline: float) -> tuple[str | None, str | None]:
        """(the selector that matched, the error) for one step, bounded by the run's own deadline too."""
        timeout_ms = step.timeout_ms or self.script.timeout_ms or self.options.step_timeout_ms
        loop = asyncio.get_running_loop()
        budget = asyncio.timeout_at(loop.time() + max(0.0, run_deadline - time.monotonic()))
        try:
            async with budget:
                return await executor.execute(step, timeout_ms), None
        except StepFailed as failure:
            return None, str(failure)
        except TimeoutError:
            if not budget.expired():
                raise
            return None, f"the run exceeded its timeout of {self.options.timeout_ms} ms"
        except PlaywrightError as failure:
            return None, first_line(failure)

    async def screenshot(self, page: Page, index: int) -> None:
        path = self.output_dir / f"step-{index:03}.png"
        if page.is_closed():
            return
        try:
            await page.screenshot(path=path, timeout=SCREENSHOT_TIMEOUT_MS)
        except PlaywrightError as error:
            log.warning("screenshot failed", step=index, error=first_line(error))
            return
        self.artifacts.append(ArtifactFile(kind="screenshot", path=path, content_type="image/png", step_index=index))

    async def keep_video(self, page: Page) -> ArtifactFile | None:
        """After the context closed: the main page's video becomes `video.webm`, or is deleted."""
        if self.video_dir is None:
            return None
        target = self.output_dir / VIDEO_NAME
        try:
            recorded = Path(await page.video.path()) if page.video is not None else None
        except PlaywrightError:
            recorded = None
        keep = self.options.video == "on" or self.status != "passed"
        if keep and recorded is not None and recorded.is_file() and recorded.stat().st_size > 0:
            recorded.replace(target)
        shutil.rmtree(self.video_dir, ignore_errors=True)
        if keep and target.is_file():
            return ArtifactFile(kind="video", path=target, content_type="video/webm")
        if keep:
            log.warning("no video was recorded", status=self.status)
        return None
