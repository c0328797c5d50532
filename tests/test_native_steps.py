"""Every native action and assertion kind: parsing (steps and InvalidScript field paths) and replays in a
real Chromium against the fixture site (tests/site/widgets.html), passing and failing."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser

from contract.options import RunOptions
from contract.results import ArtifactFile, RunResult
from runner.formats import InvalidScript, parse_script
from runner.formats.native import ACTIONS, MAX_UPLOAD_BYTES
from runner.formats.steps import (
    AssertCount,
    AssertElement,
    AssertHidden,
    AssertText,
    AssertTitle,
    AssertUrl,
    Click,
    DragAndDrop,
    HandleDialog,
    Hover,
    KeyDown,
    KeyUp,
    ModifierClick,
    Screenshot,
    Scroll,
    ScrollIntoView,
    SetChecked,
    Sleep,
    Step,
    SwitchToFrame,
    SwitchToPage,
    TypeText,
    Upload,
    UploadFile,
    WaitForFunction,
    WaitForLoadState,
    WaitForUrl,
)
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


def parsed(step: dict[str, Any]) -> Step:
    return parse_script(native(NAVIGATE, step)).steps[1]


@pytest.mark.parametrize(("step", "expected"), [
    ({"action": "click", "selector": "#a", "button": "right", "clickCount": 2, "offset": {"x": 1, "y": 2.5}},
     Click(type="click", selectors=(("#a",),), button="right", click_count=2, offset=(1, 2.5))),
    ({"action": "click", "selector": "#a", "modifiers": ["Shift", "Meta"], "button": "middle"},
     ModifierClick(type="click", selectors=(("#a",),), modifiers=("Shift", "Meta"), button="middle")),
    ({"action": "dblclick", "selector": "#a"}, Click(type="dblclick", selectors=(("#a",),), click_count=2)),
    ({"action": "hover", "selector": "#a", "timeoutMs": 9}, Hover(type="hover", selectors=(("#a",),), timeout_ms=9)),
    ({"action": "type", "selector": "#a", "value": "hi", "delayMs": 20},
     TypeText(type="type", selectors=(("#a",),), value="hi", delay_ms=20)),
    ({"action": "keyDown", "key": "Shift"}, KeyDown(type="keyDown", key="Shift")),
    ({"action": "keyUp", "key": "Shift"}, KeyUp(type="keyUp", key="Shift")),
    ({"action": "check", "selector": "#a"}, SetChecked(type="check", selectors=(("#a",),), checked=True)),
    ({"action": "uncheck", "selector": "#a"}, SetChecked(type="uncheck", selectors=(("#a",),), checked=False)),
    ({"action": "upload", "selector": "#f", "files": [{"name": "a.txt", "mimeType": "text/plain",
                                                       "contentBase64": b64("hi")}]},
     Upload(type="upload", selectors=(("#f",),), files=(UploadFile(name="a.txt", mime_type="text/plain",
                                                                    content=b"hi"),))),
    ({"action": "scroll", "y": 300}, Scroll(type="scroll", x=0, y=300)),
    ({"action": "scroll", "selector": "#a"}, ScrollIntoView(type="scroll", selectors=(("#a",),))),
    ({"action": "scroll", "selector": "#a", "x": 5}, Scroll(type="scroll", x=5, y=0, selectors=(("#a",),))),
    ({"action": "dragAndDrop", "selector": "#a", "target": "#b"},
     DragAndDrop(type="dragAndDrop", selectors=(("#a",),), target_selectors=(("#b",),))),
    ({"action": "waitForUrl", "url": "x", "match": "contains"},
     WaitForUrl(type="waitForUrl", url="x", match="contains")),
    ({"action": "waitForLoadState", "state": "networkidle"},
     WaitForLoadState(type="waitForLoadState", state="networkidle")),
    ({"action": "wait", "ms": 60_000}, Sleep(type="wait", ms=60_000)),
    ({"action": "waitForFunction", "expression": "window.ok"}, WaitForFunction(type="waitForFunction",
                                                                               expression="window.ok")),
    ({"action": "assertHidden", "selector": "#a"}, AssertHidden(type="assertHidden", selectors=(("#a",),))),
    ({"action": "assertText", "selector": "#a", "text": "x", "match": "contains"},
     AssertText(type="assertText", selectors=(("#a",),), text="x", match="contains")),
    ({"action": "assertText", "selector": "#a", "text": "^x+$", "match": "matches"},
     AssertElement(type="assertText", selectors=(("#a",),), what="text", expected="^x+$", match="matches")),
    ({"action": "assertValue", "selector": "#a", "value": "v"},
     AssertElement(type="assertValue", selectors=(("#a",),), what="value", expected="v")),
    ({"action": "assertAttribute", "selector": "#a", "name": "href", "value": "/x", "match": "contains"},
     AssertElement(type="assertAttribute", selectors=(("#a",),), what="attribute", name="href", expected="/x",
                   match="contains")),
    ({"action": "assertCount", "selector": "li", "count": 3, "operator": ">="},
     AssertCount(type="assertCount", selectors=(("li",),), count=3, operator=">=")),
    ({"action": "assertUrl", "url": "/x$", "match": "matches"},
     WaitForUrl(type="assertUrl", url="/x$", match="matches", assertion=True)),
    ({"action": "assertUrl", "url": "/x", "match": "contains"},
     AssertUrl(type="assertUrl", url="/x", match="contains")),
    ({"action": "assertTitle", "text": "T"}, AssertTitle(type="assertTitle", text="T")),
    ({"action": "screenshot", "name": "home", "selector": "#a", "fullPage": True},
     Screenshot(type="screenshot", name="home", selectors=(("#a",),), full_page=True)),
    ({"action": "switchToFrame", "selector": "#f"}, SwitchToFrame(type="switchToFrame", selectors=(("#f",),))),
    ({"action": "switchToMainFrame"}, SwitchToFrame(type="switchToMainFrame")),
    ({"action": "switchToPage", "urlContains": "page2"}, SwitchToPage(type="switchToPage", url_contains="page2")),
    ({"action": "switchToPage", "index": 1}, SwitchToPage(type="switchToPage", index=1)),
    ({"action": "handleDialog", "accept": True, "promptText": "Ada"},
     HandleDialog(type="handleDialog", accept=True, prompt_text="Ada")),
])
def test_each_action_parses_to_its_step(step: dict[str, Any], expected: Step) -> None:
    assert parsed(step) == expected


def test_every_action_is_covered_by_these_tests() -> None:
    covered = {"navigate", "click", "dblclick", "hover", "fill", "type", "press", "keyDown", "keyUp", "select", "check",
               "uncheck", "upload", "scroll", "dragAndDrop", "waitForSelector", "waitForUrl", "waitForLoadState",
               "wait", "waitForFunction", "assertVisible", "assertHidden", "assertText", "assertValue",
               "assertAttribute", "assertCount", "assertUrl", "assertTitle", "screenshot", "switchToFrame",
               "switchToMainFrame", "switchToPage", "handleDialog"}
    assert set(ACTIONS) == covered


def test_switch_to_frame_chains_later_selectors_until_the_main_frame() -> None:
    script = parse_script(native(
        NAVIGATE,
        {"action": "switchToFrame", "selector": "#outer"},
        {"action": "switchToFrame", "selector": "#inner"},
        {"action": "click", "selector": "#go"},
        {"action": "waitForFunction", "expression": "window.ok"},
        {"action": "switchToMainFrame"},
        {"action": "click", "selector": "#go"},
        {"action": "switchToFrame", "selector": "#outer"},
        {"action": "switchToPage", "index": 0},
        {"action": "assertVisible", "selector": "#go"},
    ))
    steps = script.steps
    assert steps[2] == SwitchToFrame(type="switchToFrame", selectors=(("#outer", "#inner"),))
    assert isinstance(steps[3], Click) and steps[3].selectors == (("#outer", "#inner", "#go"),)
    assert isinstance(steps[4], WaitForFunction) and steps[4].frame_selectors == ("#outer", "#inner")
    assert isinstance(steps[6], Click) and steps[6].selectors == (("#go",),)
    assert steps[9].selectors == (("#go",),)  # type: ignore[attr-defined]  # a new page starts at its main frame


BIG = base64.b64encode(b"x" * (MAX_UPLOAD_BYTES // 2 + 1)).decode()


@pytest.mark.parametrize(("step", "field", "message"), [
    ({"action": "click", "selector": "#a", "button": "back"}, "steps[1].button", "'left', 'middle' or 'right'"),
    ({"action": "click", "selector": "#a", "clickCount": 0}, "steps[1].clickCount", "greater than or equal to 1"),
    ({"action": "click", "selector": "#a", "modifiers": ["Hyper"]}, "steps[1].modifiers[0]", "'Alt'"),
    ({"action": "click", "selector": "#a", "offset": {"x": 1}}, "steps[1].offset.y", "required"),
    ({"action": "click", "selector": "#a", "double": True}, "steps[1].double", "not a known field"),
    ({"action": "dblclick"}, "steps[1].selector", "required"),
    ({"action": "hover", "selector": "aria/"}, "steps[1].selector", "nothing after"),
    ({"action": "type", "selector": "#a"}, "steps[1].value", "required"),
    ({"action": "type", "selector": "#a", "value": "x", "delayMs": -1}, "steps[1].delayMs", "greater than"),
    ({"action": "keyDown", "key": ""}, "steps[1].key", "at least 1"),
    ({"action": "keyUp"}, "steps[1].key", "required"),
    ({"action": "check", "selector": "#a", "checked": True}, "steps[1].checked", "not a known field"),
    ({"action": "uncheck"}, "steps[1].selector", "required"),
    ({"action": "upload", "selector": "#f", "files": [{"name": "a", "contentBase64": "***"}]},
     "steps[1].files[0].contentBase64", "not valid base64"),
    ({"action": "upload", "selector": "#f", "files": [{"name": "a", "contentBase64": "", "path": "/etc/passwd"}]},
     "steps[1].files[0].path", "not a known field"),
    ({"action": "upload", "selector": "#f", "files": [{"name": "a", "contentBase64": BIG},
                                                      {"name": "b", "contentBase64": BIG}]},
     "steps[1].files", "more than the 5242880 allowed"),
    ({"action": "scroll"}, "steps[1].x", "x or y is required"),
    ({"action": "dragAndDrop", "selector": "#a"}, "steps[1].target", "required"),
    ({"action": "waitForUrl", "url": "x", "match": "like"}, "steps[1].match", "'matches'"),
    ({"action": "waitForUrl", "url": "(", "match": "matches"}, "steps[1].url", "not a valid regular expression"),
    ({"action": "waitForLoadState", "state": "idle"}, "steps[1].state", "'networkidle'"),
    ({"action": "wait", "ms": 60_001}, "steps[1].ms", "less than or equal to 60000"),
    ({"action": "waitForFunction", "expression": ""}, "steps[1].expression", "at least 1"),
    ({"action": "assertHidden"}, "steps[1].selector", "required"),
    ({"action": "assertText", "selector": "#a", "text": "[a-", "match": "matches"}, "steps[1].text",
     "not a valid regular expression"),
    ({"action": "assertValue", "selector": "#a", "value": "(", "match": "matches"}, "steps[1].value",
     "not a valid regular expression"),
    ({"action": "assertAttribute", "selector": "#a", "value": "x"}, "steps[1].name", "required"),
    ({"action": "assertCount", "selector": "li", "count": 1, "operator": ">"}, "steps[1].operator", "'>='"),
    ({"action": "assertCount", "selector": "li", "count": -1}, "steps[1].count", "greater than or equal to 0"),
    ({"action": "assertUrl", "url": "*", "match": "matches"}, "steps[1].url", "not a valid regular expression"),
    ({"action": "assertTitle", "text": "?(", "match": "matches"}, "steps[1].text", "not a valid regular expression"),
    ({"action": "screenshot", "name": "../etc"}, "steps[1].name", "should match pattern"),
    ({"action": "switchToFrame"}, "steps[1].selector", "required"),
    ({"action": "switchToMainFrame", "selector": "#a"}, "steps[1].selector", "not a known field"),
    ({"action": "switchToPage"}, "steps[1].index", "exactly one of index and urlContains"),
    ({"action": "switchToPage", "index": 0, "urlContains": "x"}, "steps[1].index", "exactly one"),
    ({"action": "handleDialog", "accept": "yes"}, "steps[1].accept", "boolean"),
    ({"action": "handleDialog", "accept": False, "promptText": "x"}, "steps[1].promptText", "only used when"),
])
def test_invalid_steps_name_their_field(step: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidScript) as caught:
        parse_script(native(NAVIGATE, step))
    assert caught.value.field == field
    assert message in caught.value.message, caught.value.message


def test_screenshot_names_are_unique() -> None:
    with pytest.raises(InvalidScript) as caught:
        parse_script(native(NAVIGATE, {"action": "screenshot", "name": "a"}, {"action": "screenshot", "name": "a"}))
    assert caught.value.field == "steps[2].name"


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

    async def one(number: int, steps: list[dict[str, Any]]) -> RunResult:
        data = native({"action": "navigate", "url": f"{site_url}/widgets.html"},
                      *({**step, "timeoutMs": 2000} for step in fill_in(steps)))
        async with parallel:
            return await replay(browser, data, tmp_path / str(number))

    results = await asyncio.gather(*(one(number, steps) for number, (steps, _) in enumerate(FAILURES)))
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
