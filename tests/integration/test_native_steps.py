"""Every native action and assertion kind replayed in a real Chromium against the fixture site
(tests/site/widgets.html), passing and failing with the step, selector, expected and actual values named."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

from playwright.async_api import Browser

from contract.options import RunOptions
from contract.results import ArtifactFile, RunResult
from runner.formats import parse_script
from runner.replay import PlaywrightRunner
from runner.replay.context import StepContext
from runner.replay.executor import StepExecutor
from runner.replay.registry import HANDLERS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAVIGATE = {"action": "navigate", "url": "http://127.0.0.1:8000/widgets.html"}


def native(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "name": "inline", "steps": list(steps)}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def replay(browser: Browser, data: dict[str, Any], output_dir: Path) -> RunResult:
    return await PlaywrightRunner(browser).run(parse_script(data), RunOptions(video="off", screenshots="off",
                                                                               trace="off"), output_dir)


def assert_passed(result: RunResult) -> None:
    assert result.status == "passed", result.error
    assert all(step.status == "passed" for step in result.steps)


async def test_mouse_keyboard_and_form_actions(browser: Browser, site_url: str, tmp_path: Path) -> None:
    result = await replay(browser, native(
        {"action": "navigate", "url": f"{site_url}/widgets.html"},
        {"action": "click", "selector": "#pad", "button": "right", "offset": {"x": 10, "y": 20}},
        {"action": "assertText", "selector": "#pad-status", "text": "button 2 detail 1 mods none at 10,20"},
        {"action": "click", "selector": "#pad", "button": "middle", "modifiers": ["Shift", "Alt"],
         "offset": {"x": 5, "y": 6}},
        {"action": "assertText", "selector": "#pad-status", "text": "button 1 detail 1 mods altKey+shiftKey at 5,6"},
        {"action": "click", "selector": "#pad", "modifiers": ["Control", "Meta"], "clickCount": 2},
        {"action": "assertText", "selector": "#pad-status", "text": "mods ctrlKey+metaKey", "match": "contains"},
        {"action": "click", "selector": "#multi", "clickCount": 3},
        {"action": "assertText", "selector": "#multi-status", "text": "clicks 3"},
        {"action": "dblclick", "selector": "#multi"},
        {"action": "assertText", "selector": "#multi-status", "text": r"^clicks 5$", "match": "matches"},
        {"action": "fill", "selector": "#field", "value": "ab"},
        {"action": "type", "selector": "#field", "value": "xy", "delayMs": 10},
        {"action": "press", "selector": "#field", "key": "Enter"},
        {"action": "keyDown", "key": "Shift"},
        {"action": "keyUp", "key": "Shift"},
        {"action": "assertValue", "selector": "#field", "value": "abxy"},
        {"action": "assertValue", "selector": "#field", "value": "^ab", "match": "matches"},
        {"action": "assertText", "selector": "#keys", "text": "x y Enter Shift"},
        {"action": "check", "selector": "#agree"},
        {"action": "uncheck", "selector": "#news"},
        {"action": "check", "selector": "#agree"},
        {"action": "assertText", "selector": "#check-status", "text": "agree true news false"},
        {"action": "upload", "selector": "#file", "files": [
            {"name": "a.txt", "mimeType": "text/plain", "contentBase64": b64("hello")},
            {"name": "b.json", "mimeType": "application/json", "contentBase64": b64("{}")}]},
        {"action": "assertText", "selector": "#file-status",
         "text": "a.txt text/plain hello; b.json application/json {}"},
        {"action": "dragAndDrop", "selector": "#item-a", "target": "#target"},
        {"action": "assertCount", "selector": "#target li", "count": 1},
        {"action": "assertText", "selector": "#target", "text": "Apple"},
        {"action": "navigate", "url": f"{site_url}/index.html"},
        {"action": "hover", "selector": "#hover-target"},
        {"action": "assertText", "selector": "#hover-status", "text": "hovered"},
        {"action": "select", "selector": "#plan", "value": "pro"},
        {"action": "assertValue", "selector": "#plan", "value": "pro"},
    ), tmp_path)
    assert_passed(result)
    assert result.steps[3].selector == "#pad"


async def test_waits_scrolls_and_assertions(browser: Browser, site_url: str, tmp_path: Path) -> None:
    result = await replay(browser, native(
        {"action": "navigate", "url": f"{site_url}/widgets.html"},
        {"action": "waitForLoadState", "state": "networkidle"},
        {"action": "waitForLoadState", "state": "domcontentloaded"},
        {"action": "waitForUrl", "url": "/widgets.html", "match": "contains"},
        {"action": "waitForUrl", "url": r"^http://127\.0\.0\.1:\d+/widgets\.html$", "match": "matches"},
        {"action": "wait", "ms": 50},
        {"action": "waitForFunction", "expression": "document.readyState === 'complete'"},
        {"action": "scroll", "y": 500},
        {"action": "waitForFunction", "expression": "window.scrollY === 500"},
        {"action": "scroll", "selector": "#far"},
        {"action": "waitForFunction", "expression": "window.scrollY > 1500"},
        {"action": "scroll", "selector": "#box", "x": 100, "y": 50},
        {"action": "waitForFunction", "expression": "document.getElementById('box').scrollTop === 50"},
        {"action": "assertHidden", "selector": "#ghost"},
        {"action": "assertHidden", "selector": "#no-such-element"},
        {"action": "assertAttribute", "selector": "#heading", "name": "data-kind", "value": "fixture"},
        {"action": "assertAttribute", "selector": "#heading", "name": "data-kind", "value": "ixt", "match": "contains"},
        {"action": "assertAttribute", "selector": "#heading", "name": "data-count", "value": r"^\d$",
         "match": "matches"},
        {"action": "assertCount", "selector": "#items li", "count": 5},
        {"action": "assertCount", "selector": "#items li", "count": 3, "operator": ">="},
        {"action": "assertCount", "selector": "#items li", "count": 5, "operator": "<="},
        {"action": "assertCount", "selector": "#none li", "count": 0},
        {"action": "assertTitle", "text": "Reprise fixture: widgets"},
        {"action": "assertTitle", "text": "widgets", "match": "contains"},
        {"action": "assertTitle", "text": r"^Reprise fixture: w\w+s$", "match": "matches"},
        {"action": "assertUrl", "url": r"/widgets\.html$", "match": "matches"},
        {"action": "screenshot", "name": "page"},
        {"action": "screenshot", "name": "heading", "selector": "#heading"},
    ), tmp_path)
    assert_passed(result)
    shots = sorted(artifact.path.name for artifact in result.artifacts if artifact.kind == "screenshot")
    assert shots == ["screenshot-heading.png", "screenshot-page.png"]
    # Each is filed under the step that took it (the last two steps), so the dashboard shows it there.
    last = len(result.steps) - 1
    assert {a.path.name: a.step_index for a in result.artifacts if a.kind == "screenshot"} == {
        "screenshot-page.png": last - 1, "screenshot-heading.png": last}
    assert all((tmp_path / name).read_bytes()[:4] == b"\x89PNG" for name in shots)


async def test_frames_pages_and_dialogs(browser: Browser, site_url: str, tmp_path: Path) -> None:
    result = await replay(browser, native(
        {"action": "navigate", "url": f"{site_url}/widgets.html"},
        {"action": "switchToFrame", "selector": "#widget-frame"},
        {"action": "fill", "selector": "#inner-input", "value": "hi"},
        {"action": "click", "selector": "#inner-button"},
        {"action": "assertText", "selector": "#inner-result", "text": "copied: hi"},
        {"action": "waitForFunction", "expression": "document.title.includes('inside the iframe')"},
        {"action": "switchToMainFrame"},
        {"action": "assertVisible", "selector": "#heading"},
        {"action": "handleDialog", "accept": True, "promptText": "Ada"},
        {"action": "click", "selector": "#prompt"},
        {"action": "assertText", "selector": "#dialog-status", "text": "answer Ada"},
        {"action": "handleDialog", "accept": True},
        {"action": "click", "selector": "#confirm"},
        {"action": "assertText", "selector": "#dialog-status", "text": "confirmed"},
        {"action": "click", "selector": "#prompt"},  # not armed: dismissed, as Playwright does by default
        {"action": "assertText", "selector": "#dialog-status", "text": "no answer"},
        {"action": "handleDialog", "accept": False},
        {"action": "click", "selector": "#confirm"},
        {"action": "assertText", "selector": "#dialog-status", "text": "cancelled"},
        {"action": "click", "selector": "#popup"},
        {"action": "switchToPage", "urlContains": "page2.html"},
        {"action": "assertText", "selector": "#page2-text", "text": "You made it to page two"},
        {"action": "waitForUrl", "url": "page2.html", "match": "contains"},
        {"action": "assertTitle", "text": "page two", "match": "contains"},
        {"action": "switchToPage", "index": 0},
        {"action": "assertTitle", "text": "Reprise fixture: widgets"},
        {"action": "switchToPage", "index": 1},
        {"action": "assertUrl", "url": "page2.html", "match": "contains"},
    ), tmp_path)
    assert_passed(result)
    assert result.steps[1].selector == "#widget-frame"
    assert result.steps[2].selector == "#widget-frame >> #inner-input"


async def test_named_screenshots_are_written_where_the_step_context_is_told(browser: Browser, site_url: str,
                                                                            tmp_path: Path) -> None:
    context = await browser.new_context()
    try:
        steps = StepContext(context, await context.new_page())
        executor = StepExecutor(HANDLERS)
        script = parse_script(native({"action": "navigate", "url": f"{site_url}/widgets.html"},
                                     {"action": "screenshot", "name": "in-memory"}))
        for step in script.steps:
            await executor.execute(steps, step, 5_000)
        assert steps.captured["in-memory"][:8] == PNG_MAGIC

        artifacts: list[ArtifactFile] = []
        steps.keep_screenshots(tmp_path, artifacts)
        script = parse_script(native({"action": "navigate", "url": f"{site_url}/widgets.html"},
                                     {"action": "screenshot", "name": "full", "fullPage": True},
                                     {"action": "screenshot", "name": "heading", "selector": "#heading"}))
        for step in script.steps:
            await executor.execute(steps, step, 5_000)
    finally:
        await context.close()
    assert [(a.kind, a.path.name, a.content_type) for a in artifacts] == [
        ("screenshot", "screenshot-full.png", "image/png"), ("screenshot", "screenshot-heading.png", "image/png")]
    assert all(a.path.read_bytes()[:8] == PNG_MAGIC for a in artifacts)


FAILURES: list[tuple[list[dict[str, Any]], str]] = [
    ([{"action": "click", "selector": "#nope"}],
     'step 2 (click) [selector_not_found]: no element matched selector "#nope" within 2000 ms'),
    ([{"action": "click", "selector": "#nope", "modifiers": ["Shift"]}],
     'step 2 (click) [selector_not_found]: no element matched selector "#nope" within 2000 ms'),
    ([{"action": "dblclick", "selector": "#ghost"}],
     'step 2 (dblclick) [timeout]: no visible element matched selector "#ghost" within 2000 ms'),
    ([{"action": "hover", "selector": "#nope"}],
     'step 2 (hover) [selector_not_found]: no element matched selector "#nope" within 2000 ms'),
    ([{"action": "fill", "selector": "#nope", "value": "x"}],
     'step 2 (fill) [selector_not_found]: no element matched selector "#nope" within 2000 ms'),
    ([{"action": "type", "selector": "#ghost", "value": "x"}],
     'step 2 (type) [timeout]: no visible element matched selector "#ghost" within 2000 ms'),
    ([{"action": "press", "key": "NoSuchKey"}], "step 2 (press) [script_error]: unknown key 'NoSuchKey'"),
    ([{"action": "keyDown", "key": "NoSuchKey"}], "step 2 (keyDown) [script_error]: unknown key 'NoSuchKey'"),
    ([{"action": "keyUp", "key": "NoSuchKey"}], "step 2 (keyUp) [script_error]: unknown key 'NoSuchKey'"),
    ([{"action": "navigate", "url": "{site}/index.html"}, {"action": "select", "selector": "#plan", "value": "gold"}],
     "step 3 (select) [timeout]: element matched selector \"#plan\" but could not be set to option 'gold' within "
     "2000 ms"),
    ([{"action": "check", "selector": "#frozen"}],
     'step 2 (check) [timeout]: element matched selector "#frozen" but could not be checked within 2000 ms'),
    ([{"action": "uncheck", "selector": "#field"}],
     'step 2 (uncheck) [script_error]: element matched selector "#field" but could not be unchecked: '),
    ([{"action": "upload", "selector": "#single", "files": [{"name": "a", "contentBase64": ""},
                                                             {"name": "b", "contentBase64": ""}]}],
     'step 2 (upload) [script_error]: element matched selector "#single" but could not be given files: '),
    ([{"action": "scroll", "selector": "#nope"}],
     'step 2 (scroll) [selector_not_found]: no element matched selector "#nope" within 2000 ms'),
    ([{"action": "dragAndDrop", "selector": "#item-a", "target": "#nope"}],
     'step 2 (dragAndDrop) [selector_not_found]: no element matched selector "#nope" within 2000 ms'),
    ([{"action": "waitForSelector", "selector": "#nope"}],
     'step 2 (waitForSelector) [selector_not_found]: no element matched selector "#nope" within 2000 ms'),
    ([{"action": "waitForUrl", "url": "nowhere", "match": "contains"}],
     'step 2 (waitForUrl) [timeout]: expected the URL to contain "nowhere" but it was "{site}/widgets.html" '
     "(waited 2000 ms)"),
    ([{"action": "navigate", "url": "{site}/busy.html"}, {"action": "waitForLoadState", "state": "networkidle"}],
     'step 3 (waitForLoadState) [timeout]: the page did not reach load state "networkidle" within 2000 ms '
     "(it is at {site}/busy.html)"),
    ([{"action": "waitForFunction", "expression": "window.never"}],
     "step 2 (waitForFunction) [timeout]: expression 'window.never' was not truthy within 2000 ms"),
    ([{"action": "waitForFunction", "expression": "null.x"}],
     "step 2 (waitForFunction) [script_error]: expression 'null.x' failed: "),
    ([{"action": "assertVisible", "selector": "#ghost"}],
     'step 2 (assertVisible) [assertion_failed]: no visible element matched selector "#ghost" within 2000 ms'),
    ([{"action": "assertHidden", "selector": "#heading"}],
     'step 2 (assertHidden) [assertion_failed]: expected no visible element matching selector "#heading" but 1 '
     "visible (waited 2000 ms)"),
    ([{"action": "assertText", "selector": "#heading", "text": "^Gadgets", "match": "matches"}],
     'step 2 (assertText) [assertion_failed]: expected the text of "#heading" to match "^Gadgets" but it was '
     '"Widgets" (waited 2000 ms)'),
    ([{"action": "assertText", "selector": "#heading", "text": "Gadgets"}],
     'step 2 (assertText) [assertion_failed]: expected the text of "#heading" to equal "Gadgets" but it was '
     '"Widgets" (waited 2000 ms)'),
    ([{"action": "assertValue", "selector": "#locked", "value": "loose"}],
     'step 2 (assertValue) [assertion_failed]: expected the value of "#locked" to equal "loose" but it was '
     '"fixed" (waited 2000 ms)'),
    ([{"action": "assertValue", "selector": "#nope", "value": "x"}],
     'step 2 (assertValue) [selector_not_found]: no element matched selector "#nope" within 2000 ms'),
    ([{"action": "assertAttribute", "selector": "#heading", "name": "data-kind", "value": "other"}],
     'step 2 (assertAttribute) [assertion_failed]: expected the attribute "data-kind" of "#heading" to equal '
     '"other" but it was "fixture" (waited 2000 ms)'),
    ([{"action": "assertAttribute", "selector": "#heading", "name": "data-x", "value": "1", "match": "contains"}],
     'step 2 (assertAttribute) [assertion_failed]: expected the attribute "data-x" of "#heading" to contain "1" '
     "but the element has no such attribute (waited 2000 ms)"),
    ([{"action": "assertCount", "selector": "#items li", "count": 4}],
     'step 2 (assertCount) [assertion_failed]: expected == 4 element(s) matching selector "#items li" but found 5 '
     "(waited 2000 ms)"),
    ([{"action": "assertCount", "selector": "#items li", "count": 6, "operator": ">="}],
     'step 2 (assertCount) [assertion_failed]: expected >= 6 element(s) matching selector "#items li" but found 5 '
     "(waited 2000 ms)"),
    ([{"action": "assertUrl", "url": "page2", "match": "matches"}],
     'step 2 (assertUrl) [assertion_failed]: expected the URL to match "page2" but it was "{site}/widgets.html" '
     "(waited 2000 ms)"),
    ([{"action": "assertTitle", "text": "Gadgets", "match": "contains"}],
     'step 2 (assertTitle) [assertion_failed]: expected the title to contain "Gadgets" but it was '
     '"Reprise fixture: widgets" (waited 2000 ms)'),
    ([{"action": "screenshot", "name": "x", "selector": "#nope"}],
     'step 2 (screenshot) [selector_not_found]: no element matched selector "#nope" within 2000 ms'),
    ([{"action": "switchToFrame", "selector": "#nope"}],
     'step 2 (switchToFrame) [selector_not_found]: no element matched selector "#nope" within 2000 ms'),
    ([{"action": "switchToFrame", "selector": "#heading"}],
     'step 2 (switchToFrame) [selector_not_found]: element matched selector "#heading" but it is not an iframe'),
    ([{"action": "switchToFrame", "selector": "#widget-frame"}, {"action": "click", "selector": "#heading"}],
     'step 3 (click) [selector_not_found]: no element matched selector "#widget-frame" >> "#heading" within 2000 ms'),
    ([{"action": "switchToPage", "index": 1}],
     "step 2 (switchToPage) [timeout]: no page number 1 opened within 2000 ms (open pages: {site}/widgets.html)"),
    ([{"action": "switchToPage", "urlContains": "page2"}],
     'step 2 (switchToPage) [timeout]: no page whose URL contains "page2" opened within 2000 ms'),
    ([{"action": "handleDialog", "accept": False}, {"action": "click", "selector": "#confirm"},
      {"action": "assertText", "selector": "#dialog-status", "text": "confirmed"}],
     'step 4 (assertText) [assertion_failed]: expected the text of "#dialog-status" to equal "confirmed" but it was '
     '"cancelled" (waited 2000 ms)'),
]


async def test_failures_name_step_selector_expected_actual_and_category(browser: Browser, site_url: str,
                                                                        tmp_path: Path) -> None:
    def fill_in(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{site}", site_url)
        if isinstance(value, dict):
            return {key: fill_in(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill_in(item) for item in value]
        return value

    parallel = asyncio.Semaphore(4)  # a few contexts at once, not forty

    async def one(number: int, steps: list[dict[str, Any]], expected: str) -> RunResult:
        # Every case fails at its last step. A failure that waits out its timeout names 2000 ms; every other step
        # (the navigation, the steps before, a failure at once) gets room for a loaded machine: four contexts at
        # once on two busy cores can take seconds to load a page or reach an element.
        *before, last = fill_in(steps)
        data = native({"action": "navigate", "url": f"{site_url}/widgets.html", "timeoutMs": 30_000},
                      *({**step, "timeoutMs": 30_000} for step in before),
                      {**last, "timeoutMs": 2000 if " ms" in expected else 30_000})
        async with parallel:
            return await replay(browser, data, tmp_path / str(number))

    results = await asyncio.gather(*(one(number, steps, expected) for number, (steps, expected) in enumerate(FAILURES)))
    mismatches: list[str] = []
    for (steps, expected), result in zip(FAILURES, results, strict=True):
        failed = [step for step in result.steps if step.status == "failed"]
        if result.status != "failed" or len(failed) != 1:
            mismatches.append(f"{steps}: {result.status}, {result.error}")
            continue
        if failed[0].error is None or not failed[0].error.startswith(fill_in(expected)):
            mismatches.append(f"{failed[0].error}\n  expected: {fill_in(expected)}")
        assert failed[0].category == result.category
    assert not mismatches, "\n".join(mismatches)
