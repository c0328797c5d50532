"""`reprise convert FILE --to native|json`: print a recording, in any format Reprise reads, as another.

`--to native` prints a native script (version 1, see `runner.formats.native`). Native v1 is smaller than the step
model, so a conversion can lose something; every loss is named on stderr as `steps[i] (type): ...`:

- dropped (the output still replays the same way, or nearly): fallback selector alternatives (native takes
  one selector), click offsets, the wait for a navigation a click causes, a first setViewport (it becomes
  the script's `viewport`), scale factor and mobile emulation, the recording's default timeout (it is
  written on every step instead);
- not expressible (no native action): hover, scroll, keyDown/keyUp (a keyDown directly followed by the
  keyUp of the same key becomes one `press`), double and right clicks, waitForExpression, waitForElement
  with counts, attributes or properties, setViewport later in a run, close, network emulation, selector
  chains (shadow roots, iframes), popups and frames. These are emitted anyway with their internal class as
  `action` ("Hover", "Click", "WaitForExpression") and their non-default fields, so nothing vanishes, but
  the output is then not a valid native script (a native parser names the capitalised action as unknown).

`--to json` prints the internal step model itself (every step class and field, and the import warnings).

Exit codes: 0 converted, and the output is a valid native script (checked by parsing it back) or the JSON
dump; 1 printed, but some steps are not expressible in native v1 (listed on stderr); 2 invalid input (file
missing or unreadable, bad JSON, invalid recording; the field on stderr), nothing on stdout. Import warnings
(what a SaveAction import skipped) are printed on stderr too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from contract.options import MAX_STEP_TIMEOUT_MS
from runner.formats import InvalidScript, Script, load_script_file
from runner.formats.native import parse_native
from runner.formats.steps import (
    AssertText,
    AssertUrl,
    AssertVisible,
    Click,
    ElementStep,
    Fill,
    KeyDown,
    KeyUp,
    Navigate,
    Press,
    SelectOption,
    SetViewport,
    Step,
    WaitForElement,
    WaitForState,
)

EXIT_OK = 0
EXIT_GAPS = 1
EXIT_INVALID = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="print a recording (any supported format) as a native script or as the internal model",
        description="Convert a Chrome Recorder, SaveAction or native recording. Exit 0 converted, 1 printed "
                    "with steps native v1 cannot express (listed on stderr), 2 invalid input.",
    )
    parser.add_argument("file", metavar="FILE", type=Path, help="the recording (JSON)")
    parser.add_argument("--to", choices=("native", "json"), default="native",
                        help="native: a version 1 native script (default); json: the internal step model")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        script = load_script_file(args.file)
    except InvalidScript as error:
        sys.stderr.write(f"reprise convert: invalid script: {error}\n")
        return EXIT_INVALID
    except OSError as error:
        sys.stderr.write(f"reprise convert: cannot read {args.file}: {error.strerror or error}\n")
        return EXIT_INVALID
    for warning in script.warnings:
        sys.stderr.write(f"reprise convert: import warning: {warning}\n")
    if args.to == "json":
        sys.stdout.write(json.dumps(script_to_json(script), indent=2) + "\n")
        return EXIT_OK
    converted = to_native(script)
    sys.stdout.write(json.dumps(converted.document, indent=2) + "\n")
    for note in converted.dropped:
        sys.stderr.write(f"reprise convert: dropped: {note}\n")
    for note in converted.gaps:
        sys.stderr.write(f"reprise convert: not expressible in native v1: {note}\n")
    return EXIT_GAPS if converted.gaps else EXIT_OK


# -- the internal model as JSON ------------------------------------------------------------------------

def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {_camel(item.name): _plain(getattr(value, item.name)) for item in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def step_to_json(step: Step) -> dict[str, Any]:
    """Every field of a step, camelCase, with its class as `class`."""
    return {"class": type(step).__name__, **_plain(step)}


def script_to_json(script: Script) -> dict[str, Any]:
    return {"name": script.name, "format": script.format, "viewport": _plain(script.viewport),
            "timeoutMs": script.timeout_ms, "steps": [step_to_json(step) for step in script.steps],
            "warnings": [warning.to_json() for warning in script.warnings]}


# -- native v1 -----------------------------------------------------------------------------------------

@dataclasses.dataclass
class NativeConversion:
    document: dict[str, Any]
    dropped: list[str] = dataclasses.field(default_factory=list)  # lost detail; still a valid native script
    gaps: list[str] = dataclasses.field(default_factory=list)  # steps emitted with a non-native action


def _internal(step: Step) -> dict[str, Any]:
    """A step native cannot express, as close to native as it goes: its internal type as `action`."""
    name = type(step).__name__
    fields = {key: value for key, value in step_to_json(step).items() if key != "class"}
    defaults = {_camel(item.name): _plain(item.default) for item in dataclasses.fields(step)
                if item.default is not dataclasses.MISSING}
    kept = {key: value for key, value in fields.items() if key not in defaults or defaults[key] != value}
    kept.pop("type", None)
    return {"action": name, **kept}


class _Converter:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.result = NativeConversion(document={})

    def where(self, index: int, step: Step) -> str:
        return f"steps[{index}] ({step.type})"

    def selector(self, index: int, step: Step) -> str | None:
        """The first one-part alternative; None when every alternative is a chain."""
        assert isinstance(step, ElementStep | Press) and step.selectors
        singles = [chain[0] for chain in step.selectors if len(chain) == 1]
        if not singles:
            return None
        if len(step.selectors) > 1:
            others = ", ".join(repr(" >> ".join(chain)) for chain in step.selectors if chain != (singles[0],))
            self.result.dropped.append(f"{self.where(index, step)}: fallback selectors {others} "
                                       f"(native takes one; kept {singles[0]!r})")
        return singles[0]

    def native_step(self, index: int, step: Step) -> dict[str, Any] | None:
        """The native action of a step, or None when native v1 has none for it."""
        if step.frame or step.target:
            return None
        if step.expect_navigation is not None and not isinstance(step, Navigate):
            self.result.dropped.append(f"{self.where(index, step)}: the wait for the navigation it causes "
                                       "(later steps wait for their elements)")
        match step:
            case Navigate():
                return {"action": "navigate", "url": step.url}
            case AssertUrl():
                return {"action": "assertUrl", "url": step.url, "match": step.match}
            case Press() if step.selectors is None:
                return {"action": "press", "key": step.key}
        if not isinstance(step, ElementStep | Press):
            return None
        selector = self.selector(index, step)
        if selector is None:
            return None
        match step:
            case Click() if step.button == "left" and step.click_count == 1:
                if step.offset is not None or step.delay_ms is not None:
                    self.result.dropped.append(f"{self.where(index, step)}: click offset and delay "
                                               "(native clicks the element's centre)")
                return {"action": "click", "selector": selector}
            case Fill():
                return {"action": "fill", "selector": selector, "value": step.value}
            case SelectOption():
                return {"action": "select", "selector": selector, "value": step.value}
            case Press():
                return {"action": "press", "key": step.key, "selector": selector}
            case WaitForState():
                return {"action": "waitForSelector", "selector": selector, "state": step.state}
            case WaitForElement() if (step.operator, step.count) == (">=", 1) and not step.attributes \
                    and not step.properties:
                return {"action": "waitForSelector", "selector": selector,
                        "state": "visible" if step.visible else "hidden"}
            case AssertText():
                return {"action": "assertText", "selector": selector, "text": step.text, "match": step.match}
            case AssertVisible():
                return {"action": "assertVisible", "selector": selector}
        return None

    def convert(self) -> NativeConversion:
        script = self.script
        document: dict[str, Any] = {"version": 1, "name": script.name}
        steps = list(script.steps)
        if script.viewport is not None:
            document["viewport"] = {"width": script.viewport.width, "height": script.viewport.height}
            viewport = script.viewport
            if (viewport.device_scale_factor, viewport.is_mobile, viewport.has_touch) != (1.0, False, False):
                self.result.dropped.append(f"viewport: scale factor {viewport.device_scale_factor}, mobile "
                                           f"{viewport.is_mobile}, touch {viewport.has_touch} (native has size only)")
        if script.timeout_ms is not None:
            self.result.dropped.append(f"the recording's default timeout {script.timeout_ms} ms "
                                       "(written on each step without its own)")
        out: list[dict[str, Any]] = []
        index = 0
        while index < len(steps):
            step = steps[index]
            following = steps[index + 1] if index + 1 < len(steps) else None
            if index == 0 and isinstance(step, SetViewport) and step.viewport == script.viewport:
                self.result.dropped.append(f"{self.where(index, step)}: becomes the script's viewport")
                index += 1
                continue
            if (isinstance(step, KeyDown) and isinstance(following, KeyUp) and following.key == step.key
                    and not step.frame and not step.target and not following.frame and not following.target):
                converted: dict[str, Any] | None = {"action": "press", "key": step.key}
                self.result.dropped.append(f"{self.where(index, step)}: keyDown and keyUp of {step.key!r} "
                                           "become one press")
                index += 1
            else:
                converted = self.native_step(index, step)
            if converted is None:
                converted = _internal(step)
                self.result.gaps.append(f"{self.where(index, step)}: emitted as action {converted['action']!r}")
            timeout = step.timeout_ms if step.timeout_ms is not None else script.timeout_ms
            if timeout is not None:
                converted["timeoutMs"] = min(timeout, MAX_STEP_TIMEOUT_MS)
            out.append(converted)
            index += 1
        document["steps"] = out
        self.result.document = document
        if not self.result.gaps:
            try:
                parse_native(document)  # the promise of exit 0: what is printed is a valid native script
            except InvalidScript as error:
                self.result.gaps.append(f"the output is not a valid native script: {error}")
        return self.result


def to_native(script: Script) -> NativeConversion:
    """The script as a native v1 document, with what was dropped and what native cannot express."""
    return _Converter(script).convert()
