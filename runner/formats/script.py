"""One entry for every recording format: detect which one a document is, and parse it into a `Script`.

Detection: a SaveAction recording has `testName` and `actions` (checked first: it also carries a `version`,
"1.0.0"), also inside the envelopes SaveAction wraps it in (`envelope_path`); a native script has `version` or
steps with an `action`; a Chrome Recorder recording has a `title` or steps with a `type`. Anything else is
refused with a message saying what was expected.
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


def _is_saveaction(data: object) -> bool:
    return isinstance(data, dict) and "testName" in data and "actions" in data


def envelope_path(data: object) -> list[str]:
    """The keys leading to a SaveAction recording wrapped as SaveAction hands it out: its upload body
    (`{"projectId", "name", "data": recording}`) and its API's answer (`{"success": true, "data": {"id", "name",
    ..., "data": recording}}`): ["data"] or ["data", "data"]; [] when `data` is not such an envelope."""
    path: list[str] = []
    inner = data
    while len(path) < 2 and isinstance(inner, dict) and not _is_saveaction(inner):
        inner = inner.get("data")
        path.append("data")
    return path if path and _is_saveaction(inner) else []


def unwrap(data: object) -> tuple[object, str]:
    """The recording inside a SaveAction envelope (else `data` itself), and the field prefix that leads to it."""
    path = envelope_path(data)
    for key in path:
        assert isinstance(data, dict)
        data = data[key]
    return data, "".join(f"{key}." for key in path)


def detect_format(data: object) -> ScriptFormat:
    if not isinstance(data, dict):
        raise InvalidScript("", f"the script must be a JSON object, not {type(data).__name__}; {_EXPECTED}")
    if _is_saveaction(data) or envelope_path(data):
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
        recording, prefix = unwrap(data)
        try:
            return parse_saveaction(recording)
        except InvalidScript as error:
            if not prefix:
                raise
            raise InvalidScript(prefix + error.field if error.field else prefix.rstrip("."), error.message) from None
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
