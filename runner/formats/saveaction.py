"""SaveAction recordings (the JSON of the SaveAction browser recorder) -> a `Script`.

    {"testName": "sign up", "url": "https://shop.example/", "viewport": {"width": 1280, "height": 720},
     "actions": [{"id": "act_001", "type": "click", "timestamp": 1200,
                  "selector": {"id": "go", "css": "form > button", "priority": ["id", "css"]},
                  "selectors": [{"strategy": "id", "value": "go", "priority": 1, "confidence": 90}]}]}

The replay starts with a `navigation` step to the recording's `url` (SaveAction's player opens it first), so
step N is not action N. Steps keep the action's type as theirs (`input`, `checkpoint`, ...).

    action        steps
    click         click (`button`, `clickCount`); `modifiers` become keyDown ... click ... keyUp
    input         fill; a checkbox or radio input is clicked (as SaveAction's player does)
    select        select (`selectedValue`, else `selectedText`)
    navigation    trigger manual/back/forward (or none): navigate to `to`. Trigger click/form-submit/redirect:
                  the page navigates by itself, so assertUrl `to` (it retries, so it waits for the page)
    hover         hover
    scroll        scroll to (`scrollX`, `scrollY`), of the window or of `element`
    keypress      press, modifiers joined as "Control+Shift+K"
    submit        right after (<= 1 s) a click or an Enter keypress: the submit is that action's effect, so no
                  step (reported). Otherwise click the form's submit button (`:is(FORM) :is(button[type=
                  submit], ...)`, or a chain FORM >> button when the form's selector is not CSS)
    checkpoint    urlMatch / urlContains: assertUrl equals / contains; elementVisible: assertVisible (or
                  waitForSelector hidden when `expectedValue` is "false"); elementText / containsText:
                  assertText equals / contains; elementHasValue: waitForElement with property `value`;
                  pageTitle: waitForExpression on document.title; pageLoad: waitForExpression readyState

Selectors: the newer `selectors[]` sorted by `priority` (then higher `confidence` first), then the legacy
`selector` object's values in its `priority` order, duplicates removed. id -> `#id`, dataTestId ->
`[data-testid=...]`, ariaLabel -> `aria/NAME`, name -> `[name=...]`, css and css-semantic -> CSS, xpath ->
`xpath/...`, text/textContains/text-content -> `text/...` (scoped by `context` as a chain), href-pattern ->
`a[href*=...]`, src-pattern -> `img[src*=...]`, position -> `PARENT > :nth-child(N)`. A `frameSelector` is put
in front of every chain. Click coordinates are not replayed: the element's centre is clicked.

Refused vs reported. A recording that says something wrong or incomplete is refused with InvalidScript naming
the field (`actions[3].selector`): a missing value, a bad URL, an element action with no usable selector,
since replaying it could only go wrong. Something well formed that Reprise has no step for is reported in
`Script.warnings` ({"index", "action", "reason"}) and the rest is replayed: unknown action types (such as
`modal-lifecycle`, which SaveAction's own player treats as optional), auto-generated checkpoints (which its
player does not verify either), unknown checkpoint kinds, file inputs, a submit that was the effect of the
previous action, unusable selector alternatives beside usable ones, and `isOptional` actions (replayed as
required). Real recordings carry such actions routinely; refusing them would refuse most recordings.
"""

from __future__ import annotations

import json
import re
from typing import Any

from contract.options import NAME_PATTERN
from runner.formats.errors import InvalidScript
from runner.formats.selectors import parse_selector
from runner.formats.steps import (
    AssertText,
    AssertUrl,
    AssertVisible,
    Click,
    Fill,
    Hover,
    ImportNote,
    KeyDown,
    KeyUp,
    MatchMode,
    Navigate,
    Press,
    Script,
    Scroll,
    SelectOption,
    Selectors,
    Step,
    Viewport,
    WaitForElement,
    WaitForExpression,
    WaitForState,
    url_problem,
)

ACTIONS = ("click", "input", "select", "navigation", "hover", "scroll", "keypress", "submit", "checkpoint")
LEGACY_ORDER = ("id", "dataTestId", "ariaLabel", "name", "css", "xpath", "text", "textContains", "xpathAbsolute",
                "position")
MODIFIER_KEYS = {"ctrl": "Control", "control": "Control", "shift": "Shift", "alt": "Alt", "meta": "Meta",
                 "cmd": "Meta"}
MOUSE_BUTTONS = ("left", "middle", "right")
SUBMIT_BUTTON = 'button[type="submit"], input[type="submit"], button:not([type])'
SUBMIT_EFFECT_MS = 1_000  # a submit this soon after a click or Enter is that action's effect
FOLLOWING_TRIGGERS = ("click", "form-submit", "redirect")  # navigations the previous action caused
CLICKED_INPUTS = ("checkbox", "radio")

_CSS_IDENTIFIER = re.compile(r"-?[A-Za-z_][A-Za-z0-9_-]*")
_VARIABLE = re.compile(r"\$\{" + NAME_PATTERN + r"\}")


def _quote(value: str) -> str:
    """A CSS string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\a ") + '"'


def _attribute(name: str, value: str, operator: str = "=") -> str:
    return f"[{name}{operator}{_quote(value)}]"


def _id_selector(value: str) -> str:
    return f"#{value}" if _CSS_IDENTIFIER.fullmatch(value) else _attribute("id", value)


def _aria_selector(name: str) -> str:
    """`aria/NAME` when it reads back as that name alone, else the attribute (a name like `a[role="b"]`)."""
    candidate = f"aria/{name}"
    try:
        part = parse_selector(candidate)
    except ValueError:
        return _attribute("aria-label", name)
    return candidate if part.role is None and part.name == name else _attribute("aria-label", name)


def _position_selector(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, dict):
        parent, index = value.get("parent"), value.get("index")
        if isinstance(parent, str) and parent.strip() and isinstance(index, int) and not isinstance(index, bool):
            return f"{parent} > :nth-child({index + 1})"
    return None


def strategy_chain(strategy: str, value: object, context: object = None) -> tuple[str, ...] | None:
    """One alternative as a selector chain, or None when the strategy is unknown or the value unusable.
    Both spellings are accepted: the legacy object's keys (`dataTestId`) and `selectors[]` strategies."""
    if strategy == "position":
        position = _position_selector(value)
        return (position,) if position else None
    if not isinstance(value, str) or not value.strip():
        return None
    match strategy:
        case "id":
            return (_id_selector(value),)
        case "dataTestId" | "data-testid":
            return (_attribute("data-testid", value),)
        case "ariaLabel" | "aria-label":
            return (_aria_selector(value),)
        case "name":
            return (_attribute("name", value),)
        case "css" | "css-semantic":
            return (value,)
        case "xpath" | "xpathAbsolute":
            return (f"xpath/{value}",)
        case "text" | "textContains" | "text-content":
            if isinstance(context, str) and context.strip():
                return (f".{context}" if _CSS_IDENTIFIER.fullmatch(context) else context, f"text/{value}")
            return (f"text/{value}",)
        case "href-pattern":
            return ("a" + _attribute("href", value, "*="),)
        case "src-pattern":
            return ("img" + _attribute("src", value, "*="),)
    return None


class _Importer:
    """Parses one recording, collecting steps and notes; InvalidScript at the first refused field."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.notes: list[ImportNote] = []

    def note(self, index: int, action: str, reason: str) -> None:
        self.notes.append(ImportNote(index=index, action=action, reason=reason))

    # -- fields -----------------------------------------------------------------------------------------

    @staticmethod
    def text(action: dict[str, Any], key: str, path: str, *, required: bool = True) -> str | None:
        value = action.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            problem = "is required" if value is None else f"must be a string, not {type(value).__name__}"
            raise InvalidScript(f"{path}.{key}", problem)
        return value

    @staticmethod
    def number(action: dict[str, Any], key: str, path: str, default: float = 0) -> float:
        value = action.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidScript(f"{path}.{key}", "must be a number")
        return float(value)

    def selectors(self, action: dict[str, Any], path: str, index: int, kind: str, *,
                  key: str = "selector") -> Selectors:
        """Every usable alternative of an element action, best first; refused when none is usable."""
        chains: list[tuple[str, ...]] = []
        unusable: list[str] = []
        modern = action.get("selectors") if key == "selector" else None
        if modern is not None and not isinstance(modern, list):
            raise InvalidScript(f"{path}.selectors", "must be a list")
        ranked = []
        for position, entry in enumerate(modern or []):
            if not isinstance(entry, dict) or not isinstance(entry.get("strategy"), str):
                raise InvalidScript(f"{path}.selectors[{position}]", "must be an object with a strategy")
            priority, confidence = entry.get("priority", 99), entry.get("confidence", 0)
            ranked.append((priority if isinstance(priority, int | float) else 99,
                           -(confidence if isinstance(confidence, int | float) else 0), position, entry))
        for *_, entry in sorted(ranked, key=lambda item: item[:3]):
            chain = strategy_chain(entry["strategy"], entry.get("value"), entry.get("context"))
            if chain is None:
                unusable.append(f"selectors strategy {entry['strategy']!r}")
            elif chain not in chains:
                chains.append(chain)
        legacy = action.get(key)
        if isinstance(legacy, dict):
            order = legacy.get("priority")
            if not isinstance(order, list) or not order:
                order = [name for name in LEGACY_ORDER if name in legacy]
            for name in order:
                if not isinstance(name, str) or legacy.get(name) in (None, ""):
                    continue  # a priority entry the recorder had no value for: nothing to try
                chain = strategy_chain(name, legacy[name])
                if chain is None:
                    unusable.append(f"{key} strategy {name!r}")
                elif chain not in chains:
                    chains.append(chain)
        elif legacy is not None:
            raise InvalidScript(f"{path}.{key}", "must be an object of selector strategies")
        for chain in chains:
            for part in chain:
                try:
                    parse_selector(part)
                except ValueError as error:
                    raise InvalidScript(f"{path}.{key}", str(error)) from None
        if not chains:
            found = f" (only {', '.join(unusable)})" if unusable else ""
            raise InvalidScript(f"{path}.{key}", f"no usable selector{found}")
        if unusable:
            self.note(index, kind, f"selector alternatives ignored, no Reprise equivalent: {', '.join(unusable)}")
        frame = action.get("frameSelector")
        if isinstance(frame, str) and frame.strip():
            chains = [(frame, *chain) for chain in chains]
        return tuple(chains)

    # -- actions ----------------------------------------------------------------------------------------

    def action(self, index: int, action: object, previous: dict[str, Any] | None) -> None:
        path = f"actions[{index}]"
        if not isinstance(action, dict):
            raise InvalidScript(path, "must be an object")
        kind = action.get("type")
        if not isinstance(kind, str) or not kind:
            raise InvalidScript(f"{path}.type", f"is required (one of: {', '.join(ACTIONS)})")
        if kind not in ACTIONS:
            self.note(index, kind, f"unknown action type {kind!r}, skipped")
            return
        if action.get("isOptional") is True or action.get("skipIfNotFound") is True:
            self.note(index, kind, "optional in SaveAction; Reprise replays it as a required step")
        handler = getattr(self, f"_{kind}")
        handler(index, action, path, kind, previous)

    def _click(self, index: int, action: dict[str, Any], path: str, kind: str, _: object) -> None:
        selectors = self.selectors(action, path, index, kind)
        button = action.get("button", "left")
        if button not in MOUSE_BUTTONS:
            raise InvalidScript(f"{path}.button", f"must be one of: {', '.join(MOUSE_BUTTONS)}")
        count = action.get("clickCount", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidScript(f"{path}.clickCount", "must be a whole number of at least 1")
        modifiers = self.modifiers(action, path)
        self.steps.extend(KeyDown(type=kind, key=key) for key in modifiers)
        self.steps.append(Click(type=kind, selectors=selectors, button=button, click_count=count))
        self.steps.extend(KeyUp(type=kind, key=key) for key in reversed(modifiers))

    def _input(self, index: int, action: dict[str, Any], path: str, kind: str, _: object) -> None:
        input_type = str(action.get("inputType") or "text").lower()
        if input_type == "file":
            self.note(index, kind, "file inputs are not replayed (the recording holds no file), skipped")
            return
        selectors = self.selectors(action, path, index, kind)
        if input_type in CLICKED_INPUTS:
            self.steps.append(Click(type=kind, selectors=selectors))
            return
        value = self.text(action, "value", path)
        assert value is not None
        if _VARIABLE.search(value):
            self.note(index, kind, f"value {value!r} holds a SaveAction variable; it is typed as written")
        self.steps.append(Fill(type=kind, selectors=selectors, value=value))

    def _select(self, index: int, action: dict[str, Any], path: str, kind: str, _: object) -> None:
        selectors = self.selectors(action, path, index, kind)
        value = action.get("selectedValue") or action.get("selectedText")
        if not isinstance(value, str):
            raise InvalidScript(f"{path}.selectedValue", "is required (or selectedText); Reprise selects by "
                                                         "value or label, not by index")
        self.steps.append(SelectOption(type=kind, selectors=selectors, value=value))

    def _navigation(self, index: int, action: dict[str, Any], path: str, kind: str, _: object) -> None:
        key = "to" if "to" in action or "url" not in action else "url"  # `url`: where the page was, as a fallback
        url = self.text(action, key, path)
        assert url is not None
        problem = url_problem(url)
        if problem:
            raise InvalidScript(f"{path}.{key}", problem)
        if action.get("navigationTrigger") in FOLLOWING_TRIGGERS:
            self.steps.append(AssertUrl(type=kind, url=url))
        else:
            self.steps.append(Navigate(type=kind, url=url))

    def _hover(self, index: int, action: dict[str, Any], path: str, kind: str, _: object) -> None:
        self.steps.append(Hover(type=kind, selectors=self.selectors(action, path, index, kind)))

    def _scroll(self, index: int, action: dict[str, Any], path: str, kind: str, _: object) -> None:
        x, y = self.number(action, "scrollX", path), self.number(action, "scrollY", path)
        element = action.get("element", "window")
        selectors = None if element == "window" else self.selectors(action, path, index, kind, key="element")
        self.steps.append(Scroll(type=kind, x=x, y=y, selectors=selectors))

    def _keypress(self, index: int, action: dict[str, Any], path: str, kind: str, _: object) -> None:
        key = self.text(action, "key", path)
        if not key:
            raise InvalidScript(f"{path}.key", "must not be empty")
        modifiers = [name for name in self.modifiers(action, path) if name != key]
        self.steps.append(Press(type=kind, key="+".join([*modifiers, key])))

    def _submit(self, index: int, action: dict[str, Any], path: str, kind: str,
                previous: dict[str, Any] | None) -> None:
        cause = _submit_cause(action, previous)
        if cause:
            self.note(index, kind, f"the effect of the {cause} before it, which replays it; not submitted twice")
            return
        forms = self.selectors(action, path, index, kind)
        self.steps.append(Click(type=kind, selectors=tuple(_submit_button(chain) for chain in forms)))

    def _checkpoint(self, index: int, action: dict[str, Any], path: str, kind: str, _: object) -> None:
        check = action.get("checkType")
        if action.get("auto") is True:
            self.note(index, kind, f"auto-generated {check} checkpoint, not verified (as in SaveAction's player)")
            return
        expected = action.get("expectedValue")
        match check:
            case "urlMatch" | "urlContains":
                key = "expectedUrl" if isinstance(action.get("expectedUrl"), str) else "expectedValue"
                url = self.text(action, key, path)
                assert url is not None
                mode: MatchMode = "equals" if check == "urlMatch" else "contains"
                self.steps.append(AssertUrl(type=kind, url=url, match=mode))
            case "elementVisible":
                selectors = self.selectors(action, path, index, kind)
                if expected == "false":
                    self.steps.append(WaitForState(type=kind, selectors=selectors, state="hidden"))
                else:
                    self.steps.append(AssertVisible(type=kind, selectors=selectors))
            case "elementText" | "containsText":
                selectors = self.selectors(action, path, index, kind)
                text = self.text(action, "expectedValue", path)
                assert text is not None
                mode = "equals" if check == "elementText" else "contains"
                self.steps.append(AssertText(type=kind, selectors=selectors, text=text, match=mode))
            case "elementHasValue":
                selectors = self.selectors(action, path, index, kind)
                value = self.text(action, "expectedValue", path)
                self.steps.append(WaitForElement(type=kind, selectors=selectors, properties={"value": value}))
            case "pageTitle":
                title = self.text(action, "expectedValue", path)
                expression = f"document.title.includes({json.dumps(title)})"
                self.steps.append(WaitForExpression(type=kind, expression=expression))
            case "pageLoad":
                self.steps.append(WaitForExpression(type=kind, expression="document.readyState === 'complete'"))
            case _:
                self.note(index, kind, f"unknown checkpoint kind {check!r}, not verified")

    @staticmethod
    def modifiers(action: dict[str, Any], path: str) -> list[str]:
        raw = action.get("modifiers") or []
        if not isinstance(raw, list):
            raise InvalidScript(f"{path}.modifiers", "must be a list")
        keys = []
        for position, name in enumerate(raw):
            key = MODIFIER_KEYS.get(str(name).lower())
            if key is None:
                raise InvalidScript(f"{path}.modifiers[{position}]",
                                    f"unknown modifier {name!r} (expected ctrl, shift, alt or meta)")
            if key not in keys:
                keys.append(key)
        return keys


def _submit_button(form: tuple[str, ...]) -> tuple[str, ...]:
    """The submit button inside the form: one CSS selector when the form's is CSS, else a chain."""
    if parse_selector(form[-1]).kind == "css":
        return (*form[:-1], f":is({form[-1]}) :is({SUBMIT_BUTTON})")
    return (*form, SUBMIT_BUTTON)


def _submit_cause(action: dict[str, Any], previous: dict[str, Any] | None) -> str | None:
    """The previous action's type when this submit is its effect (a click, or Enter, just before)."""
    if previous is None:
        return None
    kind = previous.get("type")
    if kind not in ("click", "keypress") or (kind == "keypress" and previous.get("key") != "Enter"):
        return None
    now, then = action.get("timestamp"), previous.get("timestamp")
    if isinstance(now, int | float) and isinstance(then, int | float) and now - then > SUBMIT_EFFECT_MS:
        return None
    return str(kind)


def _viewport(data: dict[str, Any]) -> Viewport | None:
    raw = data.get("viewport")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidScript("viewport", "must be an object with width and height")
    sizes = {}
    for key in ("width", "height"):
        value = raw.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
            raise InvalidScript(f"viewport.{key}", "must be a whole number from 1 to 10000")
        sizes[key] = value
    ratio = data.get("devicePixelRatio", 1)
    scale = float(ratio) if isinstance(ratio, int | float) and not isinstance(ratio, bool) and ratio > 0 else 1.0
    return Viewport(width=sizes["width"], height=sizes["height"], device_scale_factor=scale)


def parse_saveaction(data: object) -> Script:
    """A SaveAction recording from decoded JSON; InvalidScript names the first refused field."""
    if not isinstance(data, dict):
        raise InvalidScript("", "a SaveAction recording must be a JSON object")
    name = data.get("testName")
    if not isinstance(name, str) or not name.strip():
        raise InvalidScript("testName", "is required (a non-empty string)")
    start = data.get("url")
    if not isinstance(start, str):
        raise InvalidScript("url", "is required (the page the recording starts on)")
    problem = url_problem(start)
    if problem:
        raise InvalidScript("url", problem)
    actions = data.get("actions")
    if not isinstance(actions, list):
        raise InvalidScript("actions", "is required (a list of actions)")
    importer = _Importer()
    importer.steps.append(Navigate(type="navigation", url=start))
    previous: dict[str, Any] | None = None
    for index, action in enumerate(actions):
        importer.action(index, action, previous)
        previous = action
    return Script(name=name, format="saveaction", steps=importer.steps, viewport=_viewport(data),
                  warnings=tuple(importer.notes))
