"""Every native action and assertion kind, parsed: its step, and the field an invalid one names
(the replays of the same actions: tests/integration/test_native_steps.py)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser

from contract.options import RunOptions
from contract.results import RunResult
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
