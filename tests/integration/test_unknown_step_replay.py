"""A step without a handler fails its run with a message saying so (a real Chromium replays it)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from contract.options import RunOptions
from runner.formats import parse_script
from runner.formats.steps import Click
from runner.replay import PlaywrightRunner
from runner.replay.registry import HANDLERS


async def test_a_step_without_a_handler_fails_the_run_naming_its_type(browser: Browser, site_url: str,
                                                                      tmp_path: Path) -> None:
    without_click = {step_class: handler for step_class, handler in HANDLERS.items() if step_class is not Click}
    script = parse_script({"version": 1, "name": "n", "steps": [
        {"action": "navigate", "url": f"{site_url}/index.html"},
        {"action": "click", "selector": "#submit"},
        {"action": "assertVisible", "selector": "#name"},
    ]})

    result = await PlaywrightRunner(browser, handlers=without_click).run(
        script, RunOptions(video="off", screenshots="off", trace="off"), tmp_path)

    assert result.status == "failed" and result.category == "script_error"
    assert result.error == "step 2 (click) [script_error]: the runner cannot replay steps of type 'click'"
    assert [step.status for step in result.steps] == ["passed", "failed", "skipped"]
