"""Reprise's own script format, version 1: pydantic models, their JSON Schema, and the parser.

    {"version": 1, "name": "checkout", "viewport": {"width": 1280, "height": 720},
     "steps": [{"action": "navigate", "url": "https://shop.example/"},
               {"action": "fill", "selector": "#email", "value": "ada@example.com"},
               {"action": "assertText", "selector": "#result", "text": "Thanks", "match": "contains",
                "timeoutMs": 2000}]}

Actions (docs/native-format.md has the table): navigate; click, dblclick, hover; fill, type; press,
keyDown, keyUp; select, check, uncheck; upload; scroll; dragAndDrop; waitForSelector, waitForUrl,
waitForLoadState, wait, waitForFunction; assertVisible, assertHidden, assertText, assertValue,
assertAttribute, assertCount, assertUrl, assertTitle; screenshot; switchToFrame, switchToMainFrame,
switchToPage; handleDialog. Every step may carry `timeoutMs`. A selector is CSS, or one of the Recorder's
prefixed kinds (`aria/`, `text/`, `xpath/`, `pierce/`; see `runner.formats.selectors`). Assertions retry
until they hold or the step's timeout ends, like waits do. Unknown fields are refused, so a typo is an error
rather than a silently ignored option.

Frames: `switchToFrame` is resolved here, not at replay: the selectors of later element steps (and the
frame of `waitForFunction`) are prefixed with the iframe's selector, a chain `runner.replay.locate` follows
into the frame's document, until `switchToMainFrame` or `switchToPage`. Pages: `switchToPage` changes the
executor's page at replay (see `runner.replay.handlers.pages`).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from contract.options import MAX_STEP_TIMEOUT_MS
from runner.formats.errors import InvalidScript
from runner.formats.patterns import pattern_problem
from runner.formats.selectors import selector_problem
from runner.formats.steps import (
    AssertCount,
    AssertElement,
    AssertHidden,
    AssertText,
    AssertTitle,
    AssertUrl,
    AssertVisible,
    Click,
    CountOperator,
    DragAndDrop,
    ElementState,
    Fill,
    HandleDialog,
    Hover,
    KeyDown,
    KeyUp,
    LoadState,
    Modifier,
    ModifierClick,
    MouseButton,
    Navigate,
    Press,
    Screenshot,
    Script,
    Scroll,
    ScrollIntoView,
    SelectOption,
    SelectorChain,
    SetChecked,
    Sleep,
    Step,
    SwitchToFrame,
    SwitchToPage,
    TextMatch,
    TypeText,
    Upload,
    UploadFile,
    Viewport,
    WaitForFunction,
    WaitForLoadState,
    WaitForState,
    WaitForUrl,
    url_problem,
)

NATIVE_VERSION = 1
MAX_WAIT_MS = 60_000
MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # all the files of one upload step, decoded
SCREENSHOT_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


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


class Offset(_Model):
    x: float
    y: float


class ClickAction(_Action):
    action: Literal["click"]
    selector: SelectorText
    button: MouseButton = "left"
    click_count: int = Field(default=1, alias="clickCount", ge=1, le=3)
    modifiers: list[Modifier] = Field(default_factory=list, description="keys held during the click")
    offset: Offset | None = Field(default=None, description="from the element's top-left corner, in CSS px")


class DblclickAction(_Action):
    action: Literal["dblclick"]
    selector: SelectorText


class HoverAction(_Action):
    action: Literal["hover"]
    selector: SelectorText


class FillAction(_Action):
    action: Literal["fill"]
    selector: SelectorText
    value: str


class TypeAction(_Action):
    action: Literal["type"]
    selector: SelectorText
    value: str
    delay_ms: int | None = Field(default=None, alias="delayMs", ge=0, le=1_000, description="between keys")


Key = Annotated[str, Field(min_length=1, description="a key name (Enter, Tab, ArrowDown, Control+A) or a character")]


class PressAction(_Action):
    action: Literal["press"]
    key: Key
    selector: SelectorText | None = Field(default=None, description="focus this element first")


class KeyDownAction(_Action):
    action: Literal["keyDown"]
    key: Key


class KeyUpAction(_Action):
    action: Literal["keyUp"]
    key: Key


class SelectAction(_Action):
    action: Literal["select"]
    selector: SelectorText
    value: str = Field(description="the option's value, else its label")


class CheckAction(_Action):
    action: Literal["check"]
    selector: SelectorText


class UncheckAction(_Action):
    action: Literal["uncheck"]
    selector: SelectorText


class InlineFile(_Model):
    name: str = Field(min_length=1, max_length=255)
    mime_type: str = Field(default="application/octet-stream", alias="mimeType", min_length=1)
    content_base64: str = Field(alias="contentBase64", max_length=MAX_UPLOAD_BYTES * 4 // 3 + 4)

    @field_validator("content_base64")
    @classmethod
    def _base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("is not valid base64") from None
        return value


class UploadAction(_Action):
    action: Literal["upload"]
    selector: SelectorText = Field(description='an <input type="file">')
    files: list[InlineFile] = Field(description=f"inline files, at most {MAX_UPLOAD_BYTES} bytes in all; "
                                                "an empty list clears the input")


class ScrollAction(_Action):
    action: Literal["scroll"]
    selector: SelectorText | None = Field(default=None, description="without x/y: scroll it into view")
    x: float | None = Field(default=None, description="the page's (or the element's) horizontal scroll position")
    y: float | None = Field(default=None, description="the page's (or the element's) vertical scroll position")


class DragAndDropAction(_Action):
    action: Literal["dragAndDrop"]
    selector: SelectorText = Field(description="the element to drag")
    target: SelectorText = Field(description="the element to drop it on")


class WaitForSelectorAction(_Action):
    action: Literal["waitForSelector"]
    selector: SelectorText
    state: ElementState = "visible"


class WaitForUrlAction(_Action):
    action: Literal["waitForUrl"]
    url: str = Field(min_length=1)
    match: TextMatch = "equals"


class WaitForLoadStateAction(_Action):
    action: Literal["waitForLoadState"]
    state: LoadState = "load"


class WaitAction(_Action):
    action: Literal["wait"]
    ms: int = Field(ge=0, le=MAX_WAIT_MS)


class WaitForFunctionAction(_Action):
    action: Literal["waitForFunction"]
    expression: str = Field(min_length=1, description="a JavaScript expression, polled until truthy")


class AssertVisibleAction(_Action):
    action: Literal["assertVisible"]
    selector: SelectorText


class AssertHiddenAction(_Action):
    action: Literal["assertHidden"]
    selector: SelectorText


class AssertTextAction(_Action):
    action: Literal["assertText"]
    selector: SelectorText
    text: str
    match: TextMatch = "equals"


class AssertValueAction(_Action):
    action: Literal["assertValue"]
    selector: SelectorText
    value: str
    match: TextMatch = "equals"


class AssertAttributeAction(_Action):
    action: Literal["assertAttribute"]
    selector: SelectorText
    name: str = Field(min_length=1)
    value: str
    match: TextMatch = "equals"


class AssertCountAction(_Action):
    action: Literal["assertCount"]
    selector: SelectorText
    count: int = Field(ge=0)
    operator: CountOperator = "=="


class AssertUrlAction(_Action):
    action: Literal["assertUrl"]
    url: str = Field(min_length=1)
    match: TextMatch = "equals"


class AssertTitleAction(_Action):
    action: Literal["assertTitle"]
    text: str
    match: TextMatch = "equals"


class ScreenshotAction(_Action):
    action: Literal["screenshot"]
    name: str = Field(pattern=SCREENSHOT_NAME, description="unique in the script; the file is <name>.png")
    selector: SelectorText | None = Field(default=None, description="this element only; else the viewport")
    full_page: bool = Field(default=False, alias="fullPage")


class SwitchToFrameAction(_Action):
    action: Literal["switchToFrame"]
    selector: SelectorText = Field(description="the <iframe>")


class SwitchToMainFrameAction(_Action):
    action: Literal["switchToMainFrame"]


class SwitchToPageAction(_Action):
    action: Literal["switchToPage"]
    index: int | None = Field(default=None, ge=0, description="0 = the first page, in opening order")
    url_contains: str | None = Field(default=None, alias="urlContains", min_length=1)


class HandleDialogAction(_Action):
    action: Literal["handleDialog"]
    accept: bool = True
    prompt_text: str | None = Field(default=None, alias="promptText")


NativeStep = Annotated[
    NavigateAction | ClickAction | DblclickAction | HoverAction | FillAction | TypeAction | PressAction
    | KeyDownAction | KeyUpAction | SelectAction | CheckAction | UncheckAction | UploadAction | ScrollAction
    | DragAndDropAction | WaitForSelectorAction | WaitForUrlAction | WaitForLoadStateAction | WaitAction
    | WaitForFunctionAction | AssertVisibleAction | AssertHiddenAction | AssertTextAction | AssertValueAction
    | AssertAttributeAction | AssertCountAction | AssertUrlAction | AssertTitleAction | ScreenshotAction
    | SwitchToFrameAction | SwitchToMainFrameAction | SwitchToPageAction | HandleDialogAction,
    Field(discriminator="action"),
]
ACTIONS = ("navigate", "click", "dblclick", "hover", "fill", "type", "press", "keyDown", "keyUp", "select", "check",
           "uncheck", "upload", "scroll", "dragAndDrop", "waitForSelector", "waitForUrl", "waitForLoadState", "wait",
           "waitForFunction", "assertVisible", "assertHidden", "assertText", "assertValue", "assertAttribute",
           "assertCount", "assertUrl", "assertTitle", "screenshot", "switchToFrame", "switchToMainFrame",
           "switchToPage", "handleDialog")


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


class _Context:
    """Where the steps parsed so far leave later ones: the chain of iframe selectors they run inside."""

    def __init__(self) -> None:
        self.frame: SelectorChain = ()
        self.screenshots: set[str] = set()

    def one(self, selector: str) -> tuple[SelectorChain, ...]:
        return ((*self.frame, selector),)


def _check_pattern(action: Any, field: str, index: int) -> None:
    if getattr(action, "match", None) != "matches":
        return
    problem = pattern_problem(getattr(action, field))
    if problem:
        raise InvalidScript(f"steps[{index}].{field}", problem)


def _check_step(action: Any, index: int, context: _Context) -> None:
    """What the models cannot say about one field alone, named by field."""
    match action:
        case AssertTextAction() | AssertTitleAction():
            _check_pattern(action, "text", index)
        case AssertValueAction() | AssertAttributeAction():
            _check_pattern(action, "value", index)
        case AssertUrlAction() | WaitForUrlAction():
            _check_pattern(action, "url", index)
        case UploadAction():
            size = sum(len(base64.b64decode(file.content_base64)) for file in action.files)
            if size > MAX_UPLOAD_BYTES:
                raise InvalidScript(f"steps[{index}].files",
                                    f"the files hold {size} bytes, more than the {MAX_UPLOAD_BYTES} allowed")
        case ScrollAction():
            if action.selector is None and action.x is None and action.y is None:
                raise InvalidScript(f"steps[{index}].x", "x or y is required to scroll the page (or a selector)")
        case SwitchToPageAction():
            if (action.index is None) == (action.url_contains is None):
                raise InvalidScript(f"steps[{index}].index", "exactly one of index and urlContains is required")
        case ScreenshotAction():
            if action.name in context.screenshots:
                raise InvalidScript(f"steps[{index}].name", f"screenshot {action.name!r} is already taken earlier")
            context.screenshots.add(action.name)
        case HandleDialogAction():
            if action.prompt_text is not None and not action.accept:
                raise InvalidScript(f"steps[{index}].promptText", "is only used when accept is true")


def _to_step(action: Any, context: _Context) -> Step:
    common: dict[str, Any] = {"type": action.action, "timeout_ms": action.timeout_ms}
    one = context.one
    match action:
        case NavigateAction():
            return Navigate(url=action.url, **common)
        case ClickAction():
            offset = (action.offset.x, action.offset.y) if action.offset else None
            if action.modifiers:
                return ModifierClick(selectors=one(action.selector), modifiers=tuple(action.modifiers),
                                     button=action.button, click_count=action.click_count, offset=offset, **common)
            return Click(selectors=one(action.selector), button=action.button, click_count=action.click_count,
                         offset=offset, **common)
        case DblclickAction():
            return Click(selectors=one(action.selector), click_count=2, **common)
        case HoverAction():
            return Hover(selectors=one(action.selector), **common)
        case FillAction():
            return Fill(selectors=one(action.selector), value=action.value, **common)
        case TypeAction():
            return TypeText(selectors=one(action.selector), value=action.value, delay_ms=action.delay_ms, **common)
        case PressAction():
            return Press(key=action.key, selectors=one(action.selector) if action.selector else None, **common)
        case KeyDownAction():
            return KeyDown(key=action.key, **common)
        case KeyUpAction():
            return KeyUp(key=action.key, **common)
        case SelectAction():
            return SelectOption(selectors=one(action.selector), value=action.value, **common)
        case CheckAction() | UncheckAction():
            return SetChecked(selectors=one(action.selector), checked=action.action == "check", **common)
        case UploadAction():
            files = tuple(UploadFile(name=file.name, mime_type=file.mime_type,
                                     content=base64.b64decode(file.content_base64)) for file in action.files)
            return Upload(selectors=one(action.selector), files=files, **common)
        case ScrollAction():
            if action.selector is not None and action.x is None and action.y is None:
                return ScrollIntoView(selectors=one(action.selector), **common)
            return Scroll(x=action.x or 0, y=action.y or 0,
                          selectors=one(action.selector) if action.selector else None, **common)
        case DragAndDropAction():
            return DragAndDrop(selectors=one(action.selector), target_selectors=one(action.target), **common)
        case WaitForSelectorAction():
            return WaitForState(selectors=one(action.selector), state=action.state, **common)
        case WaitForUrlAction():
            return WaitForUrl(url=action.url, match=action.match, **common)
        case WaitForLoadStateAction():
            return WaitForLoadState(state=action.state, **common)
        case WaitAction():
            return Sleep(ms=action.ms, **common)
        case WaitForFunctionAction():
            return WaitForFunction(expression=action.expression, frame_selectors=context.frame, **common)
        case AssertVisibleAction():
            return AssertVisible(selectors=one(action.selector), **common)
        case AssertHiddenAction():
            return AssertHidden(selectors=one(action.selector), **common)
        case AssertTextAction():
            if action.match == "matches":
                return AssertElement(selectors=one(action.selector), what="text", expected=action.text,
                                     match=action.match, **common)
            return AssertText(selectors=one(action.selector), text=action.text, match=action.match, **common)
        case AssertValueAction():
            return AssertElement(selectors=one(action.selector), what="value", expected=action.value,
                                 match=action.match, **common)
        case AssertAttributeAction():
            return AssertElement(selectors=one(action.selector), what="attribute", name=action.name,
                                 expected=action.value, match=action.match, **common)
        case AssertCountAction():
            return AssertCount(selectors=one(action.selector), count=action.count, operator=action.operator,
                               **common)
        case AssertUrlAction():
            if action.match == "matches":
                return WaitForUrl(url=action.url, match=action.match, assertion=True, **common)
            return AssertUrl(url=action.url, match=action.match, **common)
        case AssertTitleAction():
            return AssertTitle(text=action.text, match=action.match, **common)
        case ScreenshotAction():
            return Screenshot(name=action.name, selectors=one(action.selector) if action.selector else None,
                              full_page=action.full_page, **common)
        case SwitchToFrameAction():
            step = SwitchToFrame(selectors=one(action.selector), **common)
            context.frame = (*context.frame, action.selector)
            return step
        case SwitchToMainFrameAction():
            context.frame = ()
            return SwitchToFrame(selectors=None, **common)
        case SwitchToPageAction():
            context.frame = ()
            return SwitchToPage(index=action.index, url_contains=action.url_contains, **common)
        case HandleDialogAction():
            return HandleDialog(accept=action.accept, prompt_text=action.prompt_text, **common)
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
    context = _Context()
    steps: list[Step] = []
    for index, action in enumerate(parsed.steps):
        _check_step(action, index, context)
        steps.append(_to_step(action, context))
    return Script(name=parsed.name, format="native", steps=steps, viewport=viewport)
