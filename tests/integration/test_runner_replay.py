"""Replays in a real Chromium against the fixture website: verdicts, step results, messages, artifacts."""

from __future__ import annotations

import asyncio
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from media import video_seconds
from playwright.async_api import Browser

from contract.options import RunOptions
from contract.results import RunResult, StepResult
from runner.formats import parse_script
from runner.replay import BrowserError, PlaywrightRunner, launch_chromium
from runner.replay.browser import ffmpeg_revision, find_ffmpeg, prepare_playwright_env

from recordings import load_recording

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def replay(browser: Browser, data: dict[str, Any], output_dir: Path, *,
                 on_step: Any = None, **options: Any) -> RunResult:
    return await PlaywrightRunner(browser).run(parse_script(data), RunOptions(**options), output_dir,
                                               on_step=on_step)


def native(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "name": "inline", "steps": list(steps)}


def file_names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())



async def test_recorder_flow_passes_with_video(browser: Browser, site_url: str, tmp_path: Path) -> None:
    reported: list[StepResult] = []

    async def on_step(step: StepResult) -> None:
        reported.append(step)

    result = await replay(browser, load_recording("recorder-signup.json", site_url), tmp_path, on_step=on_step)

    assert result.status == "passed", result.error
    assert result.error is None
    assert [step.status for step in result.steps] == ["passed"] * 23
    assert reported == result.steps  # each step reported as it finished, in order
    assert [step.index for step in result.steps] == list(range(23))
    offsets = [step.started_offset_ms for step in result.steps]
    assert offsets == sorted(offsets)
    # The outdated first alternative is skipped without waiting out the 5 s timeout.
    outdated = result.steps[3]
    assert outdated.selector == "aria/Name"
    assert outdated.duration_ms < 4_500  # well under the 5 s it would wait for the outdated one
    assert result.steps[12].selector == 'aria/Reveal later[role="button"]'
    assert result.steps[20].selector == "xpath///a[@id='to-page2']"
    assert result.steps[13].duration_ms >= 400  # #revealed shows 500 ms after the click: it was waited for

    video = tmp_path / "video.webm"
    assert [(a.kind, a.path, a.content_type) for a in result.artifacts] == [("video", video, "video/webm")]
    assert video_seconds(video) > 0
    assert file_names(tmp_path) == ["video.webm"]  # no screenshots (on-failure only), no leftovers


async def test_shadow_roots_iframes_and_late_elements(browser: Browser, site_url: str, tmp_path: Path) -> None:
    result = await replay(browser, load_recording("recorder-shadow-frames.json", site_url), tmp_path, video="off")

    assert result.status == "passed", result.error
    assert result.steps[1].selector == "fancy-card >> #shadow-button"
    assert result.steps[4].selector == "aria/Inner field"
    assert result.steps[5].selector == "#inner-frame >> #inner-button"
    assert result.steps[8].duration_ms >= 800  # #early is removed after 1 s
    assert result.artifacts == []
    assert not (tmp_path / "video.webm").exists()


async def test_native_script_with_screenshots_of_every_step(browser: Browser, site_url: str,
                                                            tmp_path: Path) -> None:
    data = load_recording("native-tour.json", site_url)
    result = await replay(browser, data, tmp_path, video="off", screenshots="every-step")

    assert result.status == "passed", result.error
    assert len(result.steps) == len(data["steps"]) == 20
    screenshots = [a for a in result.artifacts if a.kind == "screenshot"]
    assert [a.step_index for a in screenshots] == list(range(20))
    for artifact in screenshots:
        assert artifact.path == tmp_path / f"step-{artifact.step_index:03}.png"
        assert artifact.content_type == "image/png"
        assert artifact.path.read_bytes()[:8] == PNG_MAGIC
    assert not (tmp_path / "video.webm").exists()


async def test_missing_selector_fails_and_skips_the_rest(browser: Browser, site_url: str, tmp_path: Path) -> None:
    result = await replay(browser, load_recording("recorder-missing-selector.json", site_url), tmp_path,
                          step_timeout_ms=1_000, video="retain-on-failure")

    assert result.status == "failed"
    assert [step.status for step in result.steps] == ["passed", "passed", "failed", "skipped", "skipped", "skipped"]
    failed = result.steps[2]
    assert failed.error == 'step 3 (click) [selector_not_found]: no element matched selector "#missing" within 1000 ms'
    assert failed.category == result.category == "selector_not_found"
    assert result.error == failed.error
    assert failed.duration_ms >= 1_000  # it waited the run's 1 s step timeout (the message names it, not 5 s)
    assert all(step.duration_ms == 0 and step.error is None for step in result.steps[3:])

    kinds = {(a.kind, a.path.name, a.step_index) for a in result.artifacts}
    assert kinds == {("video", "video.webm", None), ("screenshot", "step-002.png", 2), ("trace", "trace.zip", 2),
                     ("html", "page.html", 2), ("console", "console.log", 2), ("har", "network.har", 2)}
    assert (tmp_path / "step-002.png").read_bytes()[:8] == PNG_MAGIC
    assert video_seconds(tmp_path / "video.webm") > 0  # kept: the run failed


async def test_assertion_failure_names_expected_and_actual(browser: Browser, site_url: str, tmp_path: Path) -> None:
    result = await replay(browser, load_recording("native-wrong-greeting.json", site_url), tmp_path,
                          video="off", screenshots="off")

    assert result.status == "failed"
    assert [step.status for step in result.steps] == ["passed", "passed", "passed", "failed", "skipped"]
    assert result.steps[3].error == (
        'step 4 (assertText) [assertion_failed]: expected the text of "#result" to contain "Hello Bob" but it was '
        '"Hello Ada, plan free, terms not accepted" (waited 500 ms)'
    )
    assert [a.kind for a in result.artifacts if a.kind == "screenshot"] == []  # screenshots off


async def test_retain_on_failure_deletes_the_video_of_a_passing_run(browser: Browser, site_url: str,
                                                                   tmp_path: Path) -> None:
    data = native({"action": "navigate", "url": f"{site_url}/page2.html"},
                  {"action": "assertText", "selector": "#page2-text", "text": "You made it to page two"})
    result = await replay(browser, data, tmp_path, video="retain-on-failure")

    assert result.status == "passed", result.error
    assert result.artifacts == []
    assert file_names(tmp_path) == []


async def test_failure_messages(browser: Browser, site_url: str, tmp_path: Path) -> None:
    index = f"{site_url}/index.html"
    cases: list[tuple[dict[str, Any], str]] = [
        (native({"action": "navigate", "url": f"{site_url}/no-such-page.html"}),
         f"step 1 (navigate) [navigation_error]: navigation to {site_url}/no-such-page.html answered HTTP 404"),
        (native({"action": "navigate", "url": index},
                {"action": "click", "selector": "#revealed", "timeoutMs": 300}),
         'step 2 (click) [timeout]: no visible element matched selector "#revealed" within 300 ms '
         "(matched but hidden: '#revealed')"),
        (native({"action": "navigate", "url": index},
                {"action": "assertUrl", "url": f"{site_url}/page2.html", "timeoutMs": 200}),
         f'step 2 (assertUrl) [assertion_failed]: expected the URL to equal "{site_url}/page2.html" '
         f'but it was "{index}" '
         "(waited 200 ms)"),
        (native({"action": "navigate", "url": index},
                {"action": "waitForSelector", "selector": "h1", "state": "hidden", "timeoutMs": 200}),
         'step 2 (waitForSelector) [timeout]: an element matching selector "h1" was still visible after 200 ms'),
        (native({"action": "navigate", "url": index},
                {"action": "click", "selector": "[broken", "timeoutMs": 200}),
         'step 2 (click) [selector_not_found]: no element matched selector "[broken" within 200 ms (invalid: '),
        ({"title": "t", "steps": [
            {"type": "navigate", "url": index},
            {"type": "waitForExpression", "expression": "window.neverSet === true", "timeout": 300}]},
         "step 2 (waitForExpression) [timeout]: expression 'window.neverSet === true' was not truthy within 300 ms"),
        ({"title": "t", "steps": [
            {"type": "navigate", "url": index},
            {"type": "waitForElement", "selectors": [["h1"]], "properties": {"textContent": "nope"},
             "timeout": 300}]},
         'step 2 (waitForElement) [assertion_failed]: expected >= 1 visible element(s) matching selector "h1" '
         "with properties "
         "{'textContent': 'nope'} within 300 ms, found 1"),
        ({"title": "t", "steps": [
            {"type": "navigate", "url": index},
            {"type": "waitForElement", "selectors": [["#revealed"]], "timeout": 300}]},
         'step 2 (waitForElement) [timeout]: expected >= 1 visible element(s) matching selector "#revealed" '
         "within 300 ms, "
         "found 0"),
        ({"title": "t", "steps": [
            {"type": "navigate", "url": index},
            # The click itself must succeed first, even on a loaded machine: a roomier timeout.
            {"type": "click", "selectors": [["#reveal"]], "offsetX": 2, "offsetY": 2, "timeout": 3000,
             "assertedEvents": [{"type": "navigation", "url": f"{site_url}/page2.html", "title": ""}]}]},
         f"step 2 (click) [navigation_error]: expected a navigation to {site_url}/page2.html within 3000 ms, "
         "but none happened "
         f"(the page is at {index})"),
        ({"title": "t", "steps": [
            {"type": "navigate", "url": index},
            {"type": "keyDown", "key": "NoSuchKey"}]},
         "step 2 (keyDown) [script_error]: unknown key 'NoSuchKey'"),
    ]
    for number, (data, expected) in enumerate(cases):
        result = await replay(browser, data, tmp_path / str(number), video="off", screenshots="off")
        assert result.status == "failed", data
        failed = [step for step in result.steps if step.status == "failed"]
        assert len(failed) == 1
        assert failed[0].error is not None and failed[0].error.startswith(expected), failed[0].error


async def test_run_timeout_fails_the_run(browser: Browser, site_url: str, tmp_path: Path) -> None:
    data = native({"action": "navigate", "url": f"{site_url}/index.html"},
                  {"action": "waitForSelector", "selector": "#never", "timeoutMs": 20_000},
                  {"action": "click", "selector": "#submit"})
    result = await replay(browser, data, tmp_path, timeout_ms=3_000, video="off")

    assert result.status == "failed"
    assert [step.status for step in result.steps] == ["passed", "failed", "skipped"]
    assert result.error == "step 2 (waitForSelector) [timeout]: the run exceeded its timeout of 3000 ms"
    assert result.duration_ms < 15_000  # cut by the run's 3 s budget, not the step's 20 s


async def test_browser_gone_mid_run_is_an_error(browser: Browser, site_url: str, tmp_path: Path) -> None:
    async def close_browser_after_first_step(step: StepResult) -> None:
        if step.index == 0:
            await browser.close()

    data = native({"action": "navigate", "url": f"{site_url}/index.html"},
                  {"action": "click", "selector": "#submit"},
                  {"action": "click", "selector": "#reveal"})
    result = await replay(browser, data, tmp_path, on_step=close_browser_after_first_step)

    assert result.status == "error"
    assert [step.status for step in result.steps] == ["passed", "failed", "skipped"]
    assert result.error is not None
    assert result.error.startswith("step 2 (click) [browser_crashed]: the browser disconnected")
    assert result.category == "browser_crashed"

    again = await replay(browser, data, tmp_path / "again")  # a context cannot even be created now
    assert again.status == "error"
    assert again.error is not None and again.error.startswith("could not create a browser context")
    assert [step.status for step in again.steps] == ["skipped"] * 3


async def test_cancellation_propagates_and_closes_the_context(browser: Browser, site_url: str,
                                                              tmp_path: Path) -> None:
    first_step_done = asyncio.Event()

    async def on_step(step: StepResult) -> None:
        first_step_done.set()

    data = native({"action": "navigate", "url": f"{site_url}/index.html"},
                  {"action": "waitForSelector", "selector": "#never", "timeoutMs": 60_000})
    task = asyncio.create_task(replay(browser, data, tmp_path, on_step=on_step))
    await asyncio.wait_for(first_step_done.wait(), 10)
    assert len(browser.contexts) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert browser.contexts == []


async def test_concurrent_runs_share_one_browser(browser: Browser, site_url: str, tmp_path: Path) -> None:
    names = ["recorder-shadow-frames.json", "native-wrong-greeting.json", "recorder-missing-selector.json"]
    results = await asyncio.gather(*(
        replay(browser, load_recording(name, site_url), tmp_path / name,
               step_timeout_ms=1_000 if "missing" in name else 10_000)
        for name in names
    ))
    assert [result.status for result in results] == ["passed", "failed", "failed"]
    for name in names:
        assert video_seconds(tmp_path / name / "video.webm") > 0
    assert browser.contexts == []


@pytest.fixture
def no_browsers_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """PLAYWRIGHT_BROWSERS_PATH unset now, and put back as it was afterwards (prepare_playwright_env sets it)."""
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", "recorded-for-undo")
    monkeypatch.delenv("PLAYWRIGHT_BROWSERS_PATH")


@pytest.mark.usefixtures("no_browsers_path")
def test_prepare_playwright_env_links_ffmpeg_idempotently(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ffmpeg = find_ffmpeg()
    assert ffmpeg is not None
    revision = ffmpeg_revision()
    assert revision.isdigit()

    assert prepare_playwright_env(tmp_path) == tmp_path.resolve()
    link = tmp_path / f"ffmpeg-{revision}" / "ffmpeg-linux"
    assert link.is_symlink() and link.resolve() == ffmpeg
    assert os.environ["PLAYWRIGHT_BROWSERS_PATH"] == str(tmp_path.resolve())

    link.unlink()
    link.symlink_to(tmp_path / "stale-ffmpeg")  # a dangling link from an older install is replaced
    prepare_playwright_env(tmp_path)
    assert link.resolve() == ffmpeg
    prepare_playwright_env(tmp_path)  # and nothing changes the second time
    assert sorted(p.name for p in link.parent.iterdir()) == ["ffmpeg-linux"]

    # Without a base folder, an already set PLAYWRIGHT_BROWSERS_PATH is used.
    other = tmp_path / "configured"
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(other))
    assert prepare_playwright_env() == other.resolve()
    assert (other / f"ffmpeg-{revision}" / "ffmpeg-linux").resolve() == ffmpeg


@pytest.mark.usefixtures("no_browsers_path")
def test_prepare_playwright_env_without_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg on it
    monkeypatch.setattr("runner.replay.browser.SYSTEM_FFMPEG", str(tmp_path / "ffmpeg"))
    with pytest.raises(BrowserError, match="ffmpeg not found"):
        prepare_playwright_env(tmp_path / "browsers", require_ffmpeg=True)
    assert prepare_playwright_env(tmp_path / "browsers") == (tmp_path / "browsers").resolve()


async def test_launch_chromium_refuses_a_missing_executable(tmp_path: Path) -> None:
    with pytest.raises(BrowserError, match="not found"):
        async with launch_chromium(str(tmp_path / "chromium")):
            pass


async def test_a_failing_run_keeps_trace_html_console_and_network_log(browser: Browser, site_url: str,
                                                                      tmp_path: Path) -> None:

    data = {"title": "t", "steps": [
        {"type": "navigate", "url": f"{site_url}/index.html"},
        {"type": "waitForExpression", "expression": "(console.error('reprise-console-probe'), true)"},
        {"type": "waitForExpression",
         "expression": "setTimeout(() => { throw new Error('reprise-page-error') }), true"},
        {"type": "change", "value": "Ada", "selectors": [["#name"]]},
        {"type": "waitForElement", "selectors": [["#result"]], "properties": {"textContent": "never"},
         "timeout": 500},
    ]}
    result = await replay(browser, data, tmp_path, video="off", screenshots="off")

    assert result.status == "failed" and result.category == "assertion_failed"
    assert result.error is not None and result.error.startswith("step 5 (waitForElement) [assertion_failed]: ")
    by_kind = {artifact.kind: artifact for artifact in result.artifacts}
    assert set(by_kind) == {"trace", "html", "console", "har"}
    assert {artifact.step_index for artifact in result.artifacts} == {4}
    with zipfile.ZipFile(by_kind["trace"].path) as trace:
        assert any(name.endswith(".trace") for name in trace.namelist())
    html = by_kind["html"].path.read_text()
    assert "Reprise fixture shop" in html and 'value="Ada"' not in html  # the DOM as it was, typed value aside
    console = by_kind["console"].path.read_text()
    assert "[error] reprise-console-probe" in console and "reprise-page-error" in console
    har = json.loads(by_kind["har"].path.read_text())
    assert any(entry["request"]["url"] == f"{site_url}/index.html" for entry in har["log"]["entries"])
    assert by_kind["har"].content_type == "application/json"


async def test_a_passing_run_keeps_no_failure_artifacts(browser: Browser, site_url: str, tmp_path: Path) -> None:
    data = native({"action": "navigate", "url": f"{site_url}/page2.html"})
    result = await replay(browser, data, tmp_path, video="off", screenshots="off")
    assert result.status == "passed" and result.category is None
    assert result.artifacts == [] and file_names(tmp_path) == []
    traced = await replay(browser, data, tmp_path / "traced", video="off", screenshots="off", trace="on")
    assert [artifact.kind for artifact in traced.artifacts] == ["trace"]


async def test_run_options_shape_the_browser_context(browser: Browser, site_url: str, tmp_path: Path) -> None:

    host = site_url.split("//", 1)[1].split(":")[0]
    recorded = {"title": "recorded on another host", "steps": [
        {"type": "setViewport", "width": 1024, "height": 768, "deviceScaleFactor": 1, "isMobile": False,
         "hasTouch": False, "isLandscape": False},
        {"type": "navigate", "url": "http://recorded-here.invalid/index.html"},
        {"type": "waitForExpression", "expression": "window.innerWidth === 900 && window.innerHeight === 650"},
        {"type": "waitForExpression", "expression": "navigator.language === 'de-DE'"},
        {"type": "waitForExpression",
         "expression": "Intl.DateTimeFormat().resolvedOptions().timeZone === 'Asia/Tokyo'"},
        {"type": "waitForExpression", "expression": "document.cookie.includes('session=logged-in')"},
        {"type": "waitForElement", "selectors": [["#never-there"]], "timeout": 300},
    ]}
    result = await replay(
        browser, recorded, tmp_path, video="off", screenshots="off", viewport={"width": 900, "height": 650},
        locale="de-DE", timezone_id="Asia/Tokyo", base_url=site_url, extra_http_headers={"X-Reprise-Run": "42"},
        storage_state={"cookies": [{"name": "session", "value": "logged-in", "domain": host, "path": "/",
                                    "expires": -1, "httpOnly": False, "secure": False, "sameSite": "Lax"}],
                       "origins": []},
    )
    # Everything up to the deliberate last failure held: viewport, locale, time zone, cookie, new host.
    assert [step.status for step in result.steps] == ["passed"] * 6 + ["failed"], result.error
    har = json.loads((tmp_path / "network.har").read_text())
    [page_request] = [entry["request"] for entry in har["log"]["entries"]
                      if entry["request"]["url"] == f"{site_url}/index.html"]
    assert {"name": "X-Reprise-Run", "value": "42"} in page_request["headers"]


async def test_navigation_timeout_applies_to_page_loads_only(browser: Browser, site_url: str, tmp_path: Path) -> None:
    import socket

    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        data = native({"action": "navigate", "url": f"http://127.0.0.1:{port}/never"})
        result = await replay(browser, data, tmp_path, video="off", screenshots="off",
                              step_timeout_ms=30_000, navigation_timeout_ms=800)
    assert result.status == "failed" and result.category == "navigation_error"
    assert result.error is not None and "within 800 ms" in result.error


async def test_device_emulation(browser: Browser, site_url: str, tmp_path: Path) -> None:
    from contract.devices import device_descriptor

    iphone = device_descriptor("iPhone 13")
    assert iphone is not None
    data = {"title": "mobile", "steps": [
        {"type": "setViewport", "width": 1024, "height": 768, "deviceScaleFactor": 1, "isMobile": False,
         "hasTouch": False, "isLandscape": False},
        {"type": "navigate", "url": f"{site_url}/index.html"},
        {"type": "waitForExpression", "expression":
            # A mobile layout viewport is 980 px wide without a meta viewport tag; the screen is the device's.
            f"screen.width === {iphone['screen']['width']} && navigator.userAgent.includes('iPhone')"
            " && navigator.maxTouchPoints > 0 && window.devicePixelRatio === 3"},
    ]}
    result = await replay(browser, data, tmp_path, video="off", screenshots="off", device="iPhone 13")
    assert result.status == "passed", result.error


def trace_event_types(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as trace:
        return {json.loads(line)["type"] for name in trace.namelist() if name.endswith(".trace")
                for line in trace.read(name).decode().splitlines() if line.strip()}


async def test_an_on_failure_trace_holds_the_actions_and_a_full_trace_is_asked_for(
        browser: Browser, site_url: str, tmp_path: Path) -> None:
    """The DOM snapshots and screenshots of a trace cost a fifth of a short run: an on-failure trace holds the
    actions (page.html, the failure screenshot and the video show the page); `trace: on` records them too."""
    data = native({"action": "navigate", "url": f"{site_url}/index.html"},
                  {"action": "click", "selector": "#reveal"},
                  {"action": "assertText", "selector": "#heading-that-is-not-there", "text": "x", "timeoutMs": 500})
    kinds: dict[str, set[str]] = {}
    for name, options in {"video": {"video": "on"}, "no video": {"video": "off"},
                          "asked": {"video": "off", "trace": "on"}}.items():
        result = await replay(browser, data, tmp_path / name, **options)
        assert result.status == "failed", result.error
        assert {artifact.kind for artifact in result.artifacts} >= {"trace", "html", "console", "har", "screenshot"}
        trace = next(artifact for artifact in result.artifacts if artifact.kind == "trace")
        kinds[name] = trace_event_types(trace.path)
    for light in ("video", "no video"):
        assert "before" in kinds[light] and "after" in kinds[light]  # each action, with its timing
        assert "frame-snapshot" not in kinds[light] and "screencast-frame" not in kinds[light]
    assert {"before", "frame-snapshot", "screencast-frame"} <= kinds["asked"]


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]  # the signature, then the IHDR chunk: width and height, big-endian
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


async def test_the_failure_screenshot_shows_the_whole_page_unless_asked_otherwise(
        browser: Browser, site_url: str, tmp_path: Path) -> None:
    """widgets.html is over 2000 px tall in a 1280x720 viewport."""
    data = native({"action": "navigate", "url": f"{site_url}/widgets.html"},
                  {"action": "assertVisible", "selector": "#not-on-this-page", "timeoutMs": 500})
    sizes = {}
    cases: dict[str, dict[str, Any]] = {"default": {}, "viewport": {"screenshots_full_page": False},
                                        "every step": {"screenshots": "every-step"}}
    for name, options in cases.items():
        result = await replay(browser, data, tmp_path / name, video="off", trace="off",
                              viewport={"width": 1280, "height": 720}, **options)
        assert result.status == "failed", result.error
        sizes[name] = {artifact.step_index: png_size(artifact.path) for artifact in result.artifacts
                       if artifact.kind == "screenshot"}
    assert sizes["default"][1][0] == 1280 and sizes["default"][1][1] > 2000
    assert sizes["viewport"] == {1: (1280, 720)}
    # Every-step screenshots of passing steps stay the viewport's; the failing step's shows the whole page.
    assert sizes["every step"][0] == (1280, 720) and sizes["every step"][1][1] > 2000
