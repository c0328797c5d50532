"""Reprise's own script format, versions 1 and 2: pydantic models, their JSON Schema, and the parser.

    {"version": 1, "name": "checkout", "viewport": {"width": 1280, "height": 720},
     "steps": [{"action": "navigate", "url": "https://shop.example/"},
               {"action": "fill", "selector": "#email", "value": "ada@example.com"},
               {"action": "assertText", "selector": "#result", "text": "Thanks", "match": "contains",
                "timeoutMs": 2000}]}

Actions (docs/native-format.md has the table): navigate; click, dblclick, hover; fill, type; press,
keyDown, keyUp; select, check, uncheck; upload; scroll; dragAndDrop; waitForSelector, waitForUrl,
waitForLoadState, wait, waitForFunction; assertVisible, assertHidden, assertText, assertValue,
assertAttribute, assertCount, assertUrl, assertTitle; screenshot; switchToFrame, switchToMainFrame,
switchToPage; handleDialog; version 2 adds waitForElement, waitForExpression, setViewport. Every step may
carry `timeoutMs`. A selector is CSS, or one of the Recorder's prefixed kinds (`aria/`, `text/`, `xpath/`,
`pierce/`; see `runner.formats.selectors`). Assertions retry until they hold or the step's timeout ends, like
waits do. Unknown fields are refused, so a typo is an error rather than a silently ignored option.

Frames: `switchToFrame` is resolved here, not at replay: every selector alternative of later element steps
(and the frame of `waitForFunction`) is prefixed with the iframe's selector, a chain `runner.replay.locate`
follows into the frame's document, until `switchToMainFrame` or `switchToPage`. Pages: `switchToPage` changes
the executor's page at replay (see `runner.replay.handlers.pages`).

Version 2 says what a Chrome Recorder recording says (all but `close`, network emulation and extensions' custom
steps), so recordings convert to native without loss (`runner.formats.native_writer`): a `selector` may be a list
of alternatives, the first that matches wins, each a selector or a chain (`["#email", ["my-form", "input"]]`, the
Recorder's `selectors`); every step may carry `frame` (child-frame indices), `pageUrl` (the page or popup it runs
in) and `expectNavigation`; clicks take the `back` and `forward` buttons and `delayMs`; `waitForElement`,
`waitForExpression` and `setViewport` are the Recorder's steps; the script may carry `timeoutMs` and a viewport
with scale factor and mobile emulation. A version 1 script is read as it always was, and one that uses
something of version 2 is refused, naming the field, so that a script never means more than its version says.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, ValidationError, field_validator

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
    ClickButton,
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
    Selectors,
    SetChecked,
    SetViewport,
    Sleep,
    Step,
    SwitchToFrame,
    SwitchToPage,
    TextMatch,
    TypeText,
    Upload,
    UploadFile,
    Viewport,
    WaitForElement,
    WaitForExpression,
    WaitForFunction,
    WaitForLoadState,
    WaitForState,
    WaitForUrl,
    url_problem,
)

NATIVE_VERSION = 2  # the newest; version 1 scripts are still read
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


class _AlternativeProblem(ValueError):
    """A refused part of a selector list; `where` (`[1][0]`) extends the field's path in the error."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where


def _check_alternatives(value: object) -> object:
    """One selector, or (version 2) a non-empty list of alternatives, each a selector or a non-empty chain.
    The Recorder's `selectors`, checked as `runner.formats.recorder` checks them."""
    if isinstance(value, str):
        return _check_selector(value)
    if not isinstance(value, list):
        raise ValueError("must be a selector, or a list of alternative selectors")
    if not value:
        raise ValueError("must contain at least one selector")
    for index, alternative in enumerate(value):
        if not isinstance(alternative, str | list):
            raise _AlternativeProblem(f"[{index}]", "must be a selector or a list of selectors (a chain)")
        if not alternative:
            raise _AlternativeProblem(f"[{index}]", "must not be an empty list")
        parts = alternative if isinstance(alternative, list) else [alternative]
        for part_index, part in enumerate(parts):
            where = f"[{index}][{part_index}]" if isinstance(alternative, list) else f"[{index}]"
            problem = selector_problem(part) if isinstance(part, str) else "must be a selector string"
            if problem:
                raise _AlternativeProblem(where, problem)
    return value


_Part = Annotated[str, Field(min_length=1)]
_Chain = Annotated[list[_Part], Field(min_length=1)]
Selector = Annotated[
    str | list[str | list[str]],
    PlainValidator(_check_alternatives, json_schema_input_type=_Part | Annotated[list[_Part | _Chain],
                                                                                 Field(min_length=1)]),
    Field(description="a selector (CSS, or aria/, text/, xpath/, pierce/); version 2: or a list of alternatives, "
                      "the first that matches wins, each a selector or a chain through shadow roots and iframes"),
]
NavigableUrl = Annotated[str, Field(min_length=1, description="an absolute http(s) URL"),
                         AfterValidator(_check_url)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, frozen=True)


StepTimeout = Annotated[int, Field(ge=1, le=MAX_STEP_TIMEOUT_MS)]


class _Action(_Model):
    timeout_ms: StepTimeout | None = Field(default=None, alias="timeoutMs",
                                           description="this step's wait, in ms, instead of the run's default")
    frame: list[Annotated[int, Field(ge=0)]] | None = Field(
        default=None, description="version 2: the frame the step runs in, as child-frame indices from the main frame")
    page_url: str | None = Field(default=None, alias="pageUrl", min_length=1,
                                 description='version 2: the URL of the page (a popup) the step runs in; "main" '
                                             "or none: the first page")
    expect_navigation: str | None = Field(default=None, alias="expectNavigation",
                                          description="version 2: the step causes a navigation (to this URL; "
                                                      '"" = any), which it waits for')


class NavigateAction(_Action):
    action: Literal["navigate"]
    url: NavigableUrl


class Offset(_Model):
    x: float
    y: float


class ClickAction(_Action):
    action: Literal["click"]
    selector: Selector
    button: ClickButton = Field(default="left", description="version 2: also back and forward")
    click_count: int = Field(default=1, alias="clickCount", ge=1, le=3)
    modifiers: list[Modifier] = Field(default_factory=list, description="keys held during the click")
    offset: Offset | None = Field(default=None, description="from the element's top-left corner, in CSS px")
    delay_ms: float | None = Field(default=None, alias="delayMs", ge=0, le=MAX_WAIT_MS,
                                   description="version 2: between pressing and releasing the button")


class DblclickAction(_Action):
    action: Literal["dblclick"]
    selector: Selector


class HoverAction(_Action):
    action: Literal["hover"]
    selector: Selector


class FillAction(_Action):
    action: Literal["fill"]
    selector: Selector
    value: str


class TypeAction(_Action):
    action: Literal["type"]
    selector: Selector
    value: str
    delay_ms: int | None = Field(default=None, alias="delayMs", ge=0, le=1_000, description="between keys")


Key = Annotated[str, Field(min_length=1, description="a key name (Enter, Tab, ArrowDown, Control+A) or a character")]


class PressAction(_Action):
    action: Literal["press"]
    key: Key
    selector: Selector | None = Field(default=None, description="focus this element first")


class KeyDownAction(_Action):
    action: Literal["keyDown"]
    key: Key


class KeyUpAction(_Action):
    action: Literal["keyUp"]
    key: Key


class SelectAction(_Action):
    action: Literal["select"]
    selector: Selector
    value: str = Field(description="the option's value, else its label")


class CheckAction(_Action):
    action: Literal["check"]
    selector: Selector


class UncheckAction(_Action):
    action: Literal["uncheck"]
    selector: Selector


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
    selector: Selector = Field(description='an <input type="file">')
    files: list[InlineFile] = Field(description=f"inline files, at most {MAX_UPLOAD_BYTES} bytes in all; "
                                                "an empty list clears the input")


class ScrollAction(_Action):
    action: Literal["scroll"]
    selector: Selector | None = Field(default=None, description="without x/y: scroll it into view")
    x: float | None = Field(default=None, description="the page's (or the element's) horizontal scroll position")
    y: float | None = Field(default=None, description="the page's (or the element's) vertical scroll position")


class DragAndDropAction(_Action):
    action: Literal["dragAndDrop"]
    selector: Selector = Field(description="the element to drag")
    target: Selector = Field(description="the element to drop it on")


class WaitForSelectorAction(_Action):
    action: Literal["waitForSelector"]
    selector: Selector
    state: ElementState = "visible"


class WaitForElementAction(_Action):
    """Version 2: the Recorder's `waitForElement`, see `runner.formats.steps.WaitForElement`."""

    action: Literal["waitForElement"]
    selector: Selector
    operator: CountOperator = ">="
    count: int = Field(default=1, ge=0, description="of the visible elements that match")
    visible: bool = Field(default=True, description="false: the whole condition inverted")
    attributes: dict[str, str] | None = Field(default=None, description="every element found has them")
    properties: dict[str, Any] | None = Field(default=None, description="every element found has them (JSON values)")


class WaitForExpressionAction(_Action):
    """Version 2: the Recorder's `waitForExpression`, evaluated in the page's main frame or in `frame`."""

    action: Literal["waitForExpression"]
    expression: str = Field(min_length=1, description="a JavaScript expression, polled until truthy")


class _ViewportFields(_Model):
    width: int = Field(ge=1, le=10_000)
    height: int = Field(ge=1, le=10_000)
    device_scale_factor: float = Field(default=1.0, alias="deviceScaleFactor", gt=0, le=10)
    is_mobile: bool = Field(default=False, alias="isMobile")
    has_touch: bool = Field(default=False, alias="hasTouch")
    is_landscape: bool = Field(default=False, alias="isLandscape")

    def to_viewport(self) -> Viewport:
        return Viewport(width=self.width, height=self.height, device_scale_factor=self.device_scale_factor,
                        is_mobile=self.is_mobile, has_touch=self.has_touch, is_landscape=self.is_landscape)


class SetViewportAction(_Action, _ViewportFields):
    """Version 2: the Recorder's `setViewport` (resizes the page; see `runner.formats.steps.SetViewport`)."""

    action: Literal["setViewport"]


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
    selector: Selector


class AssertHiddenAction(_Action):
    action: Literal["assertHidden"]
    selector: Selector


class AssertTextAction(_Action):
    action: Literal["assertText"]
    selector: Selector
    text: str
    match: TextMatch = "equals"


class AssertValueAction(_Action):
    action: Literal["assertValue"]
    selector: Selector
    value: str
    match: TextMatch = "equals"


class AssertAttributeAction(_Action):
    action: Literal["assertAttribute"]
    selector: Selector
    name: str = Field(min_length=1)
    value: str
    match: TextMatch = "equals"


class AssertCountAction(_Action):
    action: Literal["assertCount"]
    selector: Selector
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
    selector: Selector | None = Field(default=None, description="this element only; else the viewport")
    full_page: bool = Field(default=False, alias="fullPage")
    compare: bool = Field(default=False, description="compare with the recording's approved baseline")
    threshold: float = Field(default=0.0, ge=0.0, le=1.0,
                             description="the fraction of the image's pixels allowed to differ (compare)")
    max_diff_pixels: int | None = Field(default=None, ge=0, le=100_000_000, alias="maxDiffPixels",
                                        description="the number of pixels allowed to differ; wins over threshold")
    mask_selectors: list[SelectorText] = Field(default_factory=list, alias="maskSelectors", max_length=50,
                                               description="elements painted out in both images before comparing")


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
    | SwitchToFrameAction | SwitchToMainFrameAction | SwitchToPageAction | HandleDialogAction
    | WaitForElementAction | WaitForExpressionAction | SetViewportAction,
    Field(discriminator="action"),
]
VERSION_2_ACTIONS = ("waitForElement", "waitForExpression", "setViewport")
ACTIONS = ("navigate", "click", "dblclick", "hover", "fill", "type", "press", "keyDown", "keyUp", "select", "check",
           "uncheck", "upload", "scroll", "dragAndDrop", "waitForSelector", "waitForUrl", "waitForLoadState", "wait",
           "waitForFunction", "assertVisible", "assertHidden", "assertText", "assertValue", "assertAttribute",
           "assertCount", "assertUrl", "assertTitle", "screenshot", "switchToFrame", "switchToMainFrame",
           "switchToPage", "handleDialog", *VERSION_2_ACTIONS)


class NativeViewport(_ViewportFields):
    """The browser context's viewport (version 1: width and height only; scale factor, mobile, touch and
    landscape need version 2)."""


class NativeScript(_Model):
    """A Reprise native script (version 1 or 2)."""

    version: Literal[1, 2]
    name: str = Field(min_length=1)
    viewport: NativeViewport | None = None
    timeout_ms: StepTimeout | None = Field(default=None, alias="timeoutMs",
                                           description="version 2: the wait of every step without its own "
                                                       "timeoutMs, instead of the run's default")
    steps: list[NativeStep] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: object) -> object:
        if isinstance(value, bool):  # JSON true would otherwise pass as 1
            raise ValueError("must be the number 1 or 2")
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
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, _AlternativeProblem):
            path += cause.where
    elif kind == "too_short" and path == "steps":
        message = "must contain at least one step"
    return InvalidScript(path, message)


_VERSION_2_COMMON = (("frame", "frame"), ("page_url", "pageUrl"), ("expect_navigation", "expectNavigation"))
_SELECTOR_FIELDS = (("selector", "selector"), ("target", "target"))


def _version_2_feature(script: NativeScript) -> tuple[str, str] | None:
    """The first thing in a script only version 2 has, as (field, what it is); None when version 1 says it all."""
    if script.timeout_ms is not None:
        return "timeoutMs", "a default step timeout"
    if script.viewport is not None:
        for name in ("device_scale_factor", "is_mobile", "has_touch", "is_landscape"):
            if name in script.viewport.model_fields_set:
                return f"viewport.{_alias(NativeViewport, name)}", "a viewport with more than width and height"
    for index, step in enumerate(script.steps):
        where = f"steps[{index}]"
        if step.action in VERSION_2_ACTIONS:
            return f"{where}.action", f"the action {step.action!r}"
        for name, alias in _VERSION_2_COMMON:
            if getattr(step, name) is not None:
                return f"{where}.{alias}", f"the field {alias!r}"
        for name, alias in _SELECTOR_FIELDS:
            if isinstance(getattr(step, name, None), list):
                return f"{where}.{alias}", "a list of alternative selectors"
        if isinstance(step, ClickAction) and step.button in ("back", "forward"):
            return f"{where}.button", f"the {step.button} button"
        if isinstance(step, ClickAction) and step.delay_ms is not None:
            return f"{where}.delayMs", "a click's delay"
    return None


def _alias(model: type[BaseModel], name: str) -> str:
    return model.model_fields[name].alias or name


class _Context:
    """Where the steps parsed so far leave later ones: the chain of iframe selectors they run inside."""

    def __init__(self) -> None:
        self.frame: SelectorChain = ()
        self.screenshots: set[str] = set()

    def selectors(self, selector: str | list[str | list[str]]) -> Selectors:
        """The alternatives of a `selector` field, each a chain inside the current frame."""
        alternatives = selector if isinstance(selector, list) else [selector]
        return tuple((*self.frame, *(alternative if isinstance(alternative, list) else [alternative]))
                     for alternative in alternatives)


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
        case ClickAction() if action.modifiers:
            # a click with modifiers is pressed through Playwright's mouse, which has neither
            if action.button in ("back", "forward"):
                raise InvalidScript(f"steps[{index}].button", f"the {action.button} button takes no modifiers")
            if action.delay_ms is not None:
                raise InvalidScript(f"steps[{index}].delayMs", "a click with modifiers takes no delay")


def _to_step(action: Any, context: _Context) -> Step:
    common: dict[str, Any] = {
        "type": action.action,
        "timeout_ms": action.timeout_ms,
        "frame": tuple(action.frame or ()),
        "target": None if action.page_url in (None, "main") else action.page_url,  # the Recorder's `target`
        "expect_navigation": action.expect_navigation,
    }
    one = context.selectors
    match action:
        case NavigateAction():
            return Navigate(url=action.url, **common)
        case ClickAction():
            offset = (action.offset.x, action.offset.y) if action.offset else None
            if action.modifiers:
                button = cast(MouseButton, action.button)  # _check_step refused back and forward
                return ModifierClick(selectors=one(action.selector), modifiers=tuple(action.modifiers),
                                     button=button, click_count=action.click_count, offset=offset, **common)
            return Click(selectors=one(action.selector), button=action.button, click_count=action.click_count,
                         offset=offset, delay_ms=action.delay_ms, **common)
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
                              full_page=action.full_page, compare=action.compare, threshold=action.threshold,
                              max_diff_pixels=action.max_diff_pixels, mask_selectors=tuple(action.mask_selectors),
                              **common)
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
        case WaitForElementAction():
            return WaitForElement(selectors=one(action.selector), operator=action.operator, count=action.count,
                                  visible=action.visible, attributes=action.attributes,
                                  properties=action.properties, **common)
        case WaitForExpressionAction():
            return WaitForExpression(expression=action.expression, **common)
        case SetViewportAction():
            return SetViewport(viewport=action.to_viewport(), **common)
    raise AssertionError(f"unhandled native action {action!r}")


def lowest_version(data: object) -> int:
    """The lowest version that holds this native script (whatever its `version` says): 1 unless it uses
    something of version 2. InvalidScript as `parse_native` when it is not a valid script of either."""
    if not isinstance(data, dict):
        raise InvalidScript("", "a native script must be a JSON object")
    try:
        parsed = NativeScript.model_validate({**data, "version": 2})
    except ValidationError as error:
        raise _invalid(error) from None
    return 1 if _version_2_feature(parsed) is None else 2


def parse_native(data: object) -> Script:
    """A native script from decoded JSON; InvalidScript names the first problem's field."""
    if not isinstance(data, dict):
        raise InvalidScript("", "a native script must be a JSON object")
    try:
        parsed = NativeScript.model_validate(data)
    except ValidationError as error:
        raise _invalid(error) from None
    if parsed.version == 1:
        feature = _version_2_feature(parsed)
        if feature is not None:
            field, what = feature
            raise InvalidScript(field, f'{what} needs "version": 2')
    viewport = parsed.viewport.to_viewport() if parsed.viewport else None
    context = _Context()
    steps: list[Step] = []
    for index, action in enumerate(parsed.steps):
        _check_step(action, index, context)
        steps.append(_to_step(action, context))
    return Script(name=parsed.name, format="native", steps=steps, viewport=viewport, timeout_ms=parsed.timeout_ms)
