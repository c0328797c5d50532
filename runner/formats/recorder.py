"""Chrome DevTools Recorder recordings (the @puppeteer/replay `UserFlow` JSON) -> the internal step model.

Mirrors the checks of @puppeteer/replay's `parse()` (src/SchemaUtils.ts), with an exact field path in
every error, and is stricter where that parser silently ignores a wrong value: a non-number `timeout`,
a non-string `target`, a non-array `assertedEvents`, empty selectors, an empty `steps`, a navigate URL
that is not http(s). Timeouts must lie in 1..30000 ms, as there.

Step types: navigate, click, doubleClick, hover, change, keyDown, keyUp, waitForElement,
waitForExpression, setViewport, scroll, close, emulateNetworkConditions, customStep. A `customStep` needs a
Recorder extension to mean anything: it is kept (`CustomStep`) and skipped at replay with a warning naming it, so
the run passes or fails on its other steps (`strictCustomSteps` refuses the recording instead). Clicks take the
`back` and `forward` buttons too.
`waitForElement` follows @puppeteer/replay's runner (operator `>=` and count 1 by default, `visible: false`
inverts the condition, `attributes`/`properties` must match on every element found), except that it
counts visible elements only (see `runner.formats.steps.WaitForElement`).
"""

from __future__ import annotations

from typing import Any, cast, get_args

from runner.formats.errors import InvalidScript
from runner.formats.selectors import selector_problem
from runner.formats.steps import (
    Click,
    ClickButton,
    ClosePage,
    CountOperator,
    CustomStep,
    EmulateNetwork,
    Fill,
    Hover,
    KeyDown,
    KeyUp,
    Navigate,
    Script,
    Scroll,
    Selectors,
    SetViewport,
    Step,
    Viewport,
    WaitForElement,
    WaitForExpression,
    url_problem,
)

MIN_TIMEOUT_MS = 1
MAX_TIMEOUT_MS = 30_000
STEP_TYPES = ("navigate", "click", "doubleClick", "hover", "change", "keyDown", "keyUp", "waitForElement",
              "waitForExpression", "setViewport", "scroll", "close", "emulateNetworkConditions", "customStep")
MOUSE_BUTTONS: dict[str, ClickButton] = {"primary": "left", "auxiliary": "middle", "secondary": "right",
                                         "back": "back", "forward": "forward"}
DEVICE_TYPES = ("mouse", "pen", "touch")
# Keys as the Recorder writes them that Playwright names differently.
KEY_ALIASES = {"\r": "Enter", "\n": "Enter"}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Fields:
    """Typed reads of one JSON object, raising InvalidScript with `<path>.<name>`."""

    def __init__(self, data: dict[str, Any], path: str) -> None:
        self.data = data
        self.path = path

    def at(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        return name in self.data  # JSON null counts as present (and then has the wrong type)

    def string(self, name: str, *, optional: bool = False, non_empty: bool = False) -> str | None:
        if not self.has(name):
            if optional:
                return None
            raise InvalidScript(self.at(name), "is required")
        value = self.data[name]
        if not isinstance(value, str):
            raise InvalidScript(self.at(name), f"must be a string, not {_json_type(value)}")
        if non_empty and not value:
            raise InvalidScript(self.at(name), "must not be empty")
        return value

    def required_string(self, name: str, *, non_empty: bool = False) -> str:
        return cast(str, self.string(name, non_empty=non_empty))

    def number(self, name: str, *, optional: bool = False) -> float | None:
        if not self.has(name):
            if optional:
                return None
            raise InvalidScript(self.at(name), "is required")
        value = self.data[name]
        if not _is_number(value):
            raise InvalidScript(self.at(name), f"must be a number, not {_json_type(value)}")
        return float(value)

    def required_number(self, name: str) -> float:
        return cast(float, self.number(name))

    def boolean(self, name: str, *, optional: bool = False) -> bool | None:
        if not self.has(name):
            if optional:
                return None
            raise InvalidScript(self.at(name), "is required")
        value = self.data[name]
        if not isinstance(value, bool):
            raise InvalidScript(self.at(name), f"must be true or false, not {_json_type(value)}")
        return value

    def timeout(self, name: str = "timeout") -> int | None:
        value = self.number(name, optional=True)
        if value is None:
            return None
        if not MIN_TIMEOUT_MS <= value <= MAX_TIMEOUT_MS:
            raise InvalidScript(self.at(name), f"must be between {MIN_TIMEOUT_MS} and {MAX_TIMEOUT_MS} ms")
        return int(value)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if _is_number(value):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _selectors(fields: _Fields, name: str = "selectors") -> Selectors:
    path = fields.at(name)
    if not fields.has(name):
        raise InvalidScript(path, "is required (a list of alternative selectors)")
    value = fields.data[name]
    if not isinstance(value, list):
        raise InvalidScript(path, f"must be an array of selectors, not {_json_type(value)}")
    if not value:
        raise InvalidScript(path, "must contain at least one selector")
    alternatives: list[tuple[str, ...]] = []
    for index, alternative in enumerate(value):
        if not isinstance(alternative, str | list):
            raise InvalidScript(f"{path}[{index}]", f"must be a string or an array of strings, not "
                                                    f"{_json_type(alternative)}")
        parts = alternative if isinstance(alternative, list) else [alternative]
        if not parts:
            raise InvalidScript(f"{path}[{index}]", "must not be an empty array")
        for part_index, part in enumerate(parts):
            part_path = f"{path}[{index}][{part_index}]" if isinstance(alternative, list) else f"{path}[{index}]"
            if not isinstance(part, str):
                raise InvalidScript(part_path, f"must be a string, not {_json_type(part)}")
            problem = selector_problem(part)
            if problem:
                raise InvalidScript(part_path, problem)
        alternatives.append(tuple(parts))
    return tuple(alternatives)


def _frame(fields: _Fields) -> tuple[int, ...]:
    if not fields.has("frame"):
        return ()
    value = fields.data["frame"]
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0
                                              for i in value):
        raise InvalidScript(fields.at("frame"), "must be an array of non-negative integers (child frame indices)")
    return tuple(value)


def _expected_navigation(fields: _Fields) -> str | None:
    if not fields.has("assertedEvents"):
        return None
    events = fields.data["assertedEvents"]
    if not isinstance(events, list):
        raise InvalidScript(fields.at("assertedEvents"), f"must be an array, not {_json_type(events)}")
    expected: str | None = None
    for index, event in enumerate(events):
        event_fields = _Fields(event, fields.at(f"assertedEvents[{index}]")) if isinstance(event, dict) else None
        if event_fields is None:
            raise InvalidScript(fields.at(f"assertedEvents[{index}]"), "must be an object")
        kind = event_fields.required_string("type")
        if kind != "navigation":
            raise InvalidScript(event_fields.at("type"), f"unknown asserted event {kind!r} (expected navigation)")
        event_fields.string("title", optional=True)  # checked for its type; the title itself is not asserted
        expected = event_fields.string("url", optional=True) or expected or ""
    return expected


def _common(fields: _Fields, step_type: str) -> dict[str, Any]:
    target = fields.string("target", optional=True)
    return {
        "type": step_type,
        "timeout_ms": fields.timeout(),
        "target": None if target in (None, "main") else target,
        "frame": _frame(fields),
        "expect_navigation": _expected_navigation(fields),
    }


def _click(fields: _Fields, common: dict[str, Any], click_count: int) -> Click:
    offset_x = fields.required_number("offsetX")
    offset_y = fields.required_number("offsetY")
    duration = fields.number("duration", optional=True)
    device = fields.string("deviceType", optional=True)
    if device and device not in DEVICE_TYPES:
        raise InvalidScript(fields.at("deviceType"), f"must be one of: {', '.join(DEVICE_TYPES)}")
    button = fields.string("button", optional=True)
    if button and button not in MOUSE_BUTTONS:
        raise InvalidScript(fields.at("button"), f"must be one of: {', '.join(MOUSE_BUTTONS)}")
    return Click(selectors=_selectors(fields), button=MOUSE_BUTTONS[button] if button else "left",
                 click_count=click_count, offset=(offset_x, offset_y), delay_ms=duration, **common)


def _wait_for_element(fields: _Fields, common: dict[str, Any]) -> WaitForElement:
    operator = fields.string("operator", optional=True) or ">="
    if operator not in get_args(CountOperator):
        raise InvalidScript(fields.at("operator"), "must be one of '>=', '==', '<='")
    count = fields.number("count", optional=True)
    if count is not None and (count < 0 or count != int(count)):
        raise InvalidScript(fields.at("count"), "must be a non-negative integer")
    attributes = fields.data.get("attributes")
    if fields.has("attributes") and (not isinstance(attributes, dict)
                                   or not all(isinstance(v, str) for v in attributes.values())):
        raise InvalidScript(fields.at("attributes"), "must be an object of strings")
    properties = fields.data.get("properties")
    if fields.has("properties") and not isinstance(properties, dict):
        raise InvalidScript(fields.at("properties"), "must be an object")
    visible = fields.boolean("visible", optional=True)
    return WaitForElement(selectors=_selectors(fields), operator=cast(CountOperator, operator),
                          count=1 if count is None else int(count), visible=True if visible is None else visible,
                          attributes=attributes, properties=properties, **common)


def _viewport(fields: _Fields) -> Viewport:
    width = fields.required_number("width")
    height = fields.required_number("height")
    for name, value in (("width", width), ("height", height)):
        if value < 1 or value != int(value):
            raise InvalidScript(fields.at(name), "must be a positive integer")
    scale = fields.required_number("deviceScaleFactor")
    if scale <= 0:
        raise InvalidScript(fields.at("deviceScaleFactor"), "must be positive")
    return Viewport(width=int(width), height=int(height), device_scale_factor=scale,
                    is_mobile=bool(fields.boolean("isMobile")), has_touch=bool(fields.boolean("hasTouch")),
                    is_landscape=bool(fields.boolean("isLandscape")))


def _key(fields: _Fields) -> str:
    key = fields.required_string("key", non_empty=True)
    return KEY_ALIASES.get(key, key)


def parse_step(data: object, path: str) -> Step:
    if not isinstance(data, dict):
        raise InvalidScript(path, f"must be an object, not {_json_type(data)}")
    fields = _Fields(data, path)
    step_type = fields.required_string("type")
    if step_type == "customStep":
        return CustomStep(name=fields.required_string("name", non_empty=True), **_common(fields, step_type))
    if step_type not in STEP_TYPES:
        raise InvalidScript(fields.at("type"), f"unknown step type {step_type!r} (expected one of: "
                                               f"{', '.join(STEP_TYPES)})")
    common = _common(fields, step_type)
    match step_type:
        case "navigate":
            url = fields.required_string("url")
            problem = url_problem(url)
            if problem:
                raise InvalidScript(fields.at("url"), problem)
            return Navigate(url=url, **common)
        case "click":
            return _click(fields, common, click_count=1)
        case "doubleClick":
            return _click(fields, common, click_count=2)
        case "hover":
            return Hover(selectors=_selectors(fields), **common)
        case "change":
            return Fill(selectors=_selectors(fields), value=fields.required_string("value"), **common)
        case "keyDown":
            return KeyDown(key=_key(fields), **common)
        case "keyUp":
            return KeyUp(key=_key(fields), **common)
        case "waitForElement":
            return _wait_for_element(fields, common)
        case "waitForExpression":
            return WaitForExpression(expression=fields.required_string("expression", non_empty=True), **common)
        case "setViewport":
            return SetViewport(viewport=_viewport(fields), **common)
        case "scroll":
            return Scroll(x=fields.number("x", optional=True) or 0, y=fields.number("y", optional=True) or 0,
                          selectors=_selectors(fields) if fields.has("selectors") else None, **common)
        case "close":
            return ClosePage(**common)
        case "emulateNetworkConditions":
            return EmulateNetwork(download=fields.required_number("download"),
                                  upload=fields.required_number("upload"),
                                  latency=fields.required_number("latency"), **common)
    raise AssertionError(f"unhandled step type {step_type}")


def parse_recording(data: object) -> Script:
    """A Recorder recording from decoded JSON; InvalidScript names the first problem's field."""
    if not isinstance(data, dict):
        raise InvalidScript("", "a Recorder recording must be a JSON object")
    fields = _Fields(data, "")
    title = fields.required_string("title")
    timeout = fields.timeout()
    fields.string("selectorAttribute", optional=True)
    if not fields.has("steps"):
        raise InvalidScript("steps", "is required")
    raw_steps = data["steps"]
    if not isinstance(raw_steps, list):
        raise InvalidScript("steps", f"must be an array, not {_json_type(raw_steps)}")
    if not raw_steps:
        raise InvalidScript("steps", "must contain at least one step")
    steps = [parse_step(step, f"steps[{index}]") for index, step in enumerate(raw_steps)]
    first = steps[0]
    viewport = first.viewport if isinstance(first, SetViewport) else None
    return Script(name=title or "Untitled recording", format="chrome-recorder", steps=steps, viewport=viewport,
                  timeout_ms=timeout)
