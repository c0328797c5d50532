"""Every native action and assertion kind, parsed: its step, and the field an invalid one names
(the replays of the same actions: tests/integration/test_native_steps.py); what version 2 adds, and version 1
refusing it."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser

from contract.options import RunOptions
from contract.results import RunResult
from runner.formats import InvalidScript, parse_script
from runner.formats.native import ACTIONS, MAX_UPLOAD_BYTES, lowest_version
from runner.formats.steps import (
    AssertCount,
    AssertElement,
    AssertHidden,
    AssertText,
    AssertTitle,
    AssertUrl,
    Click,
    DragAndDrop,
    Fill,
    HandleDialog,
    Hover,
    KeyDown,
    KeyUp,
    ModifierClick,
    Navigate,
    Press,
    Screenshot,
    Scroll,
    ScrollIntoView,
    SetChecked,
    SetViewport,
    Sleep,
    Step,
    SwitchToFrame,
    SwitchToPage,
    TypeText,
    Upload,
    UploadFile,
    Viewport,
    WaitForElement,
    WaitForExpression,
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
    covered_in_version_2 = {"waitForElement", "waitForExpression", "setViewport"}  # test_version_2_actions_parse
    assert set(ACTIONS) == covered | covered_in_version_2


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
    ({"action": "click", "selector": "#a", "button": "up"}, "steps[1].button", "'right', 'back' or 'forward'"),
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


# -- version 2 ------------------------------------------------------------------------------------------

def native2(*steps: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"version": 2, "name": "inline", **top, "steps": list(steps)}


def parsed2(step: dict[str, Any]) -> Step:
    return parse_script(native2(NAVIGATE, step)).steps[1]


@pytest.mark.parametrize(("step", "expected"), [
    ({"action": "click", "selector": ["#gone", "aria/Go", ["my-card", "button"]]},
     Click(type="click", selectors=(("#gone",), ("aria/Go",), ("my-card", "button")))),
    ({"action": "click", "selector": [["#only"]]}, Click(type="click", selectors=(("#only",),))),
    ({"action": "click", "selector": "#a", "button": "back", "delayMs": 80, "offset": {"x": 3, "y": 4}},
     Click(type="click", selectors=(("#a",),), button="back", delay_ms=80, offset=(3, 4))),
    ({"action": "fill", "selector": ["#a", "#b"], "value": "v", "frame": [0, 2], "pageUrl": "https://x.test/popup",
      "expectNavigation": "", "timeoutMs": 900},
     Fill(type="fill", selectors=(("#a",), ("#b",)), value="v", frame=(0, 2), target="https://x.test/popup",
          expect_navigation="", timeout_ms=900)),
    ({"action": "navigate", "url": "https://x.test/", "pageUrl": "main", "expectNavigation": "https://x.test/"},
     Navigate(type="navigate", url="https://x.test/", expect_navigation="https://x.test/")),
    ({"action": "press", "key": "Enter", "selector": ["#a", "#b"]},
     Press(type="press", key="Enter", selectors=(("#a",), ("#b",)))),
    ({"action": "dragAndDrop", "selector": ["#a", "#b"], "target": [["host", "#c"]]},
     DragAndDrop(type="dragAndDrop", selectors=(("#a",), ("#b",)), target_selectors=(("host", "#c"),))),
    ({"action": "waitForElement", "selector": "#a"}, WaitForElement(type="waitForElement", selectors=(("#a",),))),
    ({"action": "waitForElement", "selector": ["#a", "li"], "operator": "<=", "count": 0, "visible": False,
      "attributes": {"aria-live": "polite"}, "properties": {"value": "x", "dataset": {"n": 1}}},
     WaitForElement(type="waitForElement", selectors=(("#a",), ("li",)), operator="<=", count=0, visible=False,
                    attributes={"aria-live": "polite"}, properties={"value": "x", "dataset": {"n": 1}})),
    ({"action": "waitForExpression", "expression": "window.ready", "frame": [1]},
     WaitForExpression(type="waitForExpression", expression="window.ready", frame=(1,))),
    ({"action": "setViewport", "width": 390, "height": 844},
     SetViewport(type="setViewport", viewport=Viewport(width=390, height=844))),
    ({"action": "setViewport", "width": 390, "height": 844, "deviceScaleFactor": 3, "isMobile": True,
      "hasTouch": True, "isLandscape": True},
     SetViewport(type="setViewport", viewport=Viewport(width=390, height=844, device_scale_factor=3, is_mobile=True,
                                                       has_touch=True, is_landscape=True))),
])
def test_version_2_actions_parse(step: dict[str, Any], expected: Step) -> None:
    assert parsed2(step) == expected


def test_version_2_script_carries_its_default_timeout_and_a_full_viewport() -> None:
    script = parse_script(native2(NAVIGATE, timeoutMs=7000,
                                  viewport={"width": 390, "height": 844, "deviceScaleFactor": 2.5, "isMobile": True}))
    assert script.timeout_ms == 7000
    assert script.viewport == Viewport(width=390, height=844, device_scale_factor=2.5, is_mobile=True)


def test_every_alternative_is_looked_up_inside_the_frame_switched_to() -> None:
    steps = parse_script(native2(
        NAVIGATE,
        {"action": "switchToFrame", "selector": "#outer"},
        {"action": "click", "selector": ["#go", ["my-card", "button"], "aria/Go"]},
        {"action": "dragAndDrop", "selector": "#a", "target": ["#b", "#c"]},
        {"action": "switchToMainFrame"},
        {"action": "click", "selector": ["#go", "aria/Go"]},
    )).steps
    assert isinstance(steps[2], Click)
    assert steps[2].selectors == (("#outer", "#go"), ("#outer", "my-card", "button"), ("#outer", "aria/Go"))
    assert isinstance(steps[3], DragAndDrop) and steps[3].target_selectors == (("#outer", "#b"), ("#outer", "#c"))
    assert isinstance(steps[5], Click) and steps[5].selectors == (("#go",), ("aria/Go",))


@pytest.mark.parametrize(("step", "field", "message"), [
    ({"action": "click", "selector": []}, "steps[1].selector", "at least one selector"),
    ({"action": "click", "selector": 5}, "steps[1].selector", "a selector, or a list of alternative selectors"),
    ({"action": "click", "selector": ["#a", 5]}, "steps[1].selector[1]", "a selector or a list of selectors"),
    ({"action": "click", "selector": ["#a", []]}, "steps[1].selector[1]", "empty list"),
    ({"action": "click", "selector": ["#a", ["host", ""]]}, "steps[1].selector[1][1]", "selector is empty"),
    ({"action": "hover", "selector": ["aria/"]}, "steps[1].selector[0]", "nothing after"),
    ({"action": "dragAndDrop", "selector": "#a", "target": [["#b", None]]}, "steps[1].target[0][1]",
     "must be a selector string"),
    ({"action": "switchToFrame", "selector": ["#f"]}, "steps[1].selector", "valid string"),
    ({"action": "click", "selector": "#a", "frame": [-1]}, "steps[1].frame[0]", "greater than or equal to 0"),
    ({"action": "click", "selector": "#a", "pageUrl": ""}, "steps[1].pageUrl", "at least 1"),
    ({"action": "click", "selector": "#a", "expectNavigation": True}, "steps[1].expectNavigation", "string"),
    ({"action": "click", "selector": "#a", "delayMs": -1}, "steps[1].delayMs", "greater than or equal to 0"),
    ({"action": "click", "selector": "#a", "button": "back", "modifiers": ["Shift"]}, "steps[1].button",
     "takes no modifiers"),
    ({"action": "click", "selector": "#a", "delayMs": 5, "modifiers": ["Shift"]}, "steps[1].delayMs",
     "takes no delay"),
    ({"action": "waitForElement", "selector": "#a", "operator": ">"}, "steps[1].operator", "'>='"),
    ({"action": "waitForElement", "selector": "#a", "count": -1}, "steps[1].count", "greater than or equal to 0"),
    ({"action": "waitForElement", "selector": "#a", "attributes": {"id": 1}}, "steps[1].attributes.id", "string"),
    ({"action": "waitForExpression", "expression": ""}, "steps[1].expression", "at least 1"),
    ({"action": "setViewport", "width": 390}, "steps[1].height", "required"),
    ({"action": "setViewport", "width": 390, "height": 844, "deviceScaleFactor": 0}, "steps[1].deviceScaleFactor",
     "greater than 0"),
])
def test_invalid_version_2_steps_name_their_field(step: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidScript) as caught:
        parse_script(native2(NAVIGATE, step))
    assert caught.value.field == field
    assert message in caught.value.message, caught.value.message


@pytest.mark.parametrize(("step", "top", "field", "what"), [
    ({"action": "click", "selector": ["#a", "#b"]}, {}, "steps[1].selector", "a list of alternative selectors"),
    ({"action": "dragAndDrop", "selector": "#a", "target": ["#b"]}, {}, "steps[1].target",
     "a list of alternative selectors"),
    ({"action": "click", "selector": "#a", "frame": [0]}, {}, "steps[1].frame", "the field 'frame'"),
    ({"action": "click", "selector": "#a", "pageUrl": "https://x.test/"}, {}, "steps[1].pageUrl",
     "the field 'pageUrl'"),
    ({"action": "click", "selector": "#a", "expectNavigation": ""}, {}, "steps[1].expectNavigation",
     "the field 'expectNavigation'"),
    ({"action": "click", "selector": "#a", "button": "forward"}, {}, "steps[1].button", "the forward button"),
    ({"action": "click", "selector": "#a", "delayMs": 50}, {}, "steps[1].delayMs", "a click's delay"),
    ({"action": "waitForElement", "selector": "#a"}, {}, "steps[1].action", "the action 'waitForElement'"),
    ({"action": "waitForExpression", "expression": "1"}, {}, "steps[1].action", "the action 'waitForExpression'"),
    ({"action": "setViewport", "width": 1, "height": 1}, {}, "steps[1].action", "the action 'setViewport'"),
    ({"action": "hover", "selector": "#a"}, {"timeoutMs": 5000}, "timeoutMs", "a default step timeout"),
    ({"action": "hover", "selector": "#a"}, {"viewport": {"width": 1, "height": 1, "hasTouch": False}},
     "viewport.hasTouch", "a viewport with more than width and height"),
])
def test_version_1_refuses_what_version_2_adds_naming_the_field(step: dict[str, Any], top: dict[str, Any],
                                                                  field: str, what: str) -> None:
    with pytest.raises(InvalidScript) as caught:
        parse_script({**native(NAVIGATE, step), **top})
    assert caught.value.field == field
    assert caught.value.message == f'{what} needs "version": 2'
    assert lowest_version({**native(NAVIGATE, step), **top}) == 2
    parse_script({**native2(NAVIGATE, step), **top})  # the same script as version 2 is valid


def test_a_version_1_script_reads_the_same_as_version_2_and_needs_no_more() -> None:
    steps: list[dict[str, Any]] = [
        NAVIGATE, {"action": "click", "selector": "#a", "button": "right", "offset": {"x": 1, "y": 2}},
        {"action": "switchToFrame", "selector": "#f"}, {"action": "fill", "selector": "#b", "value": "v"},
        {"action": "waitForSelector", "selector": "#c", "timeoutMs": 300}]
    version_1 = parse_script({**native(*steps), "viewport": {"width": 800, "height": 600}})
    version_2 = parse_script(native2(*steps, viewport={"width": 800, "height": 600}))
    assert version_1 == version_2
    assert version_1.steps[3] == Fill(type="fill", selectors=(("#f", "#b"),), value="v")
    assert version_1.viewport == Viewport(width=800, height=600)
    assert lowest_version(native2(*steps)) == 1


async def replay(browser: Browser, data: dict[str, Any], output_dir: Path) -> RunResult:
    return await PlaywrightRunner(browser).run(parse_script(data), RunOptions(video="off", screenshots="off",
                                                                               trace="off"), output_dir)
