"""`PlaywrightRunner.run`: replay one Script in a fresh browser context and report what happened.

Verdicts:
- `passed`: every step replayed.
- `failed`: the recording did not replay (selector not found, assertion mismatch, a step or the whole run
  out of time, a page that failed to load). The first failing step is `failed`, the rest `skipped`.
- `error`: the infrastructure failed (the context could not be created, the browser disconnected or the
  page crashed); the step that was running is `failed` with the reason, the rest `skipped`.

A test failure is never raised. Cancellation (asyncio.CancelledError) propagates, after the context is
closed. Artifacts go to `output_dir`: `video.webm` (per `RunOptions.video`), `step-<index:03>.png`, and
when the run does not pass: `trace.zip` (per `RunOptions.trace`), `page.html`
(the page at the failure), `console.log` (console messages and uncaught page errors) and `network.har`. Each
failing step and the run carry a category (`runner.replay.categories`). The secrets' values are masked as
`***` in every error and text artifact and scrubbed from the trace archive (`runner.replay.trace_scrub`); a field
about to receive one is concealed before it is typed, and the run's `maskSelectors` are painted out in screenshots
and the video (`runner.replay.concealment`), so no pixel shows them.

Options and results are the contract's (`contract.options.RunOptions`, `contract.results`): the replay reads
the options as the API validated them, and reports with the contract's status and category enums.

Step numbering: `StepResult.index` is the 0-based position in the recording (as in `steps[2]` of
InvalidScript paths); messages count from 1 as people do (`step 3 (click): ...` is index 2).
"""

from __future__ import annotations

import asyncio
import shutil
import time
import zipfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

import structlog
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, ProxySettings, WebError
from playwright.async_api import Error as PlaywrightError

from contract.options import RunOptions
from contract.results import ArtifactFile, ArtifactKind, ReplayStatus, RunResult, StepResult
from contract.runs import FailureCategory, RunStatus, StepStatus
from contract.visual import VisualBaselines
from runner.formats.rebase import rebase_script
from runner.formats.steps import Navigate, Script, SetViewport, Step, Viewport
from runner.formats.variables import SecretMasker
from runner.replay.categories import categorize
from runner.replay.concealment import invalid_selectors, mask_locators, mask_overlay_script
from runner.replay.context import Handler, StepContext
from runner.replay.contexts import HAR_NAME, ContextPlan, OpenContext, open_context
from runner.replay.devices import device_identity, device_viewport, lookup_device
from runner.replay.errors import StepFailed
from runner.replay.executor import StepExecutor
from runner.replay.locate import first_line
from runner.replay.registry import HANDLERS
from runner.replay.trace_scrub import ScrubReport, scrub_trace

log = structlog.get_logger(__name__)

DEFAULT_VIEWPORT = Viewport(width=1280, height=720)
SCREENSHOT_TIMEOUT_MS = 5_000
VIDEO_NAME = "video.webm"
TRACE_NAME = "trace.zip"
HTML_NAME = "page.html"
CONSOLE_NAME = "console.log"
PAGE_HTML_TIMEOUT_S = 5.0
DISCONNECT_GRACE_S = 5.0

StepCallback = Callable[[StepResult], Awaitable[None]]


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


class PlaywrightRunner:
    """Replays scripts in the given browser, one fresh context per run; safe to use concurrently.

    `handlers`: what replays each step class (`runner.replay.registry.HANDLERS`, unless a test says otherwise).
    `proxy`: every request of the run's context goes through it (the worker's egress proxy, `worker.egress`).
    """

    def __init__(self, browser: Browser, *, handlers: Mapping[type[Step], Handler] = HANDLERS,
                 proxy: ProxySettings | None = None) -> None:
        self._browser = browser
        self._executor = StepExecutor(handlers)
        self._proxy = proxy

    def plan(self, script: Script, options: RunOptions, *, secret_values: Sequence[str] = ()) -> ContextPlan:
        """What the run's browser context is made with: a context opened ahead from an equal plan (`prepared` of
        `run`) serves the run."""
        return _replay_setup(script, options, SecretMasker(secret_values))[1]

    async def run(
        self,
        script: Script,
        options: RunOptions,
        output_dir: Path,
        *,
        secret_values: Sequence[str] = (),
        on_step: StepCallback | None = None,
        stop: asyncio.Event | None = None,
        prepared: OpenContext | None = None,
        visual: VisualBaselines | None = None,
    ) -> RunResult:
        """`secret_values`: masked as `***` in every error and text artifact and scrubbed from the trace; a field
        about to receive one is concealed first.
        `stop`: set it to cancel the run mid-step (its context is closed); the result keeps the steps,
        screenshots and video made so far, the interrupted step `failed` with "cancelled by request".
        `prepared`: a context opened ahead (`runner.replay.contexts`); used when its plan is this run's and it is
        still open in this browser, else closed. The run closes it either way and removes its folder.
        `visual`: the saved recording's approved baselines, for `screenshot` steps with `compare` (None: the run
        has no saved recording, and they are not compared)."""
        masker = SecretMasker(secret_values)
        script, plan = _replay_setup(script, options, masker)
        replay = _Run(self._browser, self._executor, script, options, output_dir, plan=plan, prepared=prepared,
                      masker=masker, on_step=on_step, stop=stop, proxy=self._proxy, visual=visual)
        return await _unless_the_browser_dies(self._browser, replay)


def _replay_setup(script: Script, options: RunOptions, masker: SecretMasker) -> tuple[Script, ContextPlan]:
    """The script as replayed and its context's plan."""
    device = lookup_device(options.device) if options.device is not None else None
    replayed = _replayed_script(script, options, device)
    return replayed, context_plan(replayed, options, device, tracing=options.trace != "off")


def _replayed_script(script: Script, options: RunOptions, device: dict[str, Any] | None) -> Script:
    """The script as replayed: on the run's base URL, in the run's (or its device's) viewport."""
    if options.base_url:
        script = rebase_script(script, options.base_url)
    if options.viewport is not None:
        return _with_viewport(script, Viewport(width=options.viewport.width, height=options.viewport.height))
    if device is not None:
        return _with_viewport(script, device_viewport(device))
    return script


def context_plan(script: Script, options: RunOptions, device: dict[str, Any] | None, *, tracing: bool) -> ContextPlan:
    viewport = script.viewport or DEFAULT_VIEWPORT
    emulation: dict[str, Any] = {
        "viewport": {"width": viewport.width, "height": viewport.height},
        "device_scale_factor": viewport.device_scale_factor,
        "is_mobile": viewport.is_mobile,
        "has_touch": viewport.has_touch,
    }
    if device is not None:
        emulation.update(device_identity(device))
    emulation.update(
        locale=options.locale,
        timezone_id=options.timezone_id,
        extra_http_headers=options.extra_http_headers,
        storage_state=options.storage_state.playwright() if options.storage_state else None,
    )
    # A trace's DOM snapshots and screenshots cost a fifth to a quarter of a short run (BENCHMARKS.md). A failed
    # run keeps the DOM at its failure (page.html), its pixels (the failure screenshot, the video), console and
    # HAR anyway, so its on-failure trace holds the actions, their timings, network, console and errors; a full
    # trace is `trace: on`.
    return ContextPlan(emulation=emulation, video=options.video != "off", tracing=tracing,
                       full_trace=options.trace == "on")


async def _unless_the_browser_dies(browser: Browser, replay: _Run) -> RunResult:
    """The replay's result; if the browser disconnects and the replay has not ended DISCONNECT_GRACE_S later
    (a Playwright call to a dead browser can wait forever), it is cancelled and reported `error`
    [browser_crashed] with the steps it made so far."""
    disconnected = asyncio.Event()

    def on_disconnect(_: Browser) -> None:
        disconnected.set()

    browser.on("disconnected", on_disconnect)
    if not browser.is_connected():
        disconnected.set()
    execution = asyncio.ensure_future(replay.execute())
    watch = asyncio.ensure_future(disconnected.wait())
    try:
        await asyncio.wait({execution, watch}, return_when=asyncio.FIRST_COMPLETED)
        if not execution.done():
            done, _ = await asyncio.wait({execution}, timeout=DISCONNECT_GRACE_S)
            if not done:
                log.error("the browser disconnected and the replay did not end; abandoning it",
                          graceS=DISCONNECT_GRACE_S)
                execution.cancel()
                await asyncio.gather(execution, return_exceptions=True)
                return replay.abandoned("the browser disconnected and the replay did not end")
        return execution.result()
    except BaseException:
        execution.cancel()
        await asyncio.gather(execution, return_exceptions=True)
        raise
    finally:
        watch.cancel()
        browser.remove_listener("disconnected", on_disconnect)


class _Run:
    """One replay: its context, the results so far, and the verdict."""

    def __init__(self, browser: Browser, executor: StepExecutor, script: Script, options: RunOptions,
                 output_dir: Path, *, plan: ContextPlan, prepared: OpenContext | None, masker: SecretMasker,
                 on_step: StepCallback | None, stop: asyncio.Event | None,
                 proxy: ProxySettings | None = None, visual: VisualBaselines | None = None) -> None:
        self.browser = browser
        self.visual = visual
        self.proxy = proxy
        self.executor = executor
        self.stop = stop
        self.stopped = False
        self.current_step: asyncio.Future[str | None] | None = None
        self.script = script
        self.options = options
        self.plan = plan
        self.prepared = prepared
        self.opened: OpenContext | None = None
        self.output_dir = output_dir
        self.on_step = on_step
        self.steps: list[StepResult] = []
        self.artifacts: list[ArtifactFile] = []
        self.status: ReplayStatus = RunStatus.PASSED
        self.error: str | None = None
        self.category: FailureCategory | None = None
        self.failed_index: int | None = None
        self.console: list[str] = []
        self.tracing = False
        self.masker = masker
        self.started = time.monotonic()

    def abandoned(self, reason: str) -> RunResult:
        """What is known of a replay that had to be cancelled because its browser died under it."""
        self.status, self.category = RunStatus.ERROR, FailureCategory.BROWSER_CRASHED
        self.error = self.masker.mask(reason)
        for index in range(len(self.steps), len(self.script.steps)):
            step = self.script.steps[index]
            self.steps.append(StepResult(index=index, type=step.type, status=StepStatus.SKIPPED, duration_ms=0))
        return self.result()

    def result(self) -> RunResult:
        return RunResult(status=self.status, steps=self.steps, artifacts=self.artifacts, error=self.error,
                         duration_ms=_ms(time.monotonic() - self.started), category=self.category)

    async def report(self, step_result: StepResult) -> None:
        self.steps.append(step_result)
        if self.on_step is not None:
            await self.on_step(step_result)

    async def execute(self) -> RunResult:
        try:
            return await self.replay_in_context()
        finally:
            if self.prepared is not None:  # never taken (the run ended before its context was made)
                await self.prepared.discard()
            if self.opened is not None and self.opened.folder != self.output_dir:
                shutil.rmtree(self.opened.folder, ignore_errors=True)  # a context opened ahead: its own folder

    async def replay_in_context(self) -> RunResult:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        try:
            context, page = await self.new_context()
        except PlaywrightError as error:
            self.status, self.error = RunStatus.ERROR, f"could not create a browser context: {first_line(error)}"
            self.category = FailureCategory.BROWSER_CRASHED
            log.warning("run could not start", error=self.error)
            for index, step in enumerate(self.script.steps):
                await self.report(StepResult(index=index, type=step.type, status=StepStatus.SKIPPED, duration_ms=0))
            return self.result()
        # Named `screenshot` steps become artifacts of the run.
        steps = StepContext(context, page, screenshot_dir=self.output_dir, artifacts=self.artifacts)
        steps.strict_clicks = self.options.strict_clicks
        steps.visual = self.visual
        steps.secrets = self.masker
        steps.mask_selectors = tuple(self.options.mask_selectors)
        stop_watch = asyncio.create_task(self.close_on_stop(context)) if self.stop is not None else None
        try:
            if self.options.mask_selectors:
                await self.mask(context, page)
            await self.replay(steps)
            if self.status != RunStatus.PASSED and not self.stopped:
                await self.keep_failure_state(steps.last_page)
            if not self.stopped:
                await self.stop_tracing(context)
        finally:
            if stop_watch is not None:
                if self.stopped:
                    # Let its context.close() finish: the video file is complete only then.
                    await asyncio.gather(stop_watch, return_exceptions=True)
                else:
                    stop_watch.cancel()
            with suppress(PlaywrightError):
                await context.close()
            video = await self.keep_video(page)
        if video is not None:
            self.artifacts.insert(0, video)
        self.keep_har()
        return self.result()

    async def mask(self, context: BrowserContext, page: Page) -> None:
        """Paint the run's mask selectors out of every document; a selector that is not CSS fails the run before
        its first step (it would mask nothing)."""
        refused = await invalid_selectors(page, self.options.mask_selectors)
        if refused:
            self.status, self.category = RunStatus.FAILED, FailureCategory.SCRIPT_ERROR
            self.error = f"maskSelectors: {refused[0]!r} is not a valid CSS selector, so it would mask nothing"
            log.info("run refused", error=self.error)
            return
        await context.add_init_script(script=mask_overlay_script(self.options.mask_selectors))

    async def close_on_stop(self, context: BrowserContext) -> None:
        """Cancel by request: closing the context ends the step in progress at once."""
        assert self.stop is not None
        await self.stop.wait()
        self.stopped = True
        log.info("run stopped on request, closing its context")
        if self.current_step is not None:
            self.current_step.cancel()  # steps that do not touch the page (`wait`) end too
        with suppress(PlaywrightError):
            await context.close()

    async def new_context(self) -> tuple[BrowserContext, Page]:
        prepared, self.prepared = self.prepared, None
        if prepared is not None:
            if prepared.plan.key == self.plan.key and prepared.usable_in(self.browser):
                try:
                    return self.use(prepared, prepared.page or await prepared.context.new_page())
                except PlaywrightError as error:
                    log.warning("the context opened ahead failed; opening a new one", error=first_line(error))
            await prepared.discard()
        opened = await open_context(self.browser, self.plan, self.output_dir, proxy=self.proxy, with_page=False)
        try:
            return self.use(opened, await opened.context.new_page())
        except BaseException:
            await opened.discard(remove_files=False)
            raise

    def use(self, opened: OpenContext, page: Page) -> tuple[BrowserContext, Page]:
        self.opened = opened
        self.tracing = opened.plan.tracing
        opened.context.on("console", self.on_console)
        opened.context.on("weberror", self.on_page_error)
        return opened.context, page

    async def replay(self, steps: StepContext) -> None:
        crashed: list[str] = []
        steps.main_page.on("crash", lambda _: crashed.append("the page crashed"))
        video_start = time.monotonic()  # the video starts with the page
        run_deadline = self.started + self.options.timeout_ms / 1000
        for index, step in enumerate(self.script.steps):
            if self.status != RunStatus.PASSED:
                await self.report(StepResult(index=index, type=step.type, status=StepStatus.SKIPPED, duration_ms=0))
                continue
            if self.stopped:
                await self.report(StepResult(index=index, type=step.type, status=StepStatus.SKIPPED, duration_ms=0))
                continue
            step_start = time.monotonic()
            steps.step_index = index
            steps.warning, steps.skipped = None, False
            selector, error, category = await self.run_step(steps, step, run_deadline)
            if self.stopped:
                self.status, self.failed_index = RunStatus.FAILED, index
                self.error = f"cancelled by request at step {index + 1}"
                await self.report(StepResult(index=index, type=step.type, status=StepStatus.FAILED,
                                             duration_ms=_ms(time.monotonic() - step_start),
                                             error="cancelled by request",
                                             started_offset_ms=max(0, _ms(step_start - video_start))))
                continue
            if error is not None and (crashed or not self.browser.is_connected()):
                self.status = RunStatus.ERROR
                category = FailureCategory.BROWSER_CRASHED
                error = f"{crashed[0] if crashed else 'the browser disconnected'} ({error})"
            if error is not None:
                self.status = RunStatus.ERROR if self.status == RunStatus.ERROR else RunStatus.FAILED
                self.failed_index = index
                self.category = category
                self.error = self.masker.mask(f"step {index + 1} ({step.type}) [{category}]: {error}")
                log.info("step failed", step=index, type=step.type, error=self.error, status=self.status,
                         category=category)
            warning = self.masker.mask_optional(steps.warning)
            if warning is not None:
                log.info("step warning", step=index, type=step.type, warning=warning, skipped=steps.skipped)
            status = StepStatus.FAILED if error is not None else StepStatus.SKIPPED if steps.skipped \
                else StepStatus.PASSED
            result = StepResult(index=index, type=step.type, status=status,
                                duration_ms=_ms(time.monotonic() - step_start),
                                selector=self.masker.mask_optional(selector),
                                started_offset_ms=max(0, _ms(step_start - video_start)),
                                error=self.error if error is not None else None,
                                category=category if error is not None else None, warning=warning)
            screenshots = self.options.screenshots
            if (screenshots == "every-step" or (screenshots == "on-failure" and error is not None)) \
                    and self.status != RunStatus.ERROR:
                await self.screenshot(steps.last_page, index, failed=error is not None)
            await self.report(result)

    async def run_step(
        self, steps: StepContext, step: Step, run_deadline: float
    ) -> tuple[str | None, str | None, FailureCategory | None]:
        """(the selector that matched, the error, its category) for one step, bounded by the run's deadline."""
        default_ms = self.options.step_timeout_ms
        if self.options.navigation_timeout_ms and (isinstance(step, Navigate) or step.expect_navigation is not None):
            default_ms = self.options.navigation_timeout_ms
        timeout_ms = step.timeout_ms or self.script.timeout_ms or default_ms
        loop = asyncio.get_running_loop()
        budget = asyncio.timeout_at(loop.time() + max(0.0, run_deadline - time.monotonic()))
        step_task = asyncio.ensure_future(self.executor.execute(steps, step, timeout_ms))
        self.current_step = step_task
        try:
            async with budget:
                return await step_task, None, None
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self.stopped and step_task.cancelled() and (current is None or not current.cancelling()):
                return None, "cancelled by request", None  # close_on_stop cut the step short
            step_task.cancel()
            raise
        except StepFailed as failure:
            return None, str(failure), categorize(step, str(failure), failure.category)
        except TimeoutError:
            if not budget.expired():
                raise
            return None, f"the run exceeded its timeout of {self.options.timeout_ms} ms", FailureCategory.TIMEOUT
        except PlaywrightError as failure:
            return None, first_line(failure), categorize(step, first_line(failure))

    async def screenshot(self, page: Page, index: int, *, failed: bool) -> None:
        """The step's screenshot: of the whole page when it failed, unless `screenshotsFullPage` says otherwise."""
        path = self.output_dir / f"step-{index:03}.png"
        if page.is_closed():
            return
        full_page = self.options.screenshots_full_page
        try:
            await page.screenshot(path=path, timeout=SCREENSHOT_TIMEOUT_MS,
                                  full_page=failed if full_page is None else full_page,
                                  mask=mask_locators(page, self.options.mask_selectors))
        except PlaywrightError as error:
            log.warning("screenshot failed", step=index, error=first_line(error))
            return
        self.artifacts.append(ArtifactFile(kind="screenshot", path=path, content_type="image/png", step_index=index))

    def on_console(self, message: ConsoleMessage) -> None:
        self.console.append(f"{self.offset()} [{message.type}] {message.text}" + _location(message.location))

    def on_page_error(self, web_error: WebError) -> None:
        self.console.append(f"{self.offset()} [pageerror] {web_error.error}")

    def offset(self) -> str:
        return f"+{_ms(time.monotonic() - self.started)}ms"

    def add_failure_artifact(self, kind: ArtifactKind, path: Path, content_type: str) -> None:
        self.artifacts.append(ArtifactFile(kind=kind, path=path, content_type=content_type,
                                           step_index=self.failed_index))

    async def keep_failure_state(self, page: Page) -> None:
        """The page's HTML and the console as they were when the run failed."""
        console_path = self.output_dir / CONSOLE_NAME
        console_text = "\n".join(self.console) + ("\n" if self.console else "")
        console_path.write_text(self.masker.mask(console_text), encoding="utf-8")
        self.add_failure_artifact("console", console_path, "text/plain; charset=utf-8")
        if page.is_closed():
            return
        try:
            html = await asyncio.wait_for(page.content(), PAGE_HTML_TIMEOUT_S)
        except (PlaywrightError, TimeoutError) as error:
            log.warning("could not save the page HTML", error=first_line(error) if isinstance(
                error, PlaywrightError) else "timed out")
            return
        html_path = self.output_dir / HTML_NAME
        html_path.write_text(self.masker.mask(html), encoding="utf-8")
        self.add_failure_artifact("html", html_path, "text/html; charset=utf-8")

    async def stop_tracing(self, context: BrowserContext) -> None:
        if not self.tracing:
            return
        self.tracing = False
        keep = self.options.trace == "on" or self.status != RunStatus.PASSED
        path = self.output_dir / TRACE_NAME
        try:
            await context.tracing.stop(path=path if keep else None)
        except PlaywrightError as error:
            log.warning("could not save the trace", error=first_line(error))
            return
        if keep and path.is_file() and await self.scrub(path):
            self.add_failure_artifact("trace", path, "application/zip")

    async def scrub(self, path: Path) -> bool:
        """The trace without the run's secrets; False (and the file deleted) when it could not be scrubbed."""
        if not self.masker:
            return True
        report = await asyncio.to_thread(_scrub_or_delete, path, self.masker)
        if report is not None:
            log.info("secrets scrubbed from the trace", rewritten=len(report.rewritten), dropped=report.dropped)
        return report is not None

    def keep_har(self) -> None:
        """After the context closed (when Playwright writes the HAR): kept only when the run did not pass."""
        if self.opened is None or not self.opened.har_path.is_file():
            return
        if self.status == RunStatus.PASSED:
            self.opened.har_path.unlink()
            return
        path = self.opened.har_path.replace(self.output_dir / HAR_NAME)
        if self.masker:  # request bodies and URLs may carry what was typed
            path.write_text(self.masker.mask(path.read_text(encoding="utf-8")), encoding="utf-8")
        self.add_failure_artifact("har", path, "application/json")

    async def keep_video(self, page: Page) -> ArtifactFile | None:
        """After the context closed: the main page's video becomes `video.webm`, or is deleted."""
        video_dir = self.opened.video_dir if self.opened is not None else None
        if video_dir is None:
            return None
        target = self.output_dir / VIDEO_NAME
        try:
            recorded = Path(await page.video.path()) if page.video is not None else None
        except PlaywrightError:
            recorded = None
        keep = self.options.video == "on" or self.status != RunStatus.PASSED
        if keep and recorded is not None and recorded.is_file() and recorded.stat().st_size > 0:
            recorded.replace(target)
        shutil.rmtree(video_dir, ignore_errors=True)
        if keep and target.is_file():
            return ArtifactFile(kind="video", path=target, content_type="video/webm")
        if keep:
            log.warning("no video was recorded", status=self.status)
        return None


def _scrub_or_delete(path: Path, masker: SecretMasker) -> ScrubReport | None:
    try:
        return scrub_trace(path, masker)
    except (OSError, zipfile.BadZipFile, ValueError) as error:
        log.warning("could not scrub the secrets from the trace; it is not kept", error=str(error))
        path.unlink(missing_ok=True)
        return None


def _location(location: Mapping[str, Any] | None) -> str:
    if not location or not location.get("url"):
        return ""
    return f" ({location['url']}:{location.get('lineNumber', 0)})"


def _with_viewport(script: Script, viewport: Viewport) -> Script:
    """The run's viewport wins over the recording's, including its setViewport steps."""
    steps = [replace(step, viewport=viewport) if isinstance(step, SetViewport) else step for step in script.steps]
    return replace(script, viewport=viewport, steps=steps)
