"""A SaveAction recording of the fixture site, replayed in a real Chromium."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from contract.options import RunOptions
from runner.formats import parse_script
from runner.replay import PlaywrightRunner

from recordings import load_recording

SIGNUP = "saveaction/signup.json"


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
