"""Clicks land where Chrome's replay lands them (the element's corner plus the offset; whatever is there receives
the click, with a step warning when that is not the element), `strictClicks` keeps Playwright's checks, the back
and forward buttons reach the page, and a `customStep` is skipped with a warning. On the conformance page, in real
Chromium; tests/conformance holds the same cases against @puppeteer/replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Browser

from contract.options import RunOptions
from contract.results import RunResult
from contract.runs import FailureCategory, RunStatus, StepStatus
from runner.formats import parse_script
from runner.replay import PlaywrightRunner


def flow(site_url: str, *steps: dict[str, Any]) -> dict[str, Any]:
    # The page load gets 30 s whatever the steps' timeouts: a busy machine must not fail it.
    return {"title": "clicks", "steps": [{"type": "navigate", "url": f"{site_url}/conformance/index.html",
                                          "timeout": 30_000}, *steps]}


def state_is(attribute: str, value: str, timeout_ms: int = 10_000) -> dict[str, Any]:
    return {"type": "waitForElement", "selectors": [["#state"]], "attributes": {attribute: value},
            "timeout": timeout_ms}


async def replay(browser: Browser, data: dict[str, Any], folder: Path, **options: Any) -> RunResult:
    return await PlaywrightRunner(browser).run(parse_script(data), RunOptions(video="off", trace="off", **options),
                                               folder)


def failed_step(result: RunResult) -> int:
    return next(step.index for step in result.steps if step.status == StepStatus.FAILED)


async def test_a_covered_element_is_clicked_through_with_a_warning(browser: Browser, site_url: str,
                                                                     tmp_path: Path) -> None:
    data = flow(site_url, {"type": "click", "selectors": [["#covered"]], "offsetX": 5, "offsetY": 5},
                state_is("data-overlay", "yes"))
    result = await replay(browser, data, tmp_path / "default")
    assert result.status == RunStatus.PASSED, result.error
    click = result.steps[1]
    assert click.status == StepStatus.PASSED and click.selector == "#covered"
    assert click.warning is not None and '<div id="overlay">' in click.warning and '"#covered"' in click.warning
    assert [step.warning for step in result.steps if step.index != 1] == [None, None]

    strict = await replay(browser, flow(site_url, {"type": "click", "selectors": [["#covered"]], "offsetX": 5,
                                                   "offsetY": 5, "timeout": 1500}), tmp_path / "strict",
                          strict_clicks=True)
    assert strict.status == RunStatus.FAILED and failed_step(strict) == 1, strict.error
    assert "intercepts pointer events" in (strict.error or "") and strict.steps[1].warning is None


async def test_a_point_outside_an_svg_shape_reaches_the_svg_and_one_inside_the_path(
        browser: Browser, site_url: str, tmp_path: Path) -> None:
    outside = await replay(browser, flow(site_url, {"type": "click", "selectors": [["#tri"]], "offsetX": 1,
                                                    "offsetY": 1}, state_is("data-shape", "svg")), tmp_path / "out")
    assert outside.status == RunStatus.PASSED, outside.error
    assert outside.steps[1].warning is not None and '<svg id="shape">' in outside.steps[1].warning
    inside = await replay(browser, flow(site_url, {"type": "click", "selectors": [["#tri"]], "offsetX": 50,
                                                   "offsetY": 50}, state_is("data-shape", "path")), tmp_path / "in")
    assert inside.status == RunStatus.PASSED, inside.error
    assert inside.steps[1].warning is None


async def test_back_and_forward_buttons_reach_the_page(browser: Browser, site_url: str, tmp_path: Path) -> None:
    for button, number in (("back", 3), ("forward", 4)):
        result = await replay(browser, flow(
            site_url, {"type": "click", "selectors": [["#pad"]], "offsetX": 5, "offsetY": 7, "button": button},
            {"type": "waitForExpression", "timeout": 10_000, "expression":
             f"window.clicks.length === 1 && window.clicks[0].button === {number} && window.clicks[0].x === 5 "
             "&& window.clicks[0].y === 7"}), tmp_path / button)
        assert result.status == RunStatus.PASSED, (button, result.error)


async def test_a_custom_step_is_skipped_with_a_warning_and_the_run_goes_on(browser: Browser, site_url: str,
                                                                            tmp_path: Path) -> None:
    custom = {"type": "customStep", "name": "my-extension", "parameters": {"x": 1}}
    passing = await replay(browser, flow(site_url, custom, {"type": "click", "selectors": [["#btn"]],
                                                            "offsetX": 5, "offsetY": 5}, state_is("data-clicks", "1")),
                           tmp_path / "passing")
    assert passing.status == RunStatus.PASSED, passing.error
    assert [step.status for step in passing.steps] == [StepStatus.PASSED, StepStatus.SKIPPED, StepStatus.PASSED,
                                                       StepStatus.PASSED]
    assert "my-extension" in (passing.steps[1].warning or "")
    failing = await replay(browser, flow(site_url, custom, state_is("data-never", "yes", timeout_ms=500)),
                           tmp_path / "failing")
    assert failing.status == RunStatus.FAILED and failed_step(failing) == 2, failing.error
    assert failing.category == FailureCategory.ASSERTION_FAILED
