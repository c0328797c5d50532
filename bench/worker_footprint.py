"""What one worker costs per concurrent run: memory (PSS of the worker, its Playwright driver and Chromium,
summed over the process tree) and CPU, for the scaling table in the README.

    .venv/bin/python bench/worker_footprint.py [--concurrency 1 3 5] [--seconds 8]

For each concurrency C: a real `reprise worker` (WORKER_CONCURRENCY=C, video on) replays 2*C runs of a recording
of the test site (load, fill, a wait of `--seconds`, assert) queued at once, while its process tree is sampled
every 0.25 s. Prints the idle footprint, the peak, the peak per concurrent run above idle, and CPU cores used
while busy. Uses the database `reprise_bench_footprint` and the machine's Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bench.database import fresh_database
from contract.options import RunOptions
from contract.settings import Settings
from jobs.queue import RetryPolicy, RunQueue
from reprise.logs import configure_logging
from storage import NewRun, RunRepository, create_pool

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "tests" / "site"
DATABASE = "postgresql://postgres@127.0.0.1:5432/reprise_bench_footprint"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """The tests' fixture website on a free loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def tree(root: int) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def pss_bytes(pid: int) -> int:
    try:
        for line in (Path("/proc") / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def sample(root: int) -> tuple[int, float]:
    pids = tree(root)
    return sum(pss_bytes(pid) for pid in pids), sum(cpu_seconds(pid) for pid in pids)


def recording(site: str, seconds: float) -> dict[str, object]:
    return {"version": 1, "name": "footprint", "steps": [
        {"action": "navigate", "url": f"{site}/index.html"},
        {"action": "fill", "selector": "#name", "value": "Ada"},
        {"action": "wait", "ms": int(seconds * 1000)},
        {"action": "assertValue", "selector": "#name", "value": "Ada"},
    ]}




async def measure(concurrency: int, seconds: float, site: str, scratch: Path) -> dict[str, float]:
    queue_name = f"bench-footprint-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": DATABASE, "QUEUE_NAME": queue_name, "WORKER_NAME": "footprint",
           "WORKER_CONCURRENCY": str(concurrency), "LOG_LEVEL": "warn", "ARTIFACT_STORE_URL": str(scratch / "store"),
           "WORKER_WORK_DIR": str(scratch / "work"),
           "BROWSER_ALLOWED_NETWORKS": "127.0.0.0/8"}  # the test site is on loopback (docs/network-policy.md)
    worker = await asyncio.create_subprocess_exec(sys.executable, "-m", "reprise.cli", "worker", env=env, cwd=REPO,
                                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pool = await create_pool(DATABASE)
    redis = Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
    queue = RunQueue(queue_name, "redis://127.0.0.1:6379/0", redis, RetryPolicy())
    runs = RunRepository(pool, queue=queue_name)
    try:
        for _ in range(600):  # its heartbeat says it is ready
            if await redis.exists(f"reprise:{queue_name}:worker:footprint"):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)  # let start-up settle before the idle sample
        idle, _ = sample(worker.pid)
        options = RunOptions(video="on", screenshots="off").stored()
        run_ids = []
        for _ in range(2 * concurrency):
            run, _ = await runs.create(NewRun(name="footprint", script_format="native",
                                              script=recording(site, seconds), options=options))
            run_ids.append(run.id)
        _, cpu_before = sample(worker.pid)
        started = time.monotonic()
        for run_id in run_ids:
            await queue.enqueue(run_id)
        peak = idle
        while True:
            memory, _ = sample(worker.pid)
            peak = max(peak, memory)
            statuses = [(await runs.get(run_id)).status for run_id in run_ids]
            if all(status in ("passed", "failed", "error") for status in statuses):
                break
            await asyncio.sleep(0.25)
        busy_s = time.monotonic() - started
        _, cpu_after = sample(worker.pid)
        assert statuses == ["passed"] * len(run_ids), statuses
        return {"idle_mb": idle / 2**20, "peak_mb": peak / 2**20,
                "per_run_mb": (peak - idle) / concurrency / 2**20, "cores": (cpu_after - cpu_before) / busy_s,
                "busy_s": busy_s}
    finally:
        worker.terminate()
        await asyncio.wait_for(worker.wait(), 60)
        await queue.close()
        await redis.aclose()
        await pool.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    configure_logging("WARNING", "console")
    Settings()  # the same environment the worker reads: fail early on a bad one
    await fresh_database("reprise_bench_footprint")
    with tempfile.TemporaryDirectory() as temporary, serve(SITE) as site:
        rows = [(c, await measure(c, args.seconds, site, Path(temporary) / str(c))) for c in args.concurrency]
    print(f"\nrecording: load, fill, wait {args.seconds:g} s, assert; video on; 2 x concurrency runs queued at once\n")
    print("| WORKER_CONCURRENCY | idle MB | peak MB | MB per concurrent run | CPU cores while busy | batch s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for concurrency, row in rows:
        print(f"| {concurrency} | {row['idle_mb']:.0f} | {row['peak_mb']:.0f} | {row['per_run_mb']:.0f} "
              f"| {row['cores']:.2f} | {row['busy_s']:.1f} |")


if __name__ == "__main__":
    asyncio.run(main())
