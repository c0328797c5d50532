"""A replay whose Chromium dies under it ends `error` [browser_crashed], even when the step in progress
would never notice (a Playwright call to a dead browser can wait forever; a `wait` step does not ask)."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path

import pytest

from contract.options import RunOptions
from contract.results import StepResult
from runner.formats import parse_script
from runner.replay import ChromiumLauncher, PlaywrightRunner

from processes import TAG_VARIABLE, chromium_browsers, tagged_processes
from services import wait_for


async def test_a_replay_is_abandoned_when_its_browser_dies_mid_step(
    site_url: str, chromium_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    tag = uuid.uuid4().hex
    monkeypatch.setenv(TAG_VARIABLE, tag)  # inherited by the driver and Chromium, to find them
    launcher = ChromiumLauncher(chromium_path)
    browser = await launcher.launch()
    try:
        script = parse_script({"version": 1, "name": "long wait", "steps": [
            {"action": "navigate", "url": f"{site_url}/index.html"},
            {"action": "wait", "ms": 60_000},
            {"action": "fill", "selector": "#name", "value": "Ada"},
        ]})
        steps: list[int] = []

        async def on_step(step: StepResult) -> None:
            steps.append(step.index)

        replay = asyncio.ensure_future(PlaywrightRunner(browser).run(
            script, RunOptions(video="on", timeout_ms=120_000), tmp_path, on_step=on_step))

        async def navigated() -> bool:
            return steps == [0]

        await wait_for(navigated, timeout=30, what="the first step to pass")
        [main_process] = chromium_browsers(tag)
        os.kill(main_process.pid, signal.SIGKILL)

        result = await asyncio.wait_for(replay, 50)  # well before the 60 s wait would end by itself
    finally:
        await launcher.stop()

    assert result.status == "error" and result.category == "browser_crashed"
    assert result.error == "the browser disconnected and the replay did not end"
    assert [(step.index, step.status) for step in result.steps] == [(0, "passed"), (1, "skipped"), (2, "skipped")]

    async def gone() -> bool:
        return not tagged_processes(tag)

    await wait_for(gone, timeout=30, what="the driver and Chromium processes to exit")
