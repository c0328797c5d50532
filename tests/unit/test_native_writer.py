"""Recordings written as native scripts (`runner.formats.native_writer`): parsed back, they are the same steps,
each step's `type` aside; only steps no native action expresses are gaps."""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Sequence
from typing import Any

import pytest

from runner.formats import InvalidScript, Script, parse_script
from runner.formats import steps as step_model
from runner.formats.native import NATIVE_VERSION, parse_native
from runner.formats.native_writer import to_native
from runner.formats.steps import (
    Click,
    ClosePage,
    CustomStep,
    ElementStep,
    EmulateNetwork,
    Fill,
    Navigate,
    Press,
    Step,
    SwitchToFrame,
    Viewport,
)

from recordings import PLACEHOLDER, RECORDINGS_DIR, load_recording
from services import REPO_ROOT

BASE = "http://127.0.0.1:8123"
CONFORMANCE_CASES = REPO_ROOT / "tests/conformance/cases"
INEXPRESSIBLE: tuple[type[Step], ...] = (ClosePage, EmulateNetwork, CustomStep)  # no native action parses into them


def untyped(step: Step) -> Step:
    """The step without its `type`, the recording's own word for it (`change`, `doubleClick`, `input`)."""
    return dataclasses.replace(step, type="")


def same_steps(a: Sequence[Step], b: Sequence[Step]) -> bool:
    return [untyped(step) for step in a] == [untyped(step) for step in b]


def read_back(script: Script) -> Script:
    """The script converted to native and parsed again; the conversion must have no gaps."""
    conversion = to_native(script)
    assert conversion.gaps == []
    return parse_native(json.loads(json.dumps(conversion.document)))  # as printed, then read


def assert_lossless(script: Script) -> None:
    back = read_back(script)
    assert same_steps(back.steps, script.steps)
    assert (back.name, back.viewport, back.timeout_ms) == (script.name, script.viewport, script.timeout_ms)


RECORDINGS = sorted(path.relative_to(RECORDINGS_DIR).as_posix() for path in RECORDINGS_DIR.rglob("*.json"))


@pytest.mark.parametrize("name", RECORDINGS)
def test_every_fixture_recording_reads_back_from_native_as_the_same_steps(name: str) -> None:
    assert_lossless(parse_script(load_recording(name, BASE)))


def test_the_fixtures_include_every_format() -> None:
    formats = {parse_script(load_recording(name, BASE)).format for name in RECORDINGS}
    assert formats == {"native", "chrome-recorder", "saveaction"}


def parseable_conformance_cases() -> list[str]:
    names = []
    for path in sorted(CONFORMANCE_CASES.glob("*.json")):
        try:
            parse_script(json.loads(path.read_text(encoding="utf-8").replace(PLACEHOLDER, BASE)))
        except InvalidScript:
            continue  # the invalid-* cases: nothing to convert
        names.append(path.name)
    return names


CASES = parseable_conformance_cases()


@pytest.mark.parametrize("name", CASES)
def test_every_conformance_case_converts_without_loss_but_its_inexpressible_steps(name: str) -> None:
    script = parse_script(json.loads((CONFORMANCE_CASES / name).read_text(encoding="utf-8").replace(PLACEHOLDER,
                                                                                                      BASE)))
    conversion = to_native(script)

    inexpressible = [index for index, step in enumerate(script.steps) if isinstance(step, INEXPRESSIBLE)]
    assert conversion.gaps == [f"steps[{index}] ({script.steps[index].type}): emitted as action "
                               f"{type(script.steps[index]).__name__!r}" for index in inexpressible]
    if not inexpressible:
        assert_lossless(script)
        return
    # the other steps still read back as they were
    kept = [step for index, step in enumerate(conversion.document["steps"]) if index not in inexpressible]
    back = parse_native({**conversion.document, "steps": kept})
    assert same_steps(back.steps, [step for step in script.steps if not isinstance(step, INEXPRESSIBLE)])


def test_the_conformance_cases_include_both_kinds() -> None:
    with_gaps = [name for name in CASES if to_native(parse_script(json.loads(
        (CONFORMANCE_CASES / name).read_text(encoding="utf-8").replace(PLACEHOLDER, BASE)))).gaps]
    assert with_gaps and len(with_gaps) < len(CASES)


SHOP_TOUR = "saveaction/shop-tour.json"  # shaped like the sample recordings of SaveActionHQ/SaveAction


def test_a_saveaction_recording_keeps_every_fallback_selector_in_native() -> None:
    script = parse_script(load_recording(SHOP_TOUR, BASE))
    conversion = to_native(script)

    assert conversion.gaps == []
    document = conversion.document
    assert document["version"] == 2
    assert document["viewport"] == {"width": 1280, "height": 720, "deviceScaleFactor": 1.25}
    steps = document["steps"]
    assert steps[1] == {"action": "click", "selector": [
        "#name", '[name="name"]', 'body > form#signup > input[type="text"]', 'xpath///input[@id="name"]',
        "form#signup > :nth-child(2)", "xpath//html/body[1]/form[1]/input[1]"]}
    assert steps[3]["action"] == "select" and steps[3]["value"] == "team"
    # the link's click, then the navigation it caused, which SaveAction records as an action of its own
    assert steps[9]["action"] == "click" and [".p", "text/Go to page two"] in steps[9]["selector"]
    assert steps[10] == {"action": "assertUrl", "url": f"{BASE}/page2.html"}
    assert steps[7] == {"action": "scroll", "x": 0, "y": 600}
    assert steps[8] == {"action": "press", "key": "Control+End"}
    assert steps[12]["clickCount"] == 2
    assert_lossless(script)


def test_a_recorder_recording_keeps_its_chains_offsets_frames_and_waits_in_native() -> None:
    script = parse_script(load_recording("recorder-signup.json", BASE))
    document = to_native(script).document

    assert document["version"] == 2
    assert document["timeoutMs"] == 5000
    assert document["steps"][0] == {"action": "setViewport", "width": 1024, "height": 768}
    assert document["steps"][1] == {"action": "navigate", "url": f"{BASE}/index.html",
                                    "expectNavigation": f"{BASE}/index.html"}
    assert document["steps"][3] == {"action": "click", "selector": ["#renamed-long-ago", "aria/Name", "#name"],
                                    "offset": {"x": 20, "y": 8}}
    frames = to_native(parse_script(load_recording("recorder-shadow-frames.json", BASE))).document["steps"]
    assert frames[1]["selector"] == [["fancy-card", "#shadow-button"]]
    assert frames[4]["frame"] == [0]
    assert_lossless(script)


def test_a_script_that_needs_nothing_of_version_2_is_written_as_version_1() -> None:
    script = parse_script(load_recording("native-tour.json", BASE))
    conversion = to_native(script)

    assert conversion.gaps == []
    assert conversion.document["version"] == 1
    assert parse_native(conversion.document) == script  # a native source keeps even its own words


def test_native_defaults_are_left_out() -> None:
    script = Script(name="n", format="chrome-recorder", steps=[
        Navigate(type="navigate", url=f"{BASE}/"), Click(type="click", selectors=(("#a",),)),
        Fill(type="change", selectors=(("#a",),), value="v", expect_navigation="")])
    assert to_native(script).document == {"version": 2, "name": "n", "steps": [
        {"action": "navigate", "url": f"{BASE}/"}, {"action": "click", "selector": "#a"},
        {"action": "fill", "selector": "#a", "value": "v", "expectNavigation": ""}]}


def test_a_version_2_script_written_again_is_the_same_document() -> None:
    document = {"version": 2, "name": "n", "viewport": {"width": 390, "height": 844, "isMobile": True},
                "timeoutMs": 900, "steps": [
                    {"action": "navigate", "url": f"{BASE}/frame.html"},
                    {"action": "switchToFrame", "selector": "#outer"},
                    {"action": "click", "selector": ["#go", ["my-card", "button"]], "button": "back", "delayMs": 5},
                    {"action": "waitForFunction", "expression": "window.ok"},
                    {"action": "switchToMainFrame"},
                    {"action": "waitForElement", "selector": "#a", "count": 0, "frame": [1],
                     "pageUrl": f"{BASE}/popup.html"},
                    {"action": "dblclick", "selector": "#b"},
                ]}
    assert to_native(parse_native(document)).document == document


def every_native_action() -> dict[str, Any]:
    """A version 2 script with every action, most fields away from their defaults."""
    return {"version": 2, "name": "every action", "steps": [
        {"action": "navigate", "url": f"{BASE}/widgets.html"},
        {"action": "click", "selector": ["#a", ["host", "b"]], "button": "forward", "offset": {"x": 1, "y": 2.5}},
        {"action": "click", "selector": "#a", "modifiers": ["Shift"], "button": "middle", "clickCount": 2},
        {"action": "dblclick", "selector": "#a"},
        {"action": "hover", "selector": "#a"},
        {"action": "fill", "selector": "#a", "value": "v"},
        {"action": "type", "selector": "#a", "value": "v", "delayMs": 20},
        {"action": "press", "key": "Enter", "selector": ["#a", "#b"]},
        {"action": "keyDown", "key": "Shift"},
        {"action": "keyUp", "key": "Shift"},
        {"action": "select", "selector": "#a", "value": "v"},
        {"action": "check", "selector": "#a"},
        {"action": "uncheck", "selector": "#a"},
        {"action": "upload", "selector": "#f", "files": [{"name": "a.txt", "mimeType": "text/plain",
                                                          "contentBase64": "aGk="}]},
        {"action": "scroll", "x": 0, "y": 300},
        {"action": "scroll", "selector": "#a"},
        {"action": "scroll", "selector": "#a", "x": 0, "y": 0},
        {"action": "dragAndDrop", "selector": "#a", "target": ["#b", "#c"]},
        {"action": "waitForSelector", "selector": "#a", "state": "detached"},
        {"action": "waitForUrl", "url": "x", "match": "contains"},
        {"action": "waitForLoadState", "state": "networkidle"},
        {"action": "wait", "ms": 10},
        {"action": "waitForFunction", "expression": "window.ok"},
        {"action": "assertVisible", "selector": "#a"},
        {"action": "assertHidden", "selector": "#a"},
        {"action": "assertText", "selector": "#a", "text": "x", "match": "contains"},
        {"action": "assertText", "selector": "#a", "text": "^x$", "match": "matches"},
        {"action": "assertValue", "selector": "#a", "value": "v"},
        {"action": "assertAttribute", "selector": "#a", "name": "href", "value": "/x"},
        {"action": "assertCount", "selector": "li", "count": 3, "operator": ">="},
        {"action": "assertUrl", "url": "/x", "match": "contains"},
        {"action": "assertUrl", "url": "/x$", "match": "matches"},
        {"action": "assertTitle", "text": "T"},
        {"action": "screenshot", "name": "home", "selector": "#a", "fullPage": True},
        {"action": "switchToFrame", "selector": "#f"},
        {"action": "switchToFrame", "selector": "#g"},
        {"action": "click", "selector": "#in-g"},
        {"action": "switchToPage", "urlContains": "page2"},
        {"action": "handleDialog", "accept": False},
        {"action": "waitForElement", "selector": "#a", "operator": "==", "visible": False,
         "attributes": {"a": "b"}, "properties": {"p": [1]}},
        {"action": "waitForExpression", "expression": "1"},
        {"action": "setViewport", "width": 390, "height": 844, "deviceScaleFactor": 3, "hasTouch": True},
    ]}


def test_every_native_action_reads_back_the_same_even_in_its_own_words() -> None:
    script = parse_native(every_native_action())
    conversion = to_native(script)
    assert conversion.gaps == []
    assert parse_native(conversion.document) == script


def test_every_step_class_is_written_or_is_one_native_cannot_express() -> None:
    written = {type(step) for step in parse_native(every_native_action()).steps}
    written.add(type(parse_native({"version": 1, "name": "n", "steps": [{"action": "switchToMainFrame"}]}).steps[0]))
    classes = {cls for _, cls in inspect.getmembers(step_model, inspect.isclass)
               if issubclass(cls, Step) and cls not in (Step, ElementStep)}
    assert classes - written == set(INEXPRESSIBLE)


def test_a_step_beyond_a_native_bound_is_a_gap_not_a_silent_change() -> None:
    recording = {"testName": "t", "url": f"{BASE}/", "actions": [
        {"type": "click", "selector": {"id": "a", "priority": ["id"]}, "clickCount": 4}]}
    conversion = to_native(parse_script(recording))
    assert conversion.gaps == ["the output is not a valid native script: steps[1].clickCount: Input should be less "
                               "than or equal to 3"]
    assert conversion.document["version"] == NATIVE_VERSION


def test_a_step_outside_the_frame_switched_to_is_a_gap() -> None:
    script = Script(name="n", format="native", steps=[
        Navigate(type="navigate", url=f"{BASE}/"), SwitchToFrame(type="switchToFrame", selectors=(("#f",),)),
        Press(type="press", key="Enter", selectors=(("#not-in-f",),))])
    conversion = to_native(script)
    assert conversion.gaps == ["steps[2] (press): emitted as action 'Press'"]
    assert conversion.document["steps"][2] == {"action": "Press", "key": "Enter", "selectors": [["#not-in-f"]]}


def test_a_viewport_native_cannot_hold_is_named() -> None:
    script = Script(name="n", format="chrome-recorder", steps=[Navigate(type="navigate", url=f"{BASE}/")],
                    viewport=Viewport(width=20_000, height=10))
    assert to_native(script).gaps == ["the output is not a valid native script: viewport.width: Input should be "
                                      "less than or equal to 10000"]

