"""Where a replay's time goes, in one process and one Chromium: the bare Playwright run of bench/harness.py against
`PlaywrightRunner.run` with each costly part on or off, interleaved run by run so that the machine's drift hits every
variant alike.

    .venv/bin/python -m bench.replay_parts [--runs 12] [--video off|on]

Variants: the runner with a full trace (DOM snapshots and screenshots, `trace: on`), with the on-failure trace (the
actions only, the default), without a trace, and with the default trace in a context opened ahead
(`runner.replay.contexts`, as the worker's spare); the egress proxy's cost is the worker's (bench/harness.py).
Prints the median and the fastest run of each, in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from playwright.async_api import async_playwright

from bench.harness import bare_run, recorder_recording
from bench.worker_footprint import SITE, serve
from contract.options import RunOptions, VideoMode
from runner.formats import prepare_script
from runner.replay.browser import CHROMIUM_ARGS, DEFAULT_CHROMIUM_PATH, prepare_playwright_env, shared_memory_args
from runner.replay.contexts import open_context
from runner.replay.runner import PlaywrightRunner


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--video", choices=["off", "on"], default="off")
    args = parser.parse_args()
    video: VideoMode = args.video
    variants: dict[str, RunOptions | None] = {
        "bare Playwright": None,
        "runner, full trace (trace: on)": RunOptions(video=video, trace="on"),
        "runner, on-failure trace (default)": RunOptions(video=video),
        "runner, no trace": RunOptions(video=video, trace="off"),
        "runner, default, context opened ahead": RunOptions(video=video),
    }
    timings: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as temporary, serve(SITE) as site:
        scratch = Path(temporary)
        prepare_playwright_env(scratch / "browsers", require_ffmpeg=video == "on")
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=DEFAULT_CHROMIUM_PATH,
                                                       args=[*CHROMIUM_ARGS, *shared_memory_args()])
            runner = PlaywrightRunner(browser)
            script = prepare_script(recorder_recording(site), {}, {})
            for round_number in range(args.runs + 1):  # round 0 warms up
                for name, options in variants.items():
                    prepared = None
                    if options is not None and name.endswith("ahead"):
                        prepared = await open_context(browser, runner.plan(script, options),
                                                      scratch / uuid.uuid4().hex)
                    started = time.perf_counter()
                    if options is None:
                        await bare_run(browser, site, scratch / uuid.uuid4().hex if video == "on" else None)
                    else:
                        result = await runner.run(script, options, scratch / uuid.uuid4().hex, prepared=prepared)
                        if result.status != "passed":
                            raise RuntimeError(f"{name}: {result.status} {result.error}")
                    if round_number:
                        timings[name].append((time.perf_counter() - started) * 1000)
            await browser.close()
    print(f"\nvideo {video}, {args.runs} runs each\n\n| variant | median ms | fastest ms |\n| --- | ---: | ---: |")
    for name, values in timings.items():
        print(f"| {name} | {statistics.median(values):.0f} | {min(values):.0f} |")


if __name__ == "__main__":
    asyncio.run(main())
