"""The step model written as a native script, the inverse of `runner.formats.native`'s parser.

    conversion = to_native(script)  # .document: the native script; .gaps: the steps native cannot express

Every step class a native action parses into is written as that action with all its fields, so that
`parse_native(conversion.document)` gives back `script.steps` (each step's `type` aside: that is the recording's
own word, `change` where native says `fill`), `script.viewport` and `script.timeout_ms`: a Recorder or SaveAction
recording keeps its fallback selectors, chains, frames, popups, click offsets and the navigations it waits for.
Fields at their native default are left out. The document is version 1 when it needs nothing of version 2, else
version 2 (`runner.formats.native.lowest_version`).

Gaps: a step no native action parses into (`ClosePage`, `EmulateNetwork`, `CustomStep`), or a selector outside the
frame a `switchToFrame` entered, is written with its class as `action` and its non-default fields (`{"action":
"ClosePage", "target": "https://shop.example/popup"}`), so nothing vanishes, but the document is then not a valid
native script (its parser names the capitalised action as unknown), and it is version 2. A conversion without gaps
is checked by parsing the document back and comparing every step: a step that reads back differently (a value
beyond a native bound, such as a fourth click) is a gap too, so "no gaps" means "lossless" by construction.
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

from runner.formats.errors import InvalidScript
from runner.formats.native import NATIVE_VERSION, lowest_version, parse_native
from runner.formats.steps import (
    AssertCount,
    AssertElement,
    AssertHidden,
    AssertText,
    AssertTitle,
    AssertUrl,
    AssertVisible,
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
    TypeText,
    Upload,
    Viewport,
    WaitForElement,
    WaitForExpression,
    WaitForFunction,
    WaitForLoadState,
    WaitForState,
    WaitForUrl,
)


@dataclasses.dataclass
class NativeConversion:
    document: dict[str, Any]
    gaps: list[str] = dataclasses.field(default_factory=list)  # `steps[i] (type): ...`, each a step not expressed


def to_native(script: Script) -> NativeConversion:
    """The script as a native document, and the steps it could not express (none: a lossless conversion)."""
    writer = _Writer()
    steps: list[dict[str, Any]] = []
    gaps: list[str] = []
    for index, step in enumerate(script.steps):
        try:
            steps.append({**writer.action(step), **_common(step)})
        except _Inexpressible:
            written = _as_internal(step)
            steps.append(written)
            gaps.append(f"steps[{index}] ({step.type}): emitted as action {written['action']!r}")
    document: dict[str, Any] = {"version": NATIVE_VERSION, "name": script.name}
    if script.viewport is not None:
        document["viewport"] = _viewport(script.viewport)
    if script.timeout_ms is not None:
        document["timeoutMs"] = script.timeout_ms
    document["steps"] = steps
    if not gaps:
        gaps = _read_back_differences(script, document)
    if not gaps:
        document["version"] = lowest_version(document)
    return NativeConversion(document=document, gaps=gaps)


# -- the step model as plain JSON (also `reprise convert --to json`) ------------------------------------

def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def plain(value: Any) -> Any:
    """Dataclasses as objects with camelCase keys, tuples as lists, all the way down."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {camel(item.name): plain(getattr(value, item.name)) for item in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def step_to_json(step: Step) -> dict[str, Any]:
    """Every field of a step, camelCase, with its class as `class`."""
    return {"class": type(step).__name__, **plain(step)}


def _as_internal(step: Step) -> dict[str, Any]:
    """A step native cannot express, as close to native as it goes: its class as `action`, its non-default
    fields (not `type`)."""
    fields = {key: value for key, value in step_to_json(step).items() if key not in ("class", "type")}
    defaults = {camel(item.name): plain(item.default) for item in dataclasses.fields(step)
                if item.default is not dataclasses.MISSING}
    kept = {key: value for key, value in fields.items() if key not in defaults or defaults[key] != value}
    return {"action": type(step).__name__, **kept}


# -- native actions -------------------------------------------------------------------------------------

class _Inexpressible(Exception):
    """No native action parses into this step."""


def _given(**fields: Any) -> dict[str, Any]:
    """The fields whose value is not None (a field at its native default is passed as None, to leave it out)."""
    return {name: value for name, value in fields.items() if value is not None}


def _unless(value: Any, default: Any) -> Any:
    return None if value == default else value


def _number(value: float) -> float | int:
    """600 rather than 600.0: the parser reads both back as the same float."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _common(step: Step) -> dict[str, Any]:
    return _given(timeoutMs=step.timeout_ms, frame=list(step.frame) or None, pageUrl=step.target,
                  expectNavigation=step.expect_navigation)


def _viewport(viewport: Viewport) -> dict[str, Any]:
    return {"width": viewport.width, "height": viewport.height,
            **_given(deviceScaleFactor=_unless(_number(viewport.device_scale_factor), 1),
                     isMobile=_unless(viewport.is_mobile, False), hasTouch=_unless(viewport.has_touch, False),
                     isLandscape=_unless(viewport.is_landscape, False))}


class _Writer:
    """Writes steps in order, following the frame `switchToFrame` steps enter, as the parser does."""

    def __init__(self) -> None:
        self.frame: SelectorChain = ()  # the iframe chain the parser will put before every selector

    def selector(self, selectors: Selectors) -> str | list[str | list[str]]:
        """A `selector` field: one selector as a string, else the list of alternatives (a chain as a list), each
        without the frame chain the parser will add back."""
        depth = len(self.frame)
        alternatives: list[str | list[str]] = []
        for chain in selectors:
            if chain[:depth] != self.frame or len(chain) == depth:
                raise _Inexpressible  # outside the frame switched to: the parser could not say it
            inside = list(chain[depth:])
            alternatives.append(inside[0] if len(inside) == 1 else inside)
        if len(alternatives) == 1 and isinstance(alternatives[0], str):
            return alternatives[0]
        return alternatives

    def optional_selector(self, selectors: Selectors | None) -> str | list[str | list[str]] | None:
        return None if selectors is None else self.selector(selectors)

    def action(self, step: Step) -> dict[str, Any]:
        """The native action of a step, its common fields aside; _Inexpressible when there is none."""
        match step:
            case Navigate():
                return {"action": "navigate", "url": step.url}
            case Click():
                return self.click(step)
            case ModifierClick():
                return {"action": "click", "selector": self.selector(step.selectors),
                        **_given(button=_unless(step.button, "left"), clickCount=_unless(step.click_count, 1)),
                        "modifiers": list(step.modifiers), **_given(offset=_offset(step.offset))}
            case Hover():
                return {"action": "hover", "selector": self.selector(step.selectors)}
            case Fill():
                return {"action": "fill", "selector": self.selector(step.selectors), "value": step.value}
            case TypeText():
                return {"action": "type", "selector": self.selector(step.selectors), "value": step.value,
                        **_given(delayMs=step.delay_ms)}
            case Press():
                return {"action": "press", "key": step.key, **_given(selector=self.optional_selector(step.selectors))}
            case KeyDown():
                return {"action": "keyDown", "key": step.key}
            case KeyUp():
                return {"action": "keyUp", "key": step.key}
            case SelectOption():
                return {"action": "select", "selector": self.selector(step.selectors), "value": step.value}
            case SetChecked():
                return {"action": "check" if step.checked else "uncheck", "selector": self.selector(step.selectors)}
            case Upload():
                files = [{"name": file.name, "mimeType": file.mime_type,
                          "contentBase64": base64.b64encode(file.content).decode("ascii")} for file in step.files]
                return {"action": "upload", "selector": self.selector(step.selectors), "files": files}
            case Scroll():
                # x and y both written: a selector alone would scroll the element into view instead
                return {"action": "scroll", **_given(selector=self.optional_selector(step.selectors)),
                        "x": _number(step.x), "y": _number(step.y)}
            case ScrollIntoView():
                return {"action": "scroll", "selector": self.selector(step.selectors)}
            case DragAndDrop():
                return {"action": "dragAndDrop", "selector": self.selector(step.selectors),
                        "target": self.selector(step.target_selectors)}
        return self.wait_or_check(step)

    def click(self, step: Click) -> dict[str, Any]:
        selector = self.selector(step.selectors)
        if step.type == "dblclick" and (step.button, step.click_count, step.offset, step.delay_ms) == ("left", 2,
                                                                                                        None, None):
            return {"action": "dblclick", "selector": selector}  # a native source keeps its own word
        return {"action": "click", "selector": selector,
                **_given(button=_unless(step.button, "left"), clickCount=_unless(step.click_count, 1),
                         offset=_offset(step.offset),
                         delayMs=None if step.delay_ms is None else _number(step.delay_ms))}

    def wait_or_check(self, step: Step) -> dict[str, Any]:
        match step:
            case WaitForElement():
                return {"action": "waitForElement", "selector": self.selector(step.selectors),
                        **_given(operator=_unless(step.operator, ">="), count=_unless(step.count, 1),
                                 visible=_unless(step.visible, True), attributes=step.attributes,
                                 properties=step.properties)}
            case WaitForState():
                return {"action": "waitForSelector", "selector": self.selector(step.selectors),
                        **_given(state=_unless(step.state, "visible"))}
            case WaitForExpression():
                return {"action": "waitForExpression", "expression": step.expression}
            case WaitForFunction() if step.frame_selectors == self.frame:
                return {"action": "waitForFunction", "expression": step.expression}
            case WaitForUrl():
                # an assertion that waits is how the parser reads a regular-expression assertUrl
                return {"action": "assertUrl" if step.assertion else "waitForUrl", "url": step.url,
                        **_given(match=_unless(step.match, "equals"))}
            case WaitForLoadState():
                return {"action": "waitForLoadState", **_given(state=_unless(step.state, "load"))}
            case Sleep():
                return {"action": "wait", "ms": step.ms}
            case SetViewport():
                return {"action": "setViewport", **_viewport(step.viewport)}
            case AssertVisible():
                return {"action": "assertVisible", "selector": self.selector(step.selectors)}
            case AssertHidden():
                return {"action": "assertHidden", "selector": self.selector(step.selectors)}
            case AssertText():
                return {"action": "assertText", "selector": self.selector(step.selectors), "text": step.text,
                        **_given(match=_unless(step.match, "equals"))}
            case AssertElement():
                fields = {"text": step.expected} if step.what == "text" else {"value": step.expected}
                return {"action": f"assert{step.what.title()}", "selector": self.selector(step.selectors),
                        **_given(name=step.name), **fields, **_given(match=_unless(step.match, "equals"))}
            case AssertCount():
                return {"action": "assertCount", "selector": self.selector(step.selectors), "count": step.count,
                        **_given(operator=_unless(step.operator, "=="))}
            case AssertUrl():
                return {"action": "assertUrl", "url": step.url, **_given(match=_unless(step.match, "equals"))}
            case AssertTitle():
                return {"action": "assertTitle", "text": step.text, **_given(match=_unless(step.match, "equals"))}
            case Screenshot():
                return {"action": "screenshot", "name": step.name,
                        **_given(selector=self.optional_selector(step.selectors),
                                 fullPage=_unless(step.full_page, False), compare=_unless(step.compare, False),
                                 threshold=_unless(step.threshold, 0.0), maxDiffPixels=step.max_diff_pixels,
                                 maskSelectors=list(step.mask_selectors) or None)}
        return self.frames_pages_dialogs(step)

    def frames_pages_dialogs(self, step: Step) -> dict[str, Any]:
        match step:
            case SwitchToFrame() if step.selectors is None:
                self.frame = ()
                return {"action": "switchToMainFrame"}
            case SwitchToFrame() if step.selectors is not None and len(step.selectors) == 1:
                chain = step.selectors[0]
                if chain[:-1] != self.frame:
                    raise _Inexpressible  # not one iframe deeper than the frame it runs in
                self.frame = chain
                return {"action": "switchToFrame", "selector": chain[-1]}
            case SwitchToPage():
                self.frame = ()
                return {"action": "switchToPage", **_given(index=step.index, urlContains=step.url_contains)}
            case HandleDialog():
                return {"action": "handleDialog", **_given(accept=_unless(step.accept, True),
                                                           promptText=step.prompt_text)}
        raise _Inexpressible


def _offset(offset: tuple[float, float] | None) -> dict[str, float | int] | None:
    return None if offset is None else {"x": _number(offset[0]), "y": _number(offset[1])}


# -- the check --------------------------------------------------------------------------------------------

def _read_back_differences(script: Script, document: dict[str, Any]) -> list[str]:
    """What the document, parsed back, says otherwise than the script, as gaps; [] for a lossless document."""
    try:
        back = parse_native(document)
    except InvalidScript as error:
        return [f"the output is not a valid native script: {error}"]
    differences = [f"{name}: reads back as {mine!r}, not {theirs!r}" for name, mine, theirs in (
        ("viewport", back.viewport, script.viewport), ("timeoutMs", back.timeout_ms, script.timeout_ms))
        if mine != theirs]
    for index, (original, read) in enumerate(zip(script.steps, back.steps, strict=True)):
        if dataclasses.replace(original, type="") != dataclasses.replace(read, type=""):
            differences.append(f"steps[{index}] ({original.type}): reads back differently from native "
                               f"({', '.join(_differing_fields(original, read))})")
    return differences


def _differing_fields(original: Step, read: Step) -> list[str]:
    if type(original) is not type(read):
        return [f"as {type(read).__name__}"]
    return [camel(item.name) for item in dataclasses.fields(original) if item.name != "type"
            and getattr(original, item.name) != getattr(read, item.name)]
