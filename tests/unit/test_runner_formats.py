"""Recording formats without a browser: detection, normalisation, and the field named by every refusal."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from contract.network import NetworkPolicy
from contract.options import RunOptions
from runner.formats import InvalidScript, detect_format, load_script_file, native_json_schema, parse_script
from runner.formats.admission import admit
from runner.formats.native import ACTIONS
from runner.formats.selectors import parse_selector
from runner.formats.steps import (
    AssertText,
    Click,
    CustomStep,
    Fill,
    KeyDown,
    Navigate,
    Press,
    SelectOption,
    SetViewport,
    WaitForElement,
    WaitForState,
)

from recordings import RECORDINGS_DIR, load_recording
from services import REPO_ROOT

BASE = "http://127.0.0.1:8123"


def recorder(*steps: Any, **top: Any) -> dict[str, Any]:
    return {"title": "t", **top, "steps": list(steps)}


def native(*steps: Any, **top: Any) -> dict[str, Any]:
    return {"version": 1, "name": "n", **top, "steps": list(steps)}


NAVIGATE = {"type": "navigate", "url": f"{BASE}/index.html"}
CLICK = {"type": "click", "selectors": [["#submit"]], "offsetX": 1, "offsetY": 2}
N_NAVIGATE = {"action": "navigate", "url": f"{BASE}/index.html"}
N_CLICK = {"action": "click", "selector": "#submit"}


def invalid(data: object) -> InvalidScript:
    with pytest.raises(InvalidScript) as caught:
        parse_script(data)
    return caught.value


@pytest.mark.parametrize("name", sorted(path.name for path in RECORDINGS_DIR.glob("*.json")))
def test_every_fixture_recording_parses(name: str) -> None:
    script = parse_script(load_recording(name, BASE))
    assert script.steps
    assert script.format == ("native" if name.startswith("native") else "chrome-recorder")


def test_recorder_recording_is_normalised() -> None:
    script = parse_script(load_recording("recorder-signup.json", BASE))
    assert script.name == "Sign up on the fixture shop"
    assert script.format == "chrome-recorder"
    assert script.timeout_ms == 5000
    assert script.viewport is not None and (script.viewport.width, script.viewport.height) == (1024, 768)
    first, navigate, _, click, change = script.steps[:5]
    assert isinstance(first, SetViewport)
    assert isinstance(navigate, Navigate) and navigate.url == f"{BASE}/index.html"
    assert navigate.expect_navigation == f"{BASE}/index.html"
    assert isinstance(click, Click)
    assert click.selectors == (("#renamed-long-ago",), ("aria/Name",), ("#name",))
    assert click.offset == (20, 8) and click.click_count == 1 and click.button == "left"
    assert click.target is None  # "main" is the default page
    assert isinstance(change, Fill) and change.type == "change" and change.value == "Ada"
    double = next(step for step in script.steps if step.type == "doubleClick")
    assert isinstance(double, Click) and double.click_count == 2
    wait = script.steps[11]
    assert isinstance(wait, WaitForElement)
    assert (wait.operator, wait.count, wait.visible) == ("==", 1, True)
    assert wait.attributes == {"aria-live": "polite"}


def test_recorder_frames_chains_and_defaults() -> None:
    script = parse_script(load_recording("recorder-shadow-frames.json", BASE))
    assert script.viewport is None  # no setViewport first: the runner's default applies
    click = script.steps[1]
    assert isinstance(click, Click) and click.selectors == (("fancy-card", "#shadow-button"),)
    assert script.steps[4].frame == (0,)
    wait = script.steps[8]
    assert isinstance(wait, WaitForElement) and wait.visible is False and wait.operator == ">="


def test_recorder_click_buttons_and_key_aliases() -> None:
    script = parse_script(recorder({**CLICK, "button": "secondary", "duration": 80},
                                   {"type": "keyDown", "key": "\r"}))
    click, key = script.steps
    assert isinstance(click, Click) and click.button == "right" and click.delay_ms == 80
    assert isinstance(key, KeyDown) and key.key == "Enter"
    back, forward = parse_script(recorder({**CLICK, "button": "back"}, {**CLICK, "button": "forward"})).steps
    assert isinstance(back, Click) and isinstance(forward, Click) and (back.button, forward.button) == ("back",
                                                                                                       "forward")


def test_a_recorder_custom_step_is_kept_to_be_skipped_and_refused_when_strict() -> None:
    data = recorder(CLICK, {"type": "customStep", "name": "my-extension", "parameters": {"x": 1}, "timeout": 900})
    step = parse_script(data).steps[1]
    assert step == CustomStep(type="customStep", name="my-extension", timeout_ms=900)
    assert admit(data, RunOptions(), NetworkPolicy()).steps[1] == step
    with pytest.raises(InvalidScript) as refused:
        admit(data, RunOptions(strict_custom_steps=True), NetworkPolicy())
    assert refused.value.field == "steps[1]" and "my-extension" in refused.value.message


def test_native_script_is_normalised() -> None:
    script = parse_script(load_recording("native-tour.json", BASE))
    assert script.format == "native"
    assert script.name == "Native tour of every action"
    assert script.viewport is not None and (script.viewport.width, script.viewport.height) == (1024, 700)
    types = {step.type for step in script.steps}
    assert types == {"navigate", "assertUrl", "waitForSelector", "fill", "select", "click", "press",
                     "assertText", "assertVisible"}
    assert types < set(ACTIONS)
    select = script.steps[4]
    assert isinstance(select, SelectOption) and select.selectors == (("#plan",),) and select.value == "Team"
    press_focused, press_anywhere = script.steps[6], script.steps[12]
    assert isinstance(press_focused, Press) and press_focused.selectors == (("#name",),)
    assert isinstance(press_anywhere, Press) and press_anywhere.selectors is None
    assert isinstance(script.steps[7], AssertText) and script.steps[7].match == "equals"
    late = script.steps[18]
    assert isinstance(late, WaitForState) and late.state == "visible" and late.timeout_ms == 3000


@pytest.mark.parametrize(
    ("data", "expected_format"),
    [
        (native(N_NAVIGATE), "native"),
        ({"name": "no version", "steps": [N_NAVIGATE]}, "native"),
        (recorder(NAVIGATE), "chrome-recorder"),
        ({"steps": [NAVIGATE]}, "chrome-recorder"),
    ],
)
def test_format_detection(data: dict[str, Any], expected_format: str) -> None:
    assert detect_format(data) == expected_format


def test_detected_format_then_applies_its_own_rules() -> None:
    assert invalid({"name": "no version", "steps": [N_NAVIGATE]}).field == "version"
    assert invalid({"steps": [NAVIGATE]}).field == "title"


@pytest.mark.parametrize("data", [{"steps": [{"click": "#a"}]}, {"name": "x"}, [NAVIGATE], "steps", None])
def test_unrecognised_documents_are_refused(data: object) -> None:
    error = invalid(data)
    assert error.field == ""
    assert "native script" in error.message and "Recorder" in error.message


RECORDER_PROBLEMS: list[tuple[dict[str, Any], str, str]] = [
    ({"steps": [NAVIGATE], "timeout": 10}, "title", "required"),
    (recorder(NAVIGATE, title=3), "title", "string"),
    (recorder(NAVIGATE, timeout=0), "timeout", "between 1 and 30000"),
    (recorder(NAVIGATE, timeout=40_000), "timeout", "between 1 and 30000"),
    (recorder(NAVIGATE, timeout="5s"), "timeout", "number"),
    ({"title": "t"}, "steps", "required"),
    ({"title": "t", "steps": {}}, "steps", "array"),
    (recorder(), "steps", "at least one step"),
    (recorder(NAVIGATE, "click"), "steps[1]", "object"),
    (recorder(NAVIGATE, {"selectors": ["#a"]}), "steps[1].type", "required"),
    (recorder(NAVIGATE, {"type": 7}), "steps[1].type", "string"),
    (recorder(NAVIGATE, CLICK, {"type": "teleport"}), "steps[2].type", "unknown step type 'teleport'"),
    (recorder({"type": "customStep", "parameters": {}}), "steps[0].name", "required"),
    (recorder(NAVIGATE, {**CLICK, "offsetX": None}), "steps[1].offsetX", "number"),
    (recorder(NAVIGATE, {k: v for k, v in CLICK.items() if k != "offsetY"}), "steps[1].offsetY", "required"),
    (recorder(NAVIGATE, {**CLICK, "selectors": []}), "steps[1].selectors", "at least one selector"),
    (recorder(NAVIGATE, {**CLICK, "selectors": "#a"}), "steps[1].selectors", "array"),
    (recorder(NAVIGATE, {k: v for k, v in CLICK.items() if k != "selectors"}), "steps[1].selectors", "required"),
    (recorder(NAVIGATE, {**CLICK, "selectors": ["#a", 5]}), "steps[1].selectors[1]", "string or an array"),
    (recorder(NAVIGATE, {**CLICK, "selectors": [["host", 5]]}), "steps[1].selectors[0][1]", "string"),
    (recorder(NAVIGATE, {**CLICK, "selectors": [[]]}), "steps[1].selectors[0]", "empty array"),
    (recorder(NAVIGATE, {**CLICK, "selectors": [""]}), "steps[1].selectors[0]", "empty"),
    (recorder(NAVIGATE, {**CLICK, "selectors": [["aria/Go[role=\"buton\"]"]]}), "steps[1].selectors[0][0]",
     "not an ARIA role"),
    (recorder(NAVIGATE, {**CLICK, "selectors": [["text/"]]}), "steps[1].selectors[0][0]", "nothing after"),
    (recorder(NAVIGATE, {**CLICK, "button": "left"}), "steps[1].button", "must be one of"),
    (recorder(NAVIGATE, {**CLICK, "button": "middle"}), "steps[1].button", "primary, auxiliary, secondary, back"),
    (recorder(NAVIGATE, {**CLICK, "deviceType": "stylus"}), "steps[1].deviceType", "mouse, pen, touch"),
    (recorder(NAVIGATE, {**CLICK, "timeout": 0}), "steps[1].timeout", "between 1 and 30000"),
    (recorder(NAVIGATE, {**CLICK, "frame": [-1]}), "steps[1].frame", "non-negative integers"),
    (recorder(NAVIGATE, {**CLICK, "target": 3}), "steps[1].target", "string"),
    (recorder(NAVIGATE, {"type": "change", "selectors": ["#a"]}), "steps[1].value", "required"),
    (recorder({"type": "navigate"}), "steps[0].url", "required"),
    (recorder({"type": "navigate", "url": "ftp://example.com/x"}), "steps[0].url", "scheme 'ftp'"),
    (recorder({"type": "navigate", "url": "javascript:alert(1)"}), "steps[0].url", "scheme 'javascript'"),
    (recorder({"type": "navigate", "url": "/index.html"}), "steps[0].url", "not absolute"),
    (recorder({**NAVIGATE, "assertedEvents": [{"type": "load"}]}), "steps[0].assertedEvents[0].type",
     "unknown asserted event"),
    (recorder({**NAVIGATE, "assertedEvents": {}}), "steps[0].assertedEvents", "array"),
    (recorder(NAVIGATE, {"type": "keyDown"}), "steps[1].key", "required"),
    (recorder(NAVIGATE, {"type": "keyUp", "key": ""}), "steps[1].key", "empty"),
    (recorder(NAVIGATE, {"type": "waitForExpression"}), "steps[1].expression", "required"),
    (recorder(NAVIGATE, {"type": "waitForElement", "selectors": ["#a"], "operator": "!="}),
     "steps[1].operator", "'>=', '==', '<='"),
    (recorder(NAVIGATE, {"type": "waitForElement", "selectors": ["#a"], "count": -1}), "steps[1].count",
     "non-negative integer"),
    (recorder(NAVIGATE, {"type": "waitForElement", "selectors": ["#a"], "attributes": {"id": 1}}),
     "steps[1].attributes", "object of strings"),
    (recorder(NAVIGATE, {"type": "waitForElement", "selectors": ["#a"], "visible": "yes"}), "steps[1].visible",
     "true or false"),
    (recorder({"type": "setViewport", "width": 800, "height": 600, "deviceScaleFactor": 1, "isMobile": "no",
               "hasTouch": False, "isLandscape": False}), "steps[0].isMobile", "true or false"),
    (recorder({"type": "setViewport", "width": 0, "height": 600, "deviceScaleFactor": 1, "isMobile": False,
               "hasTouch": False, "isLandscape": False}), "steps[0].width", "positive integer"),
    (recorder({"type": "setViewport", "width": 800, "height": 600}), "steps[0].deviceScaleFactor", "required"),
    (recorder(NAVIGATE, {"type": "scroll", "x": "10"}), "steps[1].x", "number"),
    (recorder(NAVIGATE, {"type": "emulateNetworkConditions", "download": 1, "upload": 1}), "steps[1].latency",
     "required"),
]


@pytest.mark.parametrize(("data", "field", "message"), RECORDER_PROBLEMS)
def test_recorder_problems_name_their_field(data: dict[str, Any], field: str, message: str) -> None:
    error = invalid(data)
    assert error.field == field
    assert message in error.message
    assert str(error) == f"{field}: {error.message}"


NATIVE_PROBLEMS: list[tuple[dict[str, Any], str, str]] = [
    (native(N_NAVIGATE, version=3), "version", "1 or 2"),
    (native(N_NAVIGATE, version="1"), "version", "1 or 2"),
    (native(N_NAVIGATE, version=True), "version", "the number 1 or 2"),
    ({"version": 1, "steps": [N_NAVIGATE]}, "name", "required"),
    (native(N_NAVIGATE, name=""), "name", "at least 1"),
    (native(), "steps", "at least one step"),
    ({"version": 1, "name": "n", "steps": "x"}, "steps", "list"),
    (native(N_NAVIGATE, {"action": "teleport", "to": "#a"}), "steps[1].action", "unknown action 'teleport'"),
    (native(N_NAVIGATE, {"selector": "#a"}), "steps[1].action", "required"),
    (native(N_NAVIGATE, {"action": "click"}), "steps[1].selector", "required"),
    (native(N_NAVIGATE, {"action": "click", "selectr": "#a", "selector": "#a"}), "steps[1].selectr",
     "not a known field"),
    (native(N_NAVIGATE, {"action": "fill", "selector": "#a", "value": 3}), "steps[1].value", "string"),
    (native({"action": "navigate", "url": "file:///etc/passwd"}), "steps[0].url", "scheme 'file'"),
    (native({"action": "navigate", "url": "index.html"}), "steps[0].url", "not absolute"),
    (native(N_NAVIGATE, {**N_CLICK, "timeoutMs": 0}), "steps[1].timeoutMs", "greater than or equal to 1"),
    (native(N_NAVIGATE, {**N_CLICK, "timeoutMs": "500"}), "steps[1].timeoutMs", "integer"),
    (native(N_NAVIGATE, {"action": "waitForSelector", "selector": "#a", "state": "gone"}), "steps[1].state",
     "'visible'"),
    (native(N_NAVIGATE, {"action": "assertText", "selector": "#a", "text": "x", "match": "regex"}),
     "steps[1].match", "'equals'"),
    (native(N_NAVIGATE, {"action": "assertVisible", "selector": "aria/"}), "steps[1].selector", "nothing after"),
    (native(N_NAVIGATE, {"action": "press", "key": ""}), "steps[1].key", "at least 1"),
    (native(N_NAVIGATE, viewport={"width": 0, "height": 600}), "viewport.width", "greater than or equal to 1"),
    (native(N_NAVIGATE, extra=True), "extra", "not a known field"),
]


@pytest.mark.parametrize(("data", "field", "message"), NATIVE_PROBLEMS)
def test_native_problems_name_their_field(data: dict[str, Any], field: str, message: str) -> None:
    error = invalid(data)
    assert error.field == field
    assert message in error.message


def test_a_problem_deep_in_a_valid_looking_recording_is_found() -> None:
    data = load_recording("recorder-signup.json", BASE)
    broken = copy.deepcopy(data)
    broken["steps"][13]["selectors"] = [["#revealed", None]]
    error = invalid(broken)
    assert error.field == "steps[13].selectors[0][1]"


def test_native_json_schema_describes_every_action() -> None:
    schema = native_json_schema()
    assert schema["required"] == ["version", "name", "steps"]
    step_union = schema["properties"]["steps"]["items"]
    assert set(step_union["discriminator"]["mapping"]) == set(ACTIONS)
    click = schema["$defs"]["ClickAction"]
    assert click["additionalProperties"] is False
    assert "timeoutMs" in click["properties"]
    json.dumps(schema)  # serialisable as it is


def test_load_script_file_reports_json_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "title": "x",\n  "steps": [,]\n}\n', encoding="utf-8")
    with pytest.raises(InvalidScript) as caught:
        load_script_file(path)
    assert caught.value.field == ""
    assert "line 3 column 13" in caught.value.message
    with pytest.raises(FileNotFoundError):
        load_script_file(tmp_path / "missing.json")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(recorder(NAVIGATE)), encoding="utf-8")
    assert load_script_file(good).steps[0] == Navigate(type="navigate", url=f"{BASE}/index.html")


@pytest.mark.parametrize(
    ("text", "kind", "value", "role", "name"),
    [
        ("#name", "css", "#name", None, None),
        ("form > button.primary", "css", "form > button.primary", None, None),
        ("pierce/#shadow-result", "pierce", "#shadow-result", None, None),
        ("xpath///a[@id='x']", "xpath", "//a[@id='x']", None, None),
        ("text/Sign up", "text", "Sign up", None, None),
        ("aria/Sign up", "aria", "Sign up", None, "Sign up"),
        ('aria/Sign up[role="button"]', "aria", 'Sign up[role="button"]', "button", "Sign up"),
        ("aria/[role='img']", "aria", "[role='img']", "img", None),
        ('aria/Say \\"hi\\"[role="button"]', "aria", 'Say \\"hi\\"[role="button"]', "button", 'Say \\"hi\\"'),
        ('aria/[name="Close"][role="button"]', "aria", '[name="Close"][role="button"]', "button", "Close"),
    ],
)
def test_selector_kinds(text: str, kind: str, value: str, role: str | None, name: str | None) -> None:
    part = parse_selector(text)
    assert (part.kind, part.value, part.role, part.name) == (kind, value, role, name)


@pytest.mark.parametrize("text", ["", "   ", "aria/", "xpath/", "aria/[role=\"nope\"]", "aria/Go[level=\"2\"]"])
def test_unusable_selectors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_selector(text)


def test_documented_schema_matches_the_code() -> None:
    import json

    from runner.formats import native_json_schema

    documented = json.loads((REPO_ROOT / "docs/native-script.schema.json").read_text())
    assert documented == native_json_schema()
