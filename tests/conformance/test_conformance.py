"""Reprise agrees with @puppeteer/replay on every Chrome Recorder case in `cases/`.

Each case is replayed by the reference (`oracle.mjs`, its verdict computed now, never hand-written) and by
Reprise; the two verdicts must be equal (`invalid` = refused by the parser), except for the deliberate
differences listed in README.md, where `expected.json` says what Reprise gives instead. `expected.json`
also keeps the verdict the reference gave when the case was written, so a change in the reference (a new
version, a different Chromium) shows up as a failure rather than silently changing what is checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from oracle_client import CONFORMANCE_DIR, Oracle, case_paths
from playwright.async_api import Browser

from contract.options import RunOptions
from runner.formats import InvalidScript, parse_script
from runner.replay import PlaywrightRunner

PLACEHOLDER = "{{BASE_URL}}"
EXPECTED: dict[str, dict[str, str]] = json.loads((CONFORMANCE_DIR / "expected.json").read_text(encoding="utf-8"))
README = (CONFORMANCE_DIR / "README.md").read_text(encoding="utf-8")
CASES = [path.stem for path in case_paths()]
# The default step timeout, the same as oracle.mjs gives the reference: roomy, as both run at once on a busy
# machine; cases that should fail set short timeouts of their own.
OPTIONS = RunOptions(video="off", screenshots="off", trace="off", step_timeout_ms=10_000)


def load_case(name: str, base_url: str) -> Any:
    return json.loads((CONFORMANCE_DIR / "cases" / f"{name}.json").read_text(encoding="utf-8")
                      .replace(PLACEHOLDER, base_url))


async def reprise_verdict(browser: Browser, data: Any, output_dir: Path) -> tuple[str, str]:
    try:
        script = parse_script(data)
    except InvalidScript as error:
        return "invalid", str(error)
    result = await PlaywrightRunner(browser).run(script, OPTIONS, output_dir)
    return result.status, result.error or ""


def test_every_case_has_an_expectation() -> None:
    assert len(CASES) >= 30
    assert sorted(EXPECTED) == sorted(CASES)
    for name, expected in EXPECTED.items():
        assert expected["oracle"] in ("passed", "failed", "invalid"), name
        if "reprise" in expected:  # a deliberate difference: documented, by name, in the README
            assert expected["reprise"] != expected["oracle"], name
            assert f"`{name}`" in README, f"{name} differs from the reference but README.md does not say why"


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", CASES)
async def test_case_agrees_with_reference(name: str, oracle: Oracle, shared_browser: Browser, site_url: str,
                                          tmp_path: Path) -> None:
    ours, our_error = await reprise_verdict(shared_browser, load_case(name, site_url), tmp_path)
    reference = oracle.verdict(name)
    expected = EXPECTED[name]

    assert reference.outcome == expected["oracle"], (
        f"the reference now says {reference.outcome} ({reference.error}); it said {expected['oracle']} "
        f"when {name} was written")
    wanted = expected.get("reprise", reference.outcome)
    assert ours == wanted, (f"Reprise says {ours} ({our_error}); wanted {wanted} "
                            f"(reference: {reference.outcome}: {reference.error})")
