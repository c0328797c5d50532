"""Reprise's own script format, version 1: pydantic models, their JSON Schema, and the parser.

    {"version": 1, "name": "checkout", "viewport": {"width": 1280, "height": 720},
     "steps": [{"action": "navigate", "url": "https://shop.example/"},
               {"action": "fill", "selector": "#email", "value": "ada@example.com"},
               {"action": "assertText", "selector": "#result", "text": "Thanks", "match": "contains",
                "timeoutMs": 2000}]}

Actions: navigate(url), click(selector), fill(selector, value), press(key, selector?),
select(selector, value), waitForSelector(selector, state), assertText(selector, text, match),
assertVisible(selector), assertUrl(url, match). Every step may carry `timeoutMs`. A selector is CSS, or
one of the Recorder's prefixed kinds (`aria/`, `text/`, `xpath/`, `pierce/`; see `runner.selectors`).
Assertions retry until they hold or the step's timeout ends, like waits do. Unknown fields are refused,
so a typo is an error rather than a silently ignored option.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from runner.errors import InvalidScript
from runner.selectors import selector_problem
from runner.steps import (
    AssertText,
    AssertUrl,
    AssertVisible,
    Click,
    ElementState,
    Fill,
    MatchMode,
    Navigate,
    Press,
    Script,
    SelectOption,
    Step,
    Viewport,
    WaitForState,
    url_problem,
)

NATIVE_VERSION = 1
MAX_STEP_TIMEOUT_MS = 600_000


def _check_selector(value: str) -> str:
    problem = selector_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _check_url(value: str) -> str:
    problem = url_problem(value)
    if problem:
        raise ValueError(problem)
    return value


SelectorText = Annotated[str, Field(min_length=1, description="CSS, or aria/, text/, xpath/, pierce/"),
                         AfterValidator(_check_selector)]
NavigableUrl = Annotated[str, Field(min_length=1, description="an absolute http(s) URL"),
                         AfterValidator(_check_url)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, frozen=True)


class _Action(_Model):
    timeout_ms: int | None = Field(default=None, alias="timeoutMs", ge=1, le=MAX_STEP_TIMEOUT_MS,
                                   description="this step's wait, in ms, instead of the run's default")


class NavigateAction(_Action):
    action: Literal["navigate"]
    url: NavigableUrl


class ClickAction(_Action):
    action: Literal["click"]
    selector: SelectorText


class FillAction(_Action):
    action: Literal["fill"]
    selector: SelectorText
    value: str


class PressAction(_Action):
    action: Literal["press"]
    key: str = Field(min_length=1, description="a key name (Enter, Tab, ArrowDown, Control+A) or a character")
    selector: SelectorText | None = Field(default=None, description="focus this element first")


class SelectAction(_Action):
    action: Literal["select"]
    selector: SelectorText
    value: str = Field(description="the option's value, else its label")


class WaitForSelectorAction(_Action):
    action: Literal["waitForSelector"]
    selector: SelectorText
    state: ElementState = "visible"


class AssertTextAction(_Action):
    action: Literal["assertText"]
    selector: SelectorText
    text: str
    match: MatchMode = "equals"


class AssertVisibleAction(_Action):
    action: Literal["assertVisible"]
    selector: SelectorText


class AssertUrlAction(_Action):
    action: Literal["assertUrl"]
    url: str = Field(min_length=1)
    match: MatchMode = "equals"


NativeStep = Annotated[
    NavigateAction | ClickAction | FillAction | PressAction | SelectAction | WaitForSelectorAction
    | AssertTextAction | AssertVisibleAction | AssertUrlAction,
    Field(discriminator="action"),
]
ACTIONS = ("navigate", "click", "fill", "press", "select", "waitForSelector", "assertText", "assertVisible",
           "assertUrl")


class NativeViewport(_Model):
    width: int = Field(ge=1, le=10_000)
    height: int = Field(ge=1, le=10_000)


class NativeScript(_Model):
    """A Reprise native script (version 1)."""

    version: Literal[1]
    name: str = Field(min_length=1)
    viewport: NativeViewport | None = None
    steps: list[NativeStep] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: object) -> object:
        if isinstance(value, bool):  # JSON true would otherwise pass as 1
            raise ValueError("must be the number 1")
        return value


def native_json_schema() -> dict[str, Any]:
    """The JSON Schema of the native format (what `NativeScript` accepts)."""
    schema = NativeScript.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    previous: int | str | None = None
    for index, segment in enumerate(loc):
        if isinstance(segment, int):
            path += f"[{segment}]"
        elif index >= 2 and loc[0] == "steps" and isinstance(previous, int) and segment in ACTIONS:
            pass  # the discriminated union's tag, not a field
        else:
            path += f".{segment}" if path else segment
        previous = segment
    return path


def _invalid(error: ValidationError) -> InvalidScript:
    first = error.errors(include_url=False)[0]
    kind = first["type"]
    path = _field_path(tuple(first["loc"]))
    message: str = first["msg"]
    if kind == "missing":
        message = "is required"
    elif kind == "extra_forbidden":
        message = "is not a known field"
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        path = f"{path}.action" if path else "action"
        context = first.get("ctx") or {}
        tag = context.get("tag")
        message = (f"unknown action {tag!r} (expected one of: {', '.join(ACTIONS)})" if kind == "union_tag_invalid"
                   else f"is required (one of: {', '.join(ACTIONS)})")
    elif kind == "value_error":
        message = message.removeprefix("Value error, ")
    elif kind == "too_short" and path == "steps":
        message = "must contain at least one step"
    return InvalidScript(path, message)


def _one(selector: str) -> tuple[tuple[str, ...], ...]:
    return ((selector,),)


def _to_step(action: Any) -> Step:
    common: dict[str, Any] = {"type": action.action, "timeout_ms": action.timeout_ms}
    match action:
        case NavigateAction():
            return Navigate(url=action.url, **common)
        case ClickAction():
            return Click(selectors=_one(action.selector), **common)
        case FillAction():
            return Fill(selectors=_one(action.selector), value=action.value, **common)
        case PressAction():
            return Press(key=action.key, selectors=_one(action.selector) if action.selector else None, **common)
        case SelectAction():
            return SelectOption(selectors=_one(action.selector), value=action.value, **common)
        case WaitForSelectorAction():
            return WaitForState(selectors=_one(action.selector), state=action.state, **common)
        case AssertTextAction():
            return AssertText(selectors=_one(action.selector), text=action.text, match=action.match, **common)
        case AssertVisibleAction():
            return AssertVisible(selectors=_one(action.selector), **common)
        case AssertUrlAction():
            return AssertUrl(url=action.url, match=action.match, **common)
    raise AssertionError(f"unhandled native action {action!r}")


def parse_native(data: object) -> Script:
    """A native script from decoded JSON; InvalidScript names the first problem's field."""
    if not isinstance(data, dict):
        raise InvalidScript("", "a native script must be a JSON object")
    try:
        parsed = NativeScript.model_validate(data)
    except ValidationError as error:
        raise _invalid(error) from None
    viewport = Viewport(width=parsed.viewport.width, height=parsed.viewport.height) if parsed.viewport else None
    return Script(name=parsed.name, format="native", steps=[_to_step(step) for step in parsed.steps],
                  viewport=viewport)
