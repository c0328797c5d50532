"""SaveAction recordings: the mapping of every action and both selector styles, what is reported, and what
is refused (and the field named)."""

from __future__ import annotations

from typing import Any

import pytest

from runner.formats import InvalidScript, detect_format, parse_script
from runner.formats.saveaction import strategy_chain
from runner.formats.selectors import parse_selector
from runner.formats.steps import (
    AssertText,
    AssertUrl,
    AssertVisible,
    Click,
    Fill,
    Hover,
    KeyDown,
    KeyUp,
    Navigate,
    Press,
    Scroll,
    SelectOption,
    Step,
    Viewport,
    WaitForElement,
    WaitForExpression,
    WaitForState,
)

from recordings import load_recording

BASE = "http://127.0.0.1:8123"
SIGNUP = "saveaction/signup.json"


def recording(*actions: Any, **top: Any) -> dict[str, Any]:
    return {"testName": "t", "url": f"{BASE}/index.html", "version": "1.0.0", **top, "actions": list(actions)}


def legacy(**values: Any) -> dict[str, Any]:
    return {**values, "priority": list(values)}


def action(kind: str, **fields: Any) -> dict[str, Any]:
    return {"id": "act_001", "type": kind, "timestamp": 1000, "url": f"{BASE}/index.html", **fields}


def steps_of(*actions: Any) -> list[Step]:
    script = parse_script(recording(*actions))
    assert isinstance(script.steps[0], Navigate) and script.steps[0].type == "navigation"
    return script.steps[1:]


def only(*actions: Any) -> Step:
    (step,) = steps_of(*actions)
    return step


def invalid(data: object) -> InvalidScript:
    with pytest.raises(InvalidScript) as caught:
        parse_script(data)
    return caught.value


NAME = legacy(id="name")


def test_detected_by_test_name_and_actions_even_with_a_version() -> None:
    assert detect_format(recording()) == "saveaction"
    assert detect_format({"version": 1, "name": "n", "steps": []}) == "native"


def test_the_recording_becomes_a_script() -> None:
    script = parse_script(recording(devicePixelRatio=2, viewport={"width": 1280, "height": 720}))
    assert script.name == "t"
    assert script.format == "saveaction"
    assert script.viewport == Viewport(width=1280, height=720, device_scale_factor=2.0)
    assert script.steps == [Navigate(type="navigation", url=f"{BASE}/index.html")]
    assert script.warnings == ()


def test_click() -> None:
    assert only(action("click", selector=NAME, button="right", clickCount=2, modifiers=[],
                       coordinates={"x": 3, "y": 4})) == \
        Click(type="click", selectors=(("#name",),), button="right", click_count=2)


def test_click_with_modifiers_holds_the_keys_around_it() -> None:
    assert steps_of(action("click", selector=NAME, modifiers=["ctrl", "shift"])) == [
        KeyDown(type="click", key="Control"), KeyDown(type="click", key="Shift"),
        Click(type="click", selectors=(("#name",),)),
        KeyUp(type="click", key="Shift"), KeyUp(type="click", key="Control"),
    ]


def test_input() -> None:
    assert only(action("input", selector=NAME, value="Ada", inputType="text")) == \
        Fill(type="input", selectors=(("#name",),), value="Ada")


@pytest.mark.parametrize("input_type", ["checkbox", "radio"])
def test_input_on_a_checkbox_or_radio_clicks_it(input_type: str) -> None:
    assert only(action("input", selector=legacy(id="terms"), value="on", inputType=input_type)) == \
        Click(type="input", selectors=(("#terms",),))


def test_select_by_value_else_text() -> None:
    plan = legacy(id="plan")
    assert only(action("select", selector=plan, selectedValue="pro", selectedText="Pro")) == \
        SelectOption(type="select", selectors=(("#plan",),), value="pro")
    assert only(action("select", selector=plan, selectedValue="", selectedText="Pro")) == \
        SelectOption(type="select", selectors=(("#plan",),), value="Pro")


def test_navigation_by_hand_navigates_and_one_caused_by_a_click_waits_for_the_url() -> None:
    to = f"{BASE}/page2.html"
    assert only(action("navigation", to=to, navigationTrigger="manual")) == Navigate(type="navigation", url=to)
    assert only(action("navigation", to=to, navigationTrigger="back")) == Navigate(type="navigation", url=to)
    for trigger in ("click", "form-submit", "redirect"):
        assert only(action("navigation", to=to, navigationTrigger=trigger)) == AssertUrl(type="navigation", url=to)


def test_hover() -> None:
    assert only(action("hover", selector=legacy(id="hover-target"), duration=300)) == \
        Hover(type="hover", selectors=(("#hover-target",),))


def test_scroll_of_the_window_and_of_an_element() -> None:
    assert only(action("scroll", scrollX=0, scrollY=600, element="window")) == Scroll(type="scroll", x=0, y=600)
    assert only(action("scroll", scrollX=5, scrollY=10, element=legacy(css="#list"))) == \
        Scroll(type="scroll", x=5, y=10, selectors=(("#list",),))


def test_keypress_joins_modifiers() -> None:
    assert only(action("keypress", key="Enter", code="Enter", modifiers=[])) == Press(type="keypress", key="Enter")
    assert only(action("keypress", key="a", modifiers=["meta", "shift"])) == Press(type="keypress", key="Meta+Shift+a")
    assert only(action("keypress", key="Shift", modifiers=["shift"])) == Press(type="keypress", key="Shift")


def test_a_submit_on_its_own_clicks_the_forms_submit_button() -> None:
    step = only(action("submit", selector=legacy(id="signup", xpath="//form[1]")))
    assert isinstance(step, Click)
    assert step.selectors == (
        (':is(#signup) :is(button[type="submit"], input[type="submit"], button:not([type]))',),
        ("xpath///form[1]", 'button[type="submit"], input[type="submit"], button:not([type])'),
    )


@pytest.mark.parametrize("previous", [
    action("click", selector=legacy(id="submit"), timestamp=900),
    action("keypress", key="Enter", timestamp=990),
])
def test_a_submit_right_after_a_click_or_enter_is_its_effect_and_is_reported(previous: dict[str, Any]) -> None:
    script = parse_script(recording(previous, action("submit", selector=legacy(id="signup"), timestamp=1000)))
    assert len(script.steps) == 2  # the navigation and the click or press
    assert [(note.index, note.action) for note in script.warnings] == [(1, "submit")]
    assert previous["type"] in script.warnings[0].reason


def test_a_submit_long_after_the_click_is_replayed() -> None:
    steps = steps_of(action("click", selector=legacy(id="terms"), timestamp=0),
                     action("submit", selector=legacy(id="signup"), timestamp=5000))
    assert [step.type for step in steps] == ["click", "submit"]


@pytest.mark.parametrize(("fields", "expected"), [
    ({"checkType": "urlMatch", "expectedUrl": f"{BASE}/a"}, AssertUrl(type="checkpoint", url=f"{BASE}/a")),
    ({"checkType": "urlContains", "expectedUrl": "/a"}, AssertUrl(type="checkpoint", url="/a", match="contains")),
    ({"checkType": "urlContains", "expectedValue": "/b"}, AssertUrl(type="checkpoint", url="/b", match="contains")),
    ({"checkType": "elementVisible", "selector": legacy(id="x")},
     AssertVisible(type="checkpoint", selectors=(("#x",),))),
    ({"checkType": "elementVisible", "selector": legacy(id="x"), "expectedValue": "false"},
     WaitForState(type="checkpoint", selectors=(("#x",),), state="hidden")),
    ({"checkType": "elementText", "selector": legacy(id="x"), "expectedValue": "Hi"},
     AssertText(type="checkpoint", selectors=(("#x",),), text="Hi")),
    ({"checkType": "containsText", "selector": legacy(id="x"), "expectedValue": "Hi"},
     AssertText(type="checkpoint", selectors=(("#x",),), text="Hi", match="contains")),
    ({"checkType": "elementHasValue", "selector": legacy(id="x"), "expectedValue": "Ada"},
     WaitForElement(type="checkpoint", selectors=(("#x",),), properties={"value": "Ada"})),
    ({"checkType": "pageTitle", "expectedValue": 'a "b"'},
     WaitForExpression(type="checkpoint", expression='document.title.includes("a \\"b\\"")')),
    ({"checkType": "pageLoad"}, WaitForExpression(type="checkpoint", expression="document.readyState === 'complete'")),
])
def test_checkpoints(fields: dict[str, Any], expected: Step) -> None:
    assert only(action("checkpoint", passed=True, **fields)) == expected


def test_legacy_selector_follows_its_priority_list() -> None:
    selector = {"id": "a b", "dataTestId": "go", "ariaLabel": "Go", "name": "q", "css": "form > button",
                "xpath": "//button", "xpathAbsolute": "/html/body/button", "text": "Go now", "textContains": "Go",
                "position": {"parent": "form", "index": 2},
                "priority": ["dataTestId", "id", "ariaLabel", "name", "css", "xpath", "xpathAbsolute", "text",
                             "textContains", "position", "href-pattern"]}
    step = only(action("click", selector=selector))
    assert isinstance(step, Click)
    assert step.selectors == (('[data-testid="go"]',), ('[id="a b"]',), ("aria/Go",), ('[name="q"]',),
                              ("form > button",), ("xpath///button",), ("xpath//html/body/button",),
                              ("text/Go now",), ("text/Go",), ("form > :nth-child(3)",))
    for chain in step.selectors:
        for part in chain:
            parse_selector(part)


def test_selectors_array_by_priority_then_confidence_before_the_legacy_object() -> None:
    selectors = [
        {"strategy": "css", "value": "#late", "priority": 9, "confidence": 65},
        {"strategy": "xpath", "value": "//a", "priority": 2, "confidence": 40},
        {"strategy": "id", "value": "go", "priority": 2, "confidence": 90},
        {"strategy": "text-content", "value": "Go", "context": "swal2-actions", "priority": 7, "confidence": 60},
        {"strategy": "href-pattern", "value": "/next", "priority": 8, "confidence": 60},
        {"strategy": "src-pattern", "value": "logo", "priority": 8, "confidence": 50},
        {"strategy": "css-semantic", "value": 'button:has-text("Go")', "priority": 8, "confidence": 40},
        {"strategy": "aria-label", "value": "Go", "priority": 3, "confidence": 80},
        {"strategy": "name", "value": "go", "priority": 4, "confidence": 80},
        {"strategy": "position", "value": "ul > :nth-child(2)", "priority": 11, "confidence": 30},
    ]
    step = only(action("click", selectors=selectors, selector=legacy(id="go", css="button.go")))
    assert isinstance(step, Click)
    assert step.selectors == (("#go",), ("xpath///a",), ("aria/Go",), ('[name="go"]',), (".swal2-actions", "text/Go"),
                              ('a[href*="/next"]',), ('img[src*="logo"]',), ('button:has-text("Go")',),
                              ("#late",), ("ul > :nth-child(2)",), ("button.go",))


def test_text_content_with_context_is_scoped() -> None:
    assert strategy_chain("text-content", "OK", "swal2-actions") == (".swal2-actions", "text/OK")
    assert strategy_chain("text-content", "OK", "div.modal") == ("div.modal", "text/OK")


def test_frame_selector_prefixes_every_chain() -> None:
    step = only(action("click", selector=legacy(id="inner-button", css="button"), frameSelector="#inner-frame"))
    assert isinstance(step, Click)
    assert step.selectors == (("#inner-frame", "#inner-button"), ("#inner-frame", "button"))


def test_aria_label_that_would_read_as_a_role_becomes_an_attribute() -> None:
    assert strategy_chain("ariaLabel", 'Pick[role="x"]') == ('[aria-label="Pick[role=\\"x\\"]"]',)


def test_unknown_actions_are_reported_and_skipped() -> None:
    script = parse_script(recording(
        action("modal-lifecycle", event="modal-opened"),
        action("click", selector=NAME),
        action("drag-and-drop"),
    ))
    assert [type(step).__name__ for step in script.steps] == ["Navigate", "Click"]
    assert [note.to_json() for note in script.warnings] == [
        {"index": 0, "action": "modal-lifecycle", "reason": "unknown action type 'modal-lifecycle', skipped"},
        {"index": 2, "action": "drag-and-drop", "reason": "unknown action type 'drag-and-drop', skipped"},
    ]
    assert str(script.warnings[0]) == "actions[0] (modal-lifecycle): unknown action type 'modal-lifecycle', skipped"


@pytest.mark.parametrize(("fields", "reason"), [
    ({"checkType": "urlMatch", "expectedUrl": f"{BASE}/", "auto": True}, "auto-generated urlMatch checkpoint"),
    ({"checkType": "screenshotMatch"}, "unknown checkpoint kind 'screenshotMatch'"),
])
def test_checkpoints_not_verified_are_reported(fields: dict[str, Any], reason: str) -> None:
    script = parse_script(recording(action("checkpoint", passed=True, **fields)))
    assert len(script.steps) == 1
    (note,) = script.warnings
    assert (note.index, note.action) == (0, "checkpoint")
    assert note.reason.startswith(reason)


def test_other_reported_approximations() -> None:
    script = parse_script(recording(
        action("input", selector=legacy(id="upload"), value="C:\\fakepath\\a.png", inputType="file"),
        action("click", selector={"id": "go", "fancy": "x", "priority": ["fancy", "id"]}),
        action("click", selector=NAME, isOptional=True),
        action("input", selector=NAME, value="${EMAIL}"),
    ))
    assert [type(step).__name__ for step in script.steps] == ["Navigate", "Click", "Click", "Fill"]
    reasons = [(note.index, note.reason) for note in script.warnings]
    assert reasons[0] == (0, "file inputs are not replayed (the recording holds no file), skipped")
    assert reasons[1] == (1, "selector alternatives ignored, no Reprise equivalent: selector strategy 'fancy'")
    assert reasons[2] == (2, "optional in SaveAction; Reprise replays it as a required step")
    assert reasons[3][0] == 3 and "variable" in reasons[3][1]


@pytest.mark.parametrize(("data", "field", "message"), [
    ([], "", "the script must be a JSON object, not list"),
    ({"testName": "", "url": f"{BASE}/", "actions": []}, "testName", "is required"),
    ({"testName": "t", "actions": []}, "url", "is required"),
    ({"testName": "t", "url": "file:///etc/passwd", "actions": []}, "url", "URL scheme 'file' is not allowed"),
    ({"testName": "t", "url": f"{BASE}/", "actions": {}}, "actions", "is required"),
    (recording(viewport={"width": 0, "height": 10}), "viewport.width", "must be a whole number"),
    (recording("click"), "actions[0]", "must be an object"),
    (recording({"id": "a"}), "actions[0].type", "is required"),
    (recording(action("click")), "actions[0].selector", "no usable selector"),
    (recording(action("click", selector={"priority": ["id"]})), "actions[0].selector", "no usable selector"),
    (recording(action("click", selector={"fancy": "x", "priority": ["fancy"]})), "actions[0].selector",
     "no usable selector (only selector strategy 'fancy')"),
    (recording(action("click", selectors=[{"strategy": "shape", "value": "round", "priority": 1}])),
     "actions[0].selector", "no usable selector (only selectors strategy 'shape')"),
    (recording(action("click", selectors=["#a"])), "actions[0].selectors[0]", "must be an object"),
    (recording(action("click", selector=NAME, button="back")), "actions[0].button", "must be one of"),
    (recording(action("click", selector=NAME, modifiers=["hyper"])), "actions[0].modifiers[0]", "unknown modifier"),
    (recording(action("hover", selector=legacy(css="aria/"))), "actions[0].selector", "has nothing after"),
    (recording(action("input", selector=NAME)), "actions[0].value", "is required"),
    (recording(action("input", selector=NAME, value=3)), "actions[0].value", "must be a string, not int"),
    (recording(action("select", selector=NAME, selectedIndex=2)), "actions[0].selectedValue", "is required"),
    (recording({"type": "navigation", "navigationTrigger": "manual"}), "actions[0].to", "is required"),
    (recording(action("navigation", to="page2.html")), "actions[0].to", "is not absolute"),
    (recording(action("scroll", scrollY="600")), "actions[0].scrollY", "must be a number"),
    (recording(action("scroll", scrollY=5, element={"priority": []})), "actions[0].element", "no usable selector"),
    (recording(action("keypress", key="")), "actions[0].key", "must not be empty"),
    (recording(action("checkpoint", checkType="elementText", expectedValue="x")), "actions[0].selector",
     "no usable selector"),
    (recording(action("checkpoint", checkType="urlMatch")), "actions[0].expectedValue", "is required"),
])
def test_refusals_name_the_field(data: object, field: str, message: str) -> None:
    error = invalid(data)
    assert error.field == field
    assert message in error.message, error.message


def test_the_fixture_recording_maps_every_action() -> None:
    script = parse_script(load_recording(SIGNUP, BASE))
    assert script.format == "saveaction"
    assert script.viewport == Viewport(width=1024, height=768)
    kinds = {step.type for step in script.steps}
    assert kinds == {"navigation", "click", "input", "select", "submit", "checkpoint", "keypress", "hover",
                     "scroll"}
    assert [(note.index, note.action) for note in script.warnings] == [
        (8, "submit"), (12, "modal-lifecycle"), (20, "checkpoint")]


def test_the_envelopes_saveaction_hands_recordings_out_in_are_accepted() -> None:
    plain = load_recording(SIGNUP, BASE)
    upload = {"projectId": "0b7c0d8e-9d7f-4c36-9a55-1f0c2f1f4a11", "name": "signup", "tags": [], "data": plain}
    answer = {"success": True, "data": {"id": "rec-1", "name": "signup", "actionCount": len(plain["actions"]),
                                        "data": plain}}
    expected = parse_script(plain)
    for wrapped in ({"data": plain}, upload, answer):
        assert detect_format(wrapped) == "saveaction"
        assert parse_script(wrapped) == expected


def test_an_error_inside_an_envelope_names_the_field_from_the_top() -> None:
    broken = recording(action("click"))  # a click without a selector
    assert invalid({"data": broken}).field.startswith("data.actions[0]")
    assert invalid({"success": True, "data": {"data": broken}}).field.startswith("data.data.actions[0]")


def test_a_data_key_around_something_else_is_still_an_unknown_format() -> None:
    for data in ({"data": {"steps": "nope"}}, {"data": {"data": {"data": recording()}}}, {"data": [1]}):
        error = invalid(data)
        assert (error.field, error.message.startswith("unrecognised script format")) == ("", True)
