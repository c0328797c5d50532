"""`reprise convert` as a person runs it: the installed console script, in a subprocess."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runner.formats import Script, parse_script
from runner.formats.native import parse_native
from runner.formats.steps import Click, Navigate, Step

from recordings import recording_text

REPRISE = Path(sys.executable).with_name("reprise")
BASE = "http://127.0.0.1:8123"


def reprise_convert(*args: str | Path) -> subprocess.CompletedProcess[str]:
    if not REPRISE.exists():
        pytest.fail(f"the reprise console script is missing at {REPRISE}: pip install -e . first")
    return subprocess.run([str(REPRISE), "convert", *map(str, args)], capture_output=True, text=True, timeout=60)


def fixture(name: str, directory: Path) -> Path:
    path = directory / Path(name).name
    path.write_text(recording_text(name, BASE), encoding="utf-8")
    return path


def written(data: Any, directory: Path) -> Path:
    path = directory / "recording.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def stderr_lines(completed: subprocess.CompletedProcess[str]) -> list[str]:
    return completed.stderr.splitlines()


EXPRESSIBLE = {
    "testName": "log in", "url": f"{BASE}/index.html", "viewport": {"width": 800, "height": 600},
    "actions": [
        {"type": "click", "selector": {"id": "name", "css": "input#name", "priority": ["id", "css"]}},
        {"type": "input", "selector": {"id": "name", "priority": ["id"]}, "value": "Ada"},
        {"type": "select", "selector": {"id": "plan", "priority": ["id"]}, "selectedValue": "pro"},
        {"type": "keypress", "key": "Enter", "modifiers": []},
        {"type": "modal-lifecycle", "event": "modal-opened"},
        {"type": "checkpoint", "checkType": "containsText", "selector": {"id": "result", "priority": ["id"]},
         "expectedValue": "Hello Ada"},
        {"type": "navigation", "to": f"{BASE}/page2.html", "navigationTrigger": "manual"},
        {"type": "checkpoint", "checkType": "urlContains", "expectedUrl": "page2"},
    ],
}


def test_a_native_script_converts_to_itself(tmp_path: Path) -> None:
    source = fixture("native-tour.json", tmp_path)
    completed = reprise_convert(source, "--to", "native")

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    original = parse_script(json.loads(source.read_text()))
    assert parse_native(json.loads(completed.stdout)) == original


def same_steps(a: Script, b: Script) -> bool:
    """The same steps, viewport and default timeout, each step's `type` (the recording's own word) aside."""
    def untyped(script: Script) -> list[Step]:
        return [dataclasses.replace(step, type="") for step in script.steps]
    return (untyped(a), a.viewport, a.timeout_ms) == (untyped(b), b.viewport, b.timeout_ms)


def test_a_saveaction_recording_converts_to_a_native_script_with_its_fallback_selectors(tmp_path: Path) -> None:
    source = written(EXPRESSIBLE, tmp_path)
    completed = reprise_convert(source)  # --to native is the default

    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["version"] == 2 and document["name"] == "log in"
    assert document["viewport"] == {"width": 800, "height": 600}
    assert document["steps"] == [
        {"action": "navigate", "url": f"{BASE}/index.html"},
        {"action": "click", "selector": ["#name", "input#name"]},
        {"action": "fill", "selector": "#name", "value": "Ada"},
        {"action": "select", "selector": "#plan", "value": "pro"},
        {"action": "press", "key": "Enter"},
        {"action": "assertText", "selector": "#result", "text": "Hello Ada", "match": "contains"},
        {"action": "navigate", "url": f"{BASE}/page2.html"},
        {"action": "assertUrl", "url": "page2", "match": "contains"},
    ]
    assert same_steps(parse_native(document), parse_script(EXPRESSIBLE))
    assert stderr_lines(completed) == [
        "reprise convert: import warning: actions[4] (modal-lifecycle): unknown action type 'modal-lifecycle', "
        "skipped",
    ]


@pytest.mark.parametrize("name", ["saveaction/shop-tour.json", "saveaction/signup.json", "recorder-signup.json",
                                  "recorder-shadow-frames.json"])
def test_recordings_convert_without_loss(tmp_path: Path, name: str) -> None:
    source = fixture(name, tmp_path)
    completed = reprise_convert(source, "--to", "native")

    assert completed.returncode == 0, completed.stderr
    assert "not expressible" not in completed.stderr
    document = json.loads(completed.stdout)
    assert document["version"] == 2
    assert same_steps(parse_native(document), parse_script(json.loads(source.read_text())))


RECORDER_WITH_GAPS = {
    "title": "popup and slow network", "steps": [
        {"type": "navigate", "url": f"{BASE}/index.html"},
        {"type": "emulateNetworkConditions", "download": 1000, "upload": 1000, "latency": 200},
        {"type": "keyDown", "key": "Shift"},
        {"type": "keyUp", "key": "Shift"},
        {"type": "close", "target": f"{BASE}/page2.html"},
        {"type": "customStep", "name": "my-extension", "parameters": {}},
    ],
}


def test_steps_native_cannot_express_are_emitted_and_named(tmp_path: Path) -> None:
    completed = reprise_convert(written(RECORDER_WITH_GAPS, tmp_path))

    assert completed.returncode == 1, completed.stderr
    steps = json.loads(completed.stdout)["steps"]
    assert steps[1] == {"action": "EmulateNetwork", "download": 1000.0, "upload": 1000.0, "latency": 200.0}
    assert steps[2:4] == [{"action": "keyDown", "key": "Shift"}, {"action": "keyUp", "key": "Shift"}]
    assert steps[4] == {"action": "ClosePage", "target": f"{BASE}/page2.html"}
    assert steps[5] == {"action": "CustomStep", "name": "my-extension"}
    assert stderr_lines(completed) == [
        "reprise convert: not expressible in native: steps[1] (emulateNetworkConditions): emitted as action "
        "'EmulateNetwork'",
        "reprise convert: not expressible in native: steps[4] (close): emitted as action 'ClosePage'",
        "reprise convert: not expressible in native: steps[5] (customStep): emitted as action 'CustomStep'",
    ]


def test_to_json_dumps_the_internal_model(tmp_path: Path) -> None:
    completed = reprise_convert(written(EXPRESSIBLE, tmp_path), "--to", "json")

    assert completed.returncode == 0, completed.stderr
    model = json.loads(completed.stdout)
    assert model["format"] == "saveaction"
    assert model["warnings"] == [{"index": 4, "action": "modal-lifecycle",
                                  "reason": "unknown action type 'modal-lifecycle', skipped"}]
    assert model["steps"][0]["class"] == Navigate.__name__
    click = model["steps"][1]
    assert (click["class"], click["type"], click["selectors"], click["clickCount"]) == (
        Click.__name__, "click", [["#name"], ["input#name"]], 1)


@pytest.mark.parametrize(("content", "message"), [
    ({"testName": "t", "url": f"{BASE}/", "actions": [{"type": "click"}]},
     "reprise convert: invalid script: actions[0].selector: no usable selector\n"),
    ({"testName": "t", "url": f"{BASE}/", "actions": [{"type": "input", "selector": {"id": "a", "priority": ["id"]}}]},
     "reprise convert: invalid script: actions[0].value: is required\n"),
    ("{not json", "reprise convert: invalid script: not valid JSON: Expecting property name enclosed in double "
                  "quotes at line 1 column 2\n"),
])
def test_invalid_input_exits_2_naming_the_field(tmp_path: Path, content: Any, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    completed = reprise_convert(path)

    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr == message


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    completed = reprise_convert(tmp_path / "nope.json")

    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.startswith("reprise convert: cannot read ")
