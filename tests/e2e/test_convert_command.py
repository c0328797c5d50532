"""`reprise convert` as a person runs it: the installed console script, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runner.formats import parse_script
from runner.formats.native import parse_native
from runner.formats.steps import Click, Navigate

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


def test_a_saveaction_recording_converts_to_a_valid_native_script(tmp_path: Path) -> None:
    completed = reprise_convert(written(EXPRESSIBLE, tmp_path))  # --to native is the default

    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["version"] == 1 and document["name"] == "log in"
    assert document["viewport"] == {"width": 800, "height": 600}
    assert document["steps"] == [
        {"action": "navigate", "url": f"{BASE}/index.html"},
        {"action": "click", "selector": "#name"},
        {"action": "fill", "selector": "#name", "value": "Ada"},
        {"action": "select", "selector": "#plan", "value": "pro"},
        {"action": "press", "key": "Enter"},
        {"action": "assertText", "selector": "#result", "text": "Hello Ada", "match": "contains"},
        {"action": "navigate", "url": f"{BASE}/page2.html"},
        {"action": "assertUrl", "url": "page2", "match": "contains"},
    ]
    parse_native(document)
    assert stderr_lines(completed) == [
        "reprise convert: import warning: actions[4] (modal-lifecycle): unknown action type 'modal-lifecycle', "
        "skipped",
        "reprise convert: dropped: steps[1] (click): fallback selectors 'input#name' (native takes one; kept "
        "'#name')",
    ]


def test_steps_native_cannot_express_are_emitted_and_named(tmp_path: Path) -> None:
    completed = reprise_convert(fixture("saveaction/signup.json", tmp_path))

    assert completed.returncode == 1, completed.stderr
    document = json.loads(completed.stdout)
    steps = document["steps"]
    assert len(steps) == len(parse_script(json.loads(fixture("saveaction/signup.json", tmp_path).read_text())).steps)
    assert steps[13] == {"action": "Hover", "selectors": [["#hover-target"], ["text/Hover me"]]}
    assert steps[19] == {"action": "Scroll", "y": 600.0}
    assert steps[16] == {"action": "Click", "selectors": [['[data-testid="double-button"]'], ["button#double"]],
                         "clickCount": 2}
    gaps = [line for line in stderr_lines(completed) if "not expressible" in line]
    assert "reprise convert: not expressible in native v1: steps[13] (hover): emitted as action 'Hover'" in gaps
    assert len(gaps) == 8  # waitForElement, hover, keyDown, click x2, keyUp, scroll, 2 waitForExpression


def test_a_recorder_recording_merges_key_presses_and_names_its_gaps(tmp_path: Path) -> None:
    completed = reprise_convert(fixture("recorder-signup.json", tmp_path))

    assert completed.returncode == 1
    document = json.loads(completed.stdout)
    assert document["viewport"] == {"width": 1024, "height": 768}
    assert document["steps"][0] == {"action": "navigate", "url": f"{BASE}/index.html", "timeoutMs": 5000}
    assert {"action": "press", "key": "Enter", "timeoutMs": 5000} in document["steps"]
    lines = stderr_lines(completed)
    assert "reprise convert: dropped: steps[0] (setViewport): becomes the script's viewport" in lines
    assert ("reprise convert: not expressible in native v1: steps[2] (waitForExpression): emitted as action "
            "'WaitForExpression'") in lines


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
