"""What the harness costs: the same Recorder recording replayed by a bare Playwright script and by the whole
system (API, queue, worker, storage), side by side in one process run.

    .venv/bin/python -m bench.harness [--runs 20] [--repeat 3] [--write BENCHMARKS.md]

Recording: Chrome Recorder JSON, 5 steps on the test site (navigate, click, change, click, waitForElement).
- bare: one Chromium (the worker's executable and flags), a new context and page per run, the steps as plain
  Playwright calls; wall time of `--runs` runs, `concurrency` at a time.
- system: `reprise api` and `reprise worker` (WORKER_CONCURRENCY = concurrency) as real processes on a fresh
  database; `--runs` runs posted at once to `POST /api/runs`; wall time from the first POST to the last run's
  `finishedAt`.
Each case is measured `--repeat` times (bare and system in turn, after one warm-up each); the median counts.
`--write` replaces the "Harness cost" section of BENCHMARKS.md with the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, async_playwright

from bench.database import fresh_database
from bench.profiling import Profiler, summary_table
from bench.worker_footprint import SITE, serve
from runner.replay.browser import CHROMIUM_ARGS, DEFAULT_CHROMIUM_PATH, prepare_playwright_env, shared_memory_args

REPO = Path(__file__).resolve().parent.parent
DATABASE = "postgresql://postgres@127.0.0.1:5432/reprise_bench_harness"
FINAL = {"passed", "failed", "error", "cancelled"}
SECTION = "## Harness cost: bare Playwright vs the whole system (`make bench`)"
PROFILE_SECTION = "## Profile of the API and the worker during the harness (py-spy)"
PROFILE_READING = ("Busy samples: the thread was on a CPU (py-spy leaves out the samples where it waits). `Runner.run` "
                   "as its own time is the event loop's native code (uvloop, in the API); `EpollSelector.select` is "
                   "the worker's event loop polling its sockets and pipes.")


def recorder_recording(site: str) -> dict[str, Any]:
    """The issue's 5-step recording, as Chrome's Recorder exports it."""
    return {"title": "harness bench", "steps": [
        {"type": "navigate", "url": f"{site}/index.html"},
        {"type": "click", "selectors": [["#name"]], "offsetX": 5, "offsetY": 5},
        {"type": "change", "selectors": [["#name"]], "value": "Ada"},
        {"type": "click", "selectors": [["#submit"]], "offsetX": 5, "offsetY": 5},
        {"type": "waitForElement", "selectors": [["#result"]]},
    ]}


@dataclass
class Case:
    concurrency: int
    video: bool

    @property
    def label(self) -> str:
        return f"concurrency {self.concurrency}, video {'on' if self.video else 'off'}"


# ---------------------------------------------------------------- bare

async def bare_run(browser: Browser, site: str, video_dir: Path | None) -> float:
    started = time.perf_counter()
    context = await browser.new_context(viewport={"width": 1280, "height": 720}, record_video_dir=video_dir)
    page = await context.new_page()
    await page.goto(f"{site}/index.html")
    await page.click("#name", position={"x": 5, "y": 5})
    await page.fill("#name", "Ada")
    await page.click("#submit", position={"x": 5, "y": 5})
    await page.wait_for_selector("#result")
    await context.close()
    return time.perf_counter() - started


async def bare_batch(browser: Browser, site: str, case: Case, runs: int, scratch: Path) -> float:
    gate = asyncio.Semaphore(case.concurrency)

    async def one() -> float:
        async with gate:
            return await bare_run(browser, site, scratch / uuid.uuid4().hex if case.video else None)

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(runs)))
    return time.perf_counter() - started


# ---------------------------------------------------------------- system

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])




@asynccontextmanager
async def system(concurrency: int, scratch: Path, profiler: Profiler | None = None
                 ) -> AsyncIterator[httpx.AsyncClient]:
    """`reprise api` and one `reprise worker` on a fresh database and queue; an HTTP client for the API. With a
    `profiler`, py-spy records both processes (`api-c<concurrency>`, `worker-c<concurrency>`) once they are up."""
    await fresh_database("reprise_bench_harness")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": DATABASE, "QUEUE_NAME": f"bench-harness-{uuid.uuid4().hex[:8]}",
           "WORKER_NAME": "bench", "WORKER_CONCURRENCY": str(concurrency), "LOG_LEVEL": "warn", "AUTH": "none",
           "API_PORT": str(port), "ARTIFACT_STORE_URL": str(scratch / "store"),
           "WORKER_WORK_DIR": str(scratch / "work"),
           "BROWSER_ALLOWED_NETWORKS": "127.0.0.0/8", "API_RATE_LIMIT_PER_MINUTE": "0"}
    processes = [await asyncio.create_subprocess_exec(sys.executable, "-m", "reprise.cli", command, env=env, cwd=REPO,
                                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for command in ("api", "worker")]
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                health = (await client.get("/api/health/detailed")).json()
                if health.get("workers"):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            await asyncio.sleep(0.2)
        else:
            raise RuntimeError("the API or the worker did not start within 120 s")
        if profiler is not None:
            for name, process in zip(("api", "worker"), processes, strict=True):
                profiler.attach(f"{name}-c{concurrency}", process.pid)
        yield client
    finally:
        if profiler is not None:
            profiler.stop()
        await client.aclose()
        for process in processes:
            process.terminate()
        for process in processes:
            await asyncio.wait_for(process.wait(), 60)


async def system_batch(client: httpx.AsyncClient, site: str, case: Case, runs: int) -> tuple[float, list[int]]:
    """Wall seconds from the first POST to the last `finishedAt`, and each run's own `durationMs`."""
    body = {"script": recorder_recording(site), "video": "on" if case.video else "off"}
    started_wall = time.time()
    responses = await asyncio.gather(*(client.post("/api/runs", json=body) for _ in range(runs)))
    ids = []
    for response in responses:
        response.raise_for_status()
        ids.append(response.json()["id"])
    finished: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 300
    while len(finished) < len(ids):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(ids) - len(finished)} runs did not finish within 300 s")
        # One list request per half second (the newest runs): the measuring must not load the API it measures.
        await asyncio.sleep(0.5)
        page = (await client.get("/api/runs", params={"limit": max(50, runs)})).json()["items"]
        finished.update({run["id"]: run for run in page if run["id"] in ids and run["status"] in FINAL})
    bad = [run for run in finished.values() if run["status"] != "passed"]
    if bad:
        raise RuntimeError(f"{len(bad)} runs did not pass: {bad[0]['status']} {bad[0].get('error')}")
    last = max(datetime.fromisoformat(run["finishedAt"]).timestamp() for run in finished.values())
    return last - started_wall, [int(run["durationMs"]) for run in finished.values()]


# ---------------------------------------------------------------- both

@dataclass
class Row:
    case: Case
    bare_s: float
    system_s: float
    bare_ms_per_run: float
    replay_ms: float

    @property
    def ratio(self) -> float:
        return self.system_s / self.bare_s


async def measure(cases: list[Case], runs: int, repeat: int, site: str, scratch: Path,
                  profiler: Profiler | None = None) -> list[Row]:
    prepare_playwright_env(scratch / "browsers", require_ffmpeg=any(case.video for case in cases))
    rows = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=DEFAULT_CHROMIUM_PATH,
                                                   args=[*CHROMIUM_ARGS, *shared_memory_args()])
        try:
            for concurrency in sorted({case.concurrency for case in cases}):
                async with system(concurrency, scratch / f"system-{concurrency}", profiler) as client:
                    for case in (case for case in cases if case.concurrency == concurrency):
                        await bare_batch(browser, site, case, case.concurrency * 2, scratch)  # warm-up
                        await system_batch(client, site, case, case.concurrency * 2)
                        bare_s, system_s, replay_ms = [], [], []
                        for _ in range(repeat):
                            bare_s.append(await bare_batch(browser, site, case, runs, scratch))
                            wall, durations = await system_batch(client, site, case, runs)
                            system_s.append(wall)
                            replay_ms.append(statistics.median(durations))
                        row = Row(case, statistics.median(bare_s), statistics.median(system_s),
                                  statistics.median(bare_s) / runs * 1000 * case.concurrency,
                                  statistics.median(replay_ms))
                        print(f"{case.label}: bare {bare_s} system {system_s} ratio {row.ratio:.2f}", flush=True)
                        rows.append(row)
        finally:
            await browser.close()
    return rows


def table(rows: list[Row], runs: int, repeat: int, load: float) -> str:
    lines = [
        SECTION, "",
        "    make bench        # or: .venv/bin/python -m bench.harness --write BENCHMARKS.md", "",
        f"{runs} runs of a 5-step Chrome Recorder recording of the test site (navigate, click, change, click, "
        "waitForElement). Bare: a Playwright script, one Chromium, a new context per run. System: `reprise api` "
        "and one `reprise worker` as processes, the runs posted at once, wall time from the first POST to the last "
        f"`finishedAt`. Median of {repeat} batches each, measured in turn in one process run. Measured "
        f"{datetime.now().date()} on {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, load average (1 min) {load:.1f} at the start.", "",
        "| case | bare s | system s | ratio | bare ms per run | system replay ms per run (`durationMs`) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(f"| {row.case.label} | {row.bare_s:.2f} | {row.system_s:.2f} | {row.ratio:.2f} "
                     f"| {row.bare_ms_per_run:.0f} | {row.replay_ms:.0f} |")
    return "\n".join(lines) + "\n"


def profile_section(folder: Path, cases: list[Case], runs: int, repeat: int) -> str:
    videos = {case.video for case in cases}
    video = "" if len(videos) == 2 else f"--video {'on' if videos == {True} else 'off'} "
    lines = [PROFILE_SECTION, "", "    .venv/bin/python -m bench.harness --profile /tmp/reprise-profile "
             f"--concurrency {' '.join(sorted({str(case.concurrency) for case in cases}))} {video}--repeat {repeat} "
             "--write BENCHMARKS.md", "",
             f"py-spy attached to `reprise api` and `reprise worker` for a whole harness run of its own ({runs} runs, "
             f"{repeat} batches and a warm-up, per case: {', '.join(case.label for case in cases)}), measured "
             f"{datetime.now().date()}. " + PROFILE_READING, ""]
    for path in sorted(folder.glob("*.txt")):
        lines += [f"### `{path.stem}`", "", summary_table(path), ""]
    return "\n".join(lines)


def rewrite_section(path: Path, section: str) -> None:
    """Replace the section of BENCHMARKS.md titled as `section`'s first line (up to the next `## `), or add it
    after the file's introduction."""
    title = section.splitlines()[0]
    text = path.read_text(encoding="utf-8")
    start = text.find(title)
    if start < 0:
        head, sep, rest = text.partition("\n## ")
        path.write_text(f"{head.rstrip()}\n\n{section}\n{sep.lstrip()}{rest}", encoding="utf-8")
        return
    end = text.find("\n## ", start + len(title))
    tail = "" if end < 0 else text[end + 1:]
    path.write_text(text[:start] + section + ("\n" + tail if tail else ""), encoding="utf-8")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--video", choices=["on", "off", "both"], default="both")
    parser.add_argument("--write", type=Path, help="rewrite this BENCHMARKS.md's harness section")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--profile", type=Path, help="record the API and the worker with py-spy into this folder "
                        "and write only a profile section (the sampling takes CPU: figures come from a run without it)")
    args = parser.parse_args()
    videos = {"on": [True], "off": [False], "both": [False, True]}[args.video]
    cases = [Case(concurrency, video) for concurrency in args.concurrency for video in videos]
    load = os.getloadavg()[0]
    profiler = Profiler(args.profile) if args.profile else None
    with tempfile.TemporaryDirectory() as temporary, serve(SITE) as site:
        rows = await measure(cases, args.runs, args.repeat, site, Path(temporary), profiler)
    measured = table(rows, args.runs, args.repeat, load)
    print("\n" + measured)
    # With --profile only the profile is written: the sampling takes CPU, so the figures come from a run without it.
    section = profile_section(args.profile, cases, args.runs, args.repeat) if args.profile else measured
    if args.profile:
        print("\n" + section)
    if args.write:
        rewrite_section(args.write, section)
    if args.json:
        args.json.write_text(json.dumps([{"case": row.case.label, "bare_s": row.bare_s, "system_s": row.system_s,
                                          "ratio": row.ratio, "replay_ms": row.replay_ms} for row in rows]))


if __name__ == "__main__":
    asyncio.run(main())
