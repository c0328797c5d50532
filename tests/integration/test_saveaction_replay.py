"""A SaveAction recording of the fixture site, replayed in a real Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Browser

from contract.options import RunOptions
from runner.formats import parse_script
from runner.formats.steps import (
    Navigate,
    Step,
)
from runner.replay import PlaywrightRunner

from recordings import load_recording

BASE = "http://127.0.0.1:8123"
SIGNUP = "saveaction/signup.json"


def recording(*actions: Any, **top: Any) -> dict[str, Any]:
    return {"testName": "t", "url": f"{BASE}/index.html", "version": "1.0.0", **top, "actions": list(actions)}


def legacy(**values: Any) -> dict[str, Any]:
    return {**values, "priority": list(values)}


def action(kind: str, **fields: Any) -> dict[str, Any]:
    return {"id": "act_001", "type": kind, "timestamp": 1000, "url": f"{BASE}/index.html", **fields}


def steps_of(*actions: Any) -> list[Step]:
    script = parse_script(recording(*actions))
    assert isinstance(script.steps[0], Navigate) and script.steps[0].type == "navigation"
    return script.steps[1:]


























































async def test_the_fixture_recording_replays(browser: Browser, site_url: str, tmp_path: Path) -> None:
    script = parse_script(load_recording(SIGNUP, site_url))
    result = await PlaywrightRunner(browser).run(script, RunOptions(video="off"), tmp_path)

    assert result.status == "passed", result.error
    assert [step.status for step in result.steps] == ["passed"] * len(script.steps) == ["passed"] * 27
    by_type = [(step.type, step.selector) for step in result.steps]
    assert by_type[1] == ("click", '[name="name"]')  # the outdated id is skipped for the next alternative
    assert by_type[5][0] == "submit" and (by_type[5][1] or "").startswith(":is(#signup)")  # a submit on its own
    assert by_type[11] == ("click", "text/Reveal later")
    assert by_type[16] == ("click", "button#double")  # no data-testid on the page: the CSS alternative
    assert by_type[21] == ("click", 'a[href*="page2.html"]')
    assert result.steps[12].duration_ms >= 300  # #revealed shows 500 ms after the click: it was waited for
