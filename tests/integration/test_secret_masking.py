"""Secrets kept out of a run's pixels and trace, and regions masked by selector, in a real Chromium.

Pixels cannot be searched for text, so each check is a comparison: the same page typed with the value as a plain
variable (it shows) and as a secret (it must not), in the step screenshots and in the video frames ffmpeg decodes.
The trace archive is searched byte by byte for the value in each of its encodings, in both runs (the plain run's
holds it, so the search can fail), and the scrubbed archive is opened in Playwright's own trace viewer.
"""

from __future__ import annotations

import base64
import html
import json
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from media import Box, Picture, decode, differing, ink, painted, trace_viewer
from playwright.async_api import Browser

from contract.options import RunOptions, ViewportSize
from contract.results import RunResult
from runner.formats import prepare_script
from runner.replay import PlaywrightRunner

# Distinctive, and with what each encoding changes: a space, /, +, &, <, and letters outside ASCII.
SECRET = "Zq7 Sécrét/Vålue+&<x>-4711"
WIDTH, HEIGHT = 800, 600  # the video is the viewport's size, so boxes are the same in both
VIEWPORT = ViewportSize(width=WIDTH, height=HEIGHT)


def typing_script(site_url: str) -> dict[str, Any]:
    return {"version": 1, "name": "log in", "steps": [
        {"action": "navigate", "url": f"{site_url}/secret.html"},
        {"action": "click", "selector": "#token"},  # focused and empty: the field's look before typing
        {"action": "fill", "selector": "#token", "value": "${TOKEN}"},
        {"action": "type", "selector": "#pin", "value": "${TOKEN}"},
        {"action": "click", "selector": "#send"},  # posts it as JSON and sends it in a query string
        {"action": "assertText", "selector": "#status", "text": "sent"},
        # The typed state stays on screen a while: a loaded machine's video and trace screencast still take frames
        # of it before the run ends (the plain run's frames must show the value for the test to mean anything).
        {"action": "wait", "ms": 1000},
    ]}


async def typed_run(browser: Browser, site_url: str, output_dir: Path, *, secret: bool,
                    **options: Any) -> RunResult:
    """The typing script with TOKEN = SECRET, given as a secret or as a plain variable."""
    values = {"TOKEN": SECRET}
    names: dict[str, Any] = {"secrets": ["TOKEN"]} if secret else {"variables": values}
    script = prepare_script(typing_script(site_url), {} if secret else values, values if secret else {})
    return await PlaywrightRunner(browser).run(script, RunOptions(viewport=VIEWPORT, **names, **options),
                                               output_dir, secret_values=[SECRET] if secret else ())


def encodings(value: str) -> set[bytes]:
    """The value as any file of a trace may hold it."""
    data = value.encode()
    found = {data, value.encode("utf-16-le"), json.dumps(value)[1:-1].encode(),
             json.dumps(value, ensure_ascii=False)[1:-1].encode(), quote(value, safe="").encode(),
             quote(value).encode(), quote_plus(value).encode(), html.escape(value).encode(), base64.b64encode(data)}
    for shift in (1, 2):  # inside a longer base64 body: the characters that depend on the value alone
        found.add(base64.b64encode(b"\0" * shift + data)[4:(shift + len(data)) // 3 * 4])
    return found


def files_holding(trace: Path, value: str) -> dict[str, list[bytes]]:
    spellings = encodings(value)
    with zipfile.ZipFile(trace) as archive:
        assert archive.testzip() is None  # every member's CRC checks out
        held = {name: [spelling for spelling in spellings if spelling in archive.read(name)]
                for name in archive.namelist()}
    return {name: found for name, found in held.items() if found}


async def boxes(browser: Browser, site_url: str) -> dict[str, Box]:
    """The fields' insides (inset past their 2 px border) and the sensitive paragraph, before and after it moves."""
    context = await browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    page = await context.new_page()
    await page.goto(f"{site_url}/secret.html")

    async def box(selector: str, inset: int) -> Box:
        found = await page.locator(selector).bounding_box()
        assert found is not None
        return (round(found["x"]) + inset, round(found["y"]) + inset, round(found["width"]) - 2 * inset,
                round(found["height"]) - 2 * inset)

    measured = {"token": await box("#token", 5), "pin": await box("#pin", 5), "account": await box("#account", 3)}
    await page.click("#grow")
    measured["account moved"] = await box("#account", 3)
    await context.close()
    return measured


def screenshot(result: RunResult, step: int) -> Picture:
    path = next(a.path for a in result.artifacts if a.kind == "screenshot" and a.step_index == step)
    return decode(path)[0]


def frames(result: RunResult) -> list[Picture]:
    video = next(a.path for a in result.artifacts if a.kind == "video")
    decoded = decode(video, fps=5)
    assert len(decoded) >= 3
    return decoded


def trace_frames(result: RunResult, folder: Path) -> list[Picture]:
    """The screencast frames of the run's trace, decoded."""
    trace = next(a.path for a in result.artifacts if a.kind == "trace")
    folder.mkdir()
    with zipfile.ZipFile(trace) as archive:
        names = [name for name in archive.namelist() if name.startswith("screencast/")]
        for index, name in enumerate(names):
            (folder / f"{index:03}.jpeg").write_bytes(archive.read(name))
    pictures = [decode(path)[0] for path in sorted(folder.iterdir())]
    sized = [(picture.width, picture.height) == (WIDTH, HEIGHT) for picture in pictures]
    # The screencast's first frames may come before the viewport is set (seen: 800x506 under load, about one run in
    # eight): only leading frames, before the page is typed into; every later frame has the viewport's size.
    first = sized.index(True)
    assert all(sized[first:]) and len(pictures) - first >= 2, [(p.width, p.height) for p in pictures]
    return pictures[first:]


async def test_a_typed_secret_never_renders_and_is_scrubbed_from_the_trace(
        browser: Browser, site_url: str, tmp_path: Path) -> None:
    where = await boxes(browser, site_url)
    runs = {}
    for name in ("plain", "secret"):
        runs[name] = await typed_run(browser, site_url, tmp_path / name, secret=name == "secret", video="on",
                                     screenshots="every-step", trace="on")
        assert runs[name].status == "passed", runs[name].error
    plain, secret = runs["plain"], runs["secret"]

    # Screenshots: step 1 is the focused empty field, step 2 after `fill`, step 3 after `type`.
    for field, typed_at in (("token", 2), ("pin", 3)):
        empty = screenshot(secret, 1).pixels(where[field])
        assert differing(screenshot(plain, typed_at).pixels(where[field]), empty) > 0.03  # the value shows
        assert differing(screenshot(secret, typed_at).pixels(where[field]), empty) < 0.002  # looks empty
        assert differing(screenshot(secret, typed_at).pixels(where[field]),
                         screenshot(plain, typed_at).pixels(where[field])) > 0.03
        for step in range(len(secret.steps)):
            assert ink(screenshot(secret, step).pixels(where[field])) < 0.002, (field, step)

    # Video: in every decoded frame of the secret run both fields are blank; the plain run's show the value.
    plain_frames, secret_frames = frames(plain), frames(secret)
    for field in ("token", "pin"):
        assert max(ink(frame.pixels(where[field])) for frame in plain_frames) > 0.03
        assert max(ink(frame.pixels(where[field])) for frame in secret_frames) < 0.002, field
        assert differing(secret_frames[-1].pixels(where[field]), plain_frames[-1].pixels(where[field])) > 0.03

    # The trace's own screencast frames (JPEG, the viewer's filmstrip): the same.
    plain_filmstrip = trace_frames(plain, tmp_path / "plain-frames")
    secret_filmstrip = trace_frames(secret, tmp_path / "secret-frames")
    for field in ("token", "pin"):
        assert max(ink(frame.pixels(where[field])) for frame in plain_filmstrip) > 0.03
        assert max(ink(frame.pixels(where[field])) for frame in secret_filmstrip) < 0.002, field

    # Trace: recorded for both; the plain run's holds the value (actions, DOM snapshots, network), the secret
    # run's has no file with it in any encoding.
    traces = {name: next(a.path for a in run.artifacts if a.kind == "trace") for name, run in runs.items()}
    held = files_holding(traces["plain"], SECRET)
    assert "trace.trace" in held and "trace.network" in held
    assert quote(SECRET, safe="").encode() in held["trace.network"]  # the query string, URL-encoded
    assert any(name.startswith("resources/") for name in held)  # the posted JSON body
    assert files_holding(traces["secret"], SECRET) == {}
    with zipfile.ZipFile(traces["secret"]) as archive:
        names = set(archive.namelist())
        actions = archive.read("trace.trace").decode()
    assert {"trace.trace", "trace.network"} <= names
    assert any(name.startswith("screencast/") for name in names)  # the trace's own frames are kept: pixels masked
    assert '"value":"***"' in actions  # the fill's parameter
    assert '"__playwright_value_":"***"' in actions  # the field in the DOM snapshots
    for line in actions.splitlines():
        json.loads(line)  # still JSON lines


async def test_the_scrubbed_trace_opens_in_playwrights_trace_viewer(
        browser: Browser, site_url: str, tmp_path: Path) -> None:
    result = await typed_run(browser, site_url, tmp_path, secret=True, video="off", trace="on")
    assert result.status == "passed", result.error
    trace = next(a.path for a in result.artifacts if a.kind == "trace")

    async with trace_viewer(trace) as url:
        page = await browser.new_page()
        try:
            await page.goto(url, timeout=60_000)
            fill = page.locator(".action-title", has_text='Fill "***"')
            await fill.wait_for(timeout=60_000)
            titles = await page.locator(".action-title").all_inner_texts()
            shown = await page.locator("body").inner_text()
            await fill.click()
            await page.get_by_text("After", exact=True).click()
            snapshot = page.frame_locator("iframe.snapshot-visible").locator("#token")
            await snapshot.wait_for(timeout=60_000)
            value = await snapshot.input_value()
        finally:
            await page.close()
    assert any(title.startswith('Fill "***"') for title in titles), titles
    assert any(title.startswith('Type "***"') for title in titles), titles
    assert SECRET not in shown
    assert value == "***"  # the DOM snapshot after the fill holds the scrubbed value


async def test_mask_selectors_paint_regions_out_of_screenshots_and_video(
        browser: Browser, site_url: str, tmp_path: Path) -> None:
    where = await boxes(browser, site_url)
    script = {"version": 1, "name": "account", "steps": [
        {"action": "navigate", "url": f"{site_url}/secret.html"},
        {"action": "wait", "ms": 600},  # the page as loaded, long enough for frames sampled 5 a second
        {"action": "click", "selector": "#grow"},  # moves the paragraph down: the mask follows it
        {"action": "assertVisible", "selector": "#banner"},
        {"action": "navigate", "url": f"{site_url}/secret.html?again=1"},  # a new document: masked again
        {"action": "click", "selector": "#grow"},
        {"action": "assertVisible", "selector": "#banner"},
    ]}
    result = await PlaywrightRunner(browser).run(
        prepare_script(script, {}, {}), RunOptions(viewport=VIEWPORT, video="on", screenshots="every-step",
                                                   mask_selectors=["#account"]), tmp_path)
    assert result.status == "passed", result.error

    assert painted(screenshot(result, 0).pixels(where["account"])) > 0.98
    for step in (3, 6):
        assert painted(screenshot(result, step).pixels(where["account moved"])) > 0.98
        assert painted(screenshot(result, step).pixels(where["account"])) < 0.02  # the banner is there now
    for step in range(7):
        assert painted(screenshot(result, step).pixels(where["token"])) == 0  # only the selector's region

    video = frames(result)
    for frame in video:  # the paragraph's text shows in no frame, where it was or where it moved
        assert ink(frame.pixels(where["account"])) < 0.01
        assert ink(frame.pixels(where["account moved"])) < 0.01
    assert any(painted(frame.pixels(where["account"])) > 0.9 for frame in video)
    assert painted(video[-1].pixels(where["account moved"])) > 0.9
    assert painted(video[-1].pixels(where["token"])) < 0.01


async def test_without_masks_the_regions_show(browser: Browser, site_url: str, tmp_path: Path) -> None:
    """The control for the mask test: the same page unmasked shows the paragraph's text in pixels."""
    where = await boxes(browser, site_url)
    script = {"version": 1, "name": "account", "steps": [{"action": "navigate", "url": f"{site_url}/secret.html"}]}
    result = await PlaywrightRunner(browser).run(
        prepare_script(script, {}, {}), RunOptions(viewport=VIEWPORT, video="on", screenshots="every-step"),
        tmp_path)
    assert result.status == "passed", result.error
    assert ink(screenshot(result, 0).pixels(where["account"])) > 0.03
    assert painted(screenshot(result, 0).pixels(where["account"])) == 0
    assert ink(frames(result)[-1].pixels(where["account"])) > 0.03


async def test_a_mask_selector_that_is_not_css_fails_the_run_before_its_first_step(
        browser: Browser, site_url: str, tmp_path: Path) -> None:
    """It would mask nothing in the video: the run does not go ahead showing what it was asked to hide."""
    script = {"version": 1, "name": "account", "steps": [{"action": "navigate", "url": f"{site_url}/secret.html"}]}
    result = await PlaywrightRunner(browser).run(
        prepare_script(script, {}, {}), RunOptions(video="off", mask_selectors=["#account", "div >> #account"]),
        tmp_path)
    assert (result.status, result.category) == ("failed", "script_error")
    assert result.error == "maskSelectors: 'div >> #account' is not a valid CSS selector, so it would mask nothing"
    assert [step.status for step in result.steps] == ["skipped"]
