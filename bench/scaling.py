"""Throughput with 1, 2 and 4 workers, CPU per run, and a worker's memory over hundreds of runs.

    .venv/bin/python -m bench.scaling [--workers 1 2 4] [--runs 60] [--memory-runs 500] [--write BENCHMARKS.md]

Scaling: N `reprise worker` processes (WORKER_CONCURRENCY=1 each) on one queue replay `--runs` runs of the 5-step
Recorder recording of bench/harness.py (video on, the default), queued at once. Wall time from the enqueue to the
last `finished_at`; CPU is the whole machine's busy time over that window (/proc/stat: workers, Chromium, Postgres,
Redis), so "CPU per run" is what a run costs the host, and runs per hour per core = 3600 / CPU per run.

Memory: one worker (WORKER_CONCURRENCY=2) replays `--memory-runs` runs, once for each BROWSER_RECYCLE_RUNS of
`--recycle-runs` (0: never recycled); its process tree's PSS is sampled at rest whenever another tenth of the runs
has finished, per process kind: the worker (Python), Playwright's driver (Node), Chromium's browser process, and
Chromium's other processes (renderers, GPU, utility, zygotes; a spare context's renderer among them).

    .venv/bin/python -m bench.scaling --workers --memory-runs 500 --recycle-runs 0 200 --write BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg
from redis.asyncio import Redis

from bench.database import fresh_database
from bench.harness import recorder_recording, rewrite_section
from bench.worker_footprint import SITE, pss_bytes, serve, tree
from contract.options import RunOptions
from jobs.queue import RetryPolicy, RunQueue
from runner.formats import parse_script
from storage import NewRun, RunRepository, create_pool

REPO = Path(__file__).resolve().parent.parent
DATABASE = "postgresql://postgres@127.0.0.1:5432/reprise_bench_scaling"
REDIS = "redis://127.0.0.1:6379/0"
SECTION = "## Scaling (`bench/scaling.py`)"
MEMORY_SECTION = "## Worker memory over hundreds of runs (`bench/scaling.py`)"
KINDS = ("worker", "driver", "chromium", "renderers")


def busy_seconds() -> float:
    """The machine's busy CPU time so far (all cores), from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")




@dataclass
class Fleet:
    queue: RunQueue
    runs: RunRepository
    pool: asyncpg.Pool
    redis: Redis
    processes: list[asyncio.subprocess.Process]
    queue_name: str


async def start_fleet(workers: int, concurrency: int, scratch: Path, **settings: str) -> Fleet:
    queue_name = f"bench-scaling-{uuid.uuid4().hex[:8]}"
    processes = []
    for number in range(workers):
        env = {**os.environ, **settings, "DATABASE_URL": DATABASE, "QUEUE_NAME": queue_name,
               "WORKER_NAME": f"scaling-{number}", "WORKER_CONCURRENCY": str(concurrency), "LOG_LEVEL": "warn",
               "ARTIFACT_STORE_URL": str(scratch / "store"), "WORKER_WORK_DIR": str(scratch / "work"),
               "BROWSER_ALLOWED_NETWORKS": "127.0.0.0/8"}
        processes.append(await asyncio.create_subprocess_exec(
            sys.executable, "-m", "reprise.cli", "worker", env=env, cwd=REPO,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    pool = await create_pool(DATABASE)
    redis = Redis.from_url(REDIS, decode_responses=True)
    fleet = Fleet(RunQueue(queue_name, REDIS, redis, RetryPolicy()), RunRepository(pool, queue=queue_name), pool, redis,
                  processes, queue_name)
    deadline = time.monotonic() + 120
    while not all([await redis.exists(f"reprise:{queue_name}:worker:scaling-{n}") for n in range(workers)]):
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not start within 120 s")
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)  # start-up settles
    return fleet


async def stop_fleet(fleet: Fleet) -> None:
    for process in fleet.processes:
        process.terminate()
    for process in fleet.processes:
        await asyncio.wait_for(process.wait(), 60)
    await fleet.queue.close()
    await fleet.redis.aclose()
    await fleet.pool.close()


async def queue_runs(fleet: Fleet, site: str, count: int) -> list[uuid.UUID]:
    data = recorder_recording(site)
    new_run = NewRun.admitted(parse_script(data), data, RunOptions(), "scaling")
    ids = []
    for _ in range(count):
        run, _ = await fleet.runs.create(new_run)
        ids.append(run.id)
    return ids


async def finished_count(fleet: Fleet, ids: list[uuid.UUID]) -> tuple[int, list[str]]:
    statuses = [(await fleet.runs.get(run_id)).status.value for run_id in ids]
    return sum(status in ("passed", "failed", "error", "cancelled") for status in statuses), statuses


async def wait_finished(fleet: Fleet, ids: list[uuid.UUID]) -> list[str]:
    """The runs' statuses once every one is final (polled every 0.5 s)."""
    while True:
        done, statuses = await finished_count(fleet, ids)
        if done == len(ids):
            return statuses
        await asyncio.sleep(0.5)


async def scaling_row(workers: int, runs: int, site: str, scratch: Path) -> dict[str, float]:
    fleet = await start_fleet(workers, 1, scratch)
    try:
        ids = await queue_runs(fleet, site, runs)
        cpu_before, started = busy_seconds(), time.time()
        for run_id in ids:
            await fleet.queue.enqueue(run_id)
        statuses = await wait_finished(fleet, ids)
        cpu = busy_seconds() - cpu_before
        if set(statuses) != {"passed"}:
            raise RuntimeError(f"not every run passed: {sorted(set(statuses))}")
        finished = [(await fleet.runs.get(run_id)).finished_at for run_id in ids]
        wall = max(moment.timestamp() for moment in finished if moment is not None) - started
        return {"workers": workers, "wall_s": wall, "runs_per_s": runs / wall, "cpu_per_run_s": cpu / runs,
                "runs_per_hour_per_core": 3600 / (cpu / runs)}
    finally:
        await stop_fleet(fleet)


def kind_of(pid: int, root: int) -> str:
    """Which part of a worker `pid` is (one of KINDS)."""
    if pid == root:
        return "worker"
    try:
        command = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "renderers"
    if b"chrom" in command[0]:
        # Chromium's child processes rewrite their command line into one string: look for --type= anywhere.
        return "renderers" if b"--type=" in b" ".join(command) else "chromium"
    return "driver"


def memory_sample(root: int) -> dict[str, float]:
    """MB of PSS per process kind of the worker rooted at `root`."""
    sample = dict.fromkeys(KINDS, 0.0)
    for pid in tree(root):
        sample[kind_of(pid, root)] += pss_bytes(pid) / 2**20
    return sample


async def memory_rows(runs: int, site: str, scratch: Path, recycle_runs: int) -> list[tuple[int, dict[str, float]]]:
    """The worker's PSS at rest before the first run and after every tenth of `runs` (queued a tenth at a time, the
    sample taken once they all finished, so no run's context is in it; the spare context is)."""
    fleet = await start_fleet(1, 2, scratch, BROWSER_RECYCLE_RUNS=str(recycle_runs))
    try:
        root = fleet.processes[0].pid
        samples = [(0, memory_sample(root))]
        chunk = max(1, runs // 10)
        for done in range(chunk, runs + 1, chunk):
            ids = await queue_runs(fleet, site, chunk)
            for run_id in ids:
                await fleet.queue.enqueue(run_id)
            statuses = await wait_finished(fleet, ids)
            if set(statuses) != {"passed"}:
                raise RuntimeError(f"not every run passed: {sorted(set(statuses))}")
            await asyncio.sleep(2)  # the last run's context closes, its renderer exits, a retired Chromium closes
            samples.append((done, memory_sample(root)))
            print(recycle_runs, samples[-1], flush=True)
        return samples
    finally:
        await stop_fleet(fleet)


def scaling_section(scaling: list[dict[str, float]], runs: int) -> str:
    lines = [SECTION, "", "    .venv/bin/python -m bench.scaling --memory-runs 0 --write BENCHMARKS.md", "",
             f"Measured {datetime.now().date()} on {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f} at "
             f"the end). {runs} runs of the 5-step Recorder recording (video on), queued at once, workers at "
             "WORKER_CONCURRENCY=1; CPU is the whole machine's (workers, Chromium, Postgres, Redis).", "",
             "| workers | wall s | runs/s | CPU s per run | runs per hour per core |",
             "| ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {row['workers']:.0f} | {row['wall_s']:.1f} | {row['runs_per_s']:.2f} | "
              f"{row['cpu_per_run_s']:.2f} | {row['runs_per_hour_per_core']:.0f} |" for row in scaling]
    return "\n".join(lines) + "\n"


def memory_section(memory: dict[int, list[tuple[int, dict[str, float]]]], runs: int) -> str:
    lines = [MEMORY_SECTION, "", f"    .venv/bin/python -m bench.scaling --workers --memory-runs {runs} "
             f"--recycle-runs {' '.join(map(str, memory))} --write BENCHMARKS.md", "",
             f"Measured {datetime.now().date()} on {os.cpu_count()} cores. One worker (WORKER_CONCURRENCY=2) replays "
             f"{runs} runs of the 5-step Recorder recording (video on), a tenth at a time; after each tenth, at rest, "
             "the PSS in MB of its processes: the worker (Python), Playwright's driver (Node), Chromium's browser "
             "process, and Chromium's other processes (renderers, GPU, utility; the spare context's renderer is one).",
             ""]
    for recycle_runs, samples in memory.items():
        lines += [f"BROWSER_RECYCLE_RUNS={recycle_runs}" + (" (never recycled)" if not recycle_runs else "") + ":",
                  "", "| runs finished | worker | driver | Chromium | renderers and others | total |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {done} | " + " | ".join(f"{sample[kind]:.0f}" for kind in KINDS)
                  + f" | {sum(sample.values()):.0f} |" for done, sample in samples]
        lines.append("")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--memory-runs", type=int, default=500)
    parser.add_argument("--recycle-runs", type=int, nargs="+", default=[0, 200])
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    await fresh_database("reprise_bench_scaling")
    with tempfile.TemporaryDirectory() as temporary, serve(SITE) as site:
        scratch = Path(temporary)
        scaling = []
        for workers in args.workers:
            scaling.append(await scaling_row(workers, args.runs, site, scratch / f"w{workers}"))
            print(scaling[-1], flush=True)
        memory = {recycle: await memory_rows(args.memory_runs, site, scratch / f"memory-{recycle}", recycle)
                  for recycle in args.recycle_runs} if args.memory_runs else {}
    sections = ([scaling_section(scaling, args.runs)] if scaling else []) + (
        [memory_section(memory, args.memory_runs)] if memory else [])
    for text in sections:
        print("\n" + text)
        if args.write:
            rewrite_section(args.write, text)


if __name__ == "__main__":
    asyncio.run(main())
