"""One entry for every recording format: detect which one a document is, and parse it into a `Script`.

Detection: a SaveAction recording has `testName` and `actions` (checked first: it also carries a `version`,
"1.0.0"); a native script has `version` or steps with an `action`; a Chrome Recorder recording has a
`title` or steps with a `type`. Anything else is refused with a message saying what was expected.
"""

from __future__ import annotations

import json
from pathlib import Path

from runner.formats.errors import InvalidScript
from runner.formats.native import parse_native
from runner.formats.recorder import parse_recording
from runner.formats.saveaction import parse_saveaction
from runner.formats.steps import Script, ScriptFormat

__all__ = ["Script", "detect_format", "load_script_file", "parse_script", "read_script_json"]

_EXPECTED = ('expected a native script ({"version": 1, "name", "steps": [{"action": ...}]}) or a Chrome '
             'Recorder recording ({"title", "steps": [{"type": ...}]}) or a SaveAction recording '
             '({"testName", "url", "actions": [{"type": ...}]})')


def detect_format(data: object) -> ScriptFormat:
    if not isinstance(data, dict):
        raise InvalidScript("", f"the script must be a JSON object, not {type(data).__name__}; {_EXPECTED}")
    if "testName" in data and "actions" in data:
        return "saveaction"
    if "version" in data:
        return "native"
    if "title" in data:
        return "chrome-recorder"
    steps = data.get("steps")
    if isinstance(steps, list):
        for step in steps:
            if isinstance(step, dict) and "action" in step:
                return "native"
            if isinstance(step, dict) and "type" in step:
                return "chrome-recorder"
    raise InvalidScript("", f"unrecognised script format: {_EXPECTED}")


def parse_script(data: object) -> Script:
    """A `Script` from decoded JSON in any format; InvalidScript names the first problem's field."""
    kind = detect_format(data)
    if kind == "native":
        return parse_native(data)
    if kind == "saveaction":
        return parse_saveaction(data)
    return parse_recording(data)


def load_script_file(path: Path | str) -> Script:
    """Read, decode and parse a recording file. A missing file raises OSError (FileNotFoundError);
    undecodable JSON raises InvalidScript with field "" and the line and column."""
    return parse_script(read_script_json(path))


def read_script_json(path: Path | str) -> object:
    """The decoded JSON of a recording file, not yet parsed (to substitute variables first)."""
    raw = Path(path).read_bytes()
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise InvalidScript("", f"not UTF-8 text: byte {error.start} cannot be decoded") from None
    except json.JSONDecodeError as error:
        raise InvalidScript("", f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    return data
