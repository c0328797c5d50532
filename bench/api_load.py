"""The API under load (issue 18): batch enqueue throughput, and single-request latencies while runs execute.

    .venv/bin/python -m bench.api_load [--seconds 10] [--rate 200] [--no-worker] [--write BENCHMARKS.md]

Starts `reprise api` (AUTH=none, no rate limit) on its own fresh database `reprise_bench_api` and its own queue,
then measures:
(a) `POST /api/runs/batch`: runs/s over `--batches` batches of `--batch-size` runs (one client, one after another);
(b) `POST /api/runs` at an open-loop `--rate` requests/s for `--seconds` (each request sent at its slot on a fixed
    clock, whatever the earlier ones do; latency counted from the slot, so a stall is not hidden), while
(c) `GET /api/health/detailed` (10/s) and (d) `GET /api/runs/{id}` (50/s) are sent the same way,
and, unless `--no-worker`, one `reprise worker` (WORKER_CONCURRENCY=4) replays 4 runs of the test site that wait
for the whole measurement. The batch runs are cancelled and their jobs removed before the worker starts.
Prints a markdown table; `--write BENCHMARKS.md` replaces its section there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from bullmq import Queue

from bench.database import fresh_database
from bench.harness import rewrite_section
from bench.profiling import Profiler, summary_table
from bench.worker_footprint import SITE, cpu_seconds, recording, serve
from jobs.queue import bullmq_connection

REPO = Path(__file__).resolve().parent.parent
DATABASE = "reprise_bench_api"
DATABASE_URL = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/0"
HEADING = "## API under load (`make bench`)"
PROFILE_HEADING = "## Profile of the API under load (py-spy)"
# The goals of issue 18.
BATCH_GOAL_RUNS_S = 1_000
POST_P99_GOAL_MS = 50
HEALTH_P99_GOAL_MS = 10


def quick_script(name: str) -> dict[str, Any]:
    """A run that is only queued here (the port is closed: a worker would fail it at once)."""
    return {"version": 1, "name": name, "steps": [{"action": "navigate", "url": "http://127.0.0.1:9/"}]}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


@dataclass
class Series:
    """Latencies (ms, from each request's slot on the clock) and the failures of one open-loop stream."""

    name: str
    rate: float
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    behind_ms: list[float] = field(default_factory=list)  # how late the client sent each request

    def p(self, fraction: float) -> float:
        return percentile(self.latencies_ms, fraction) if self.latencies_ms else float("nan")


class Connections:
    """Keep-alive HTTP/1.1 connections to the API, taken one request at a time: a load generator far lighter than
    an HTTP client library (httpx's pool spent more CPU than the API under an open loop on 2 cores)."""

    def __init__(self, port: int, size: int) -> None:
        self._port = port
        self._size = size
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self._size):
            self._idle.put_nowait(await asyncio.open_connection("127.0.0.1", self._port))

    async def close(self) -> None:
        while not self._idle.empty():
            _, writer = self._idle.get_nowait()
            writer.close()

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        reader, writer = await self._idle.get()
        try:
            head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n")
            writer.write(head.encode() + body)
            headers = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            status = int(headers[0].split(" ", 2)[1])
            length = next(int(line.split(":", 1)[1]) for line in headers if line.lower().startswith("content-length:"))
            content = await reader.readexactly(length)
        except BaseException:
            writer.close()
            self._idle.put_nowait(await asyncio.open_connection("127.0.0.1", self._port))
            raise
        self._idle.put_nowait((reader, writer))
        return status, content


async def open_loop(series: Series, seconds: float, send: Callable[[int], Awaitable[tuple[int, bytes]]],
                    expected: int) -> None:
    """Send request i at start + i/rate, each in its own task (open loop), and wait for all of them."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    tasks = []

    async def one(index: int, slot: float) -> None:
        series.behind_ms.append((loop.time() - slot) * 1000)
        try:
            status, content = await send(index)
        except (OSError, asyncio.IncompleteReadError, ValueError, StopIteration) as error:
            series.failures.append(f"{type(error).__name__}: {error}")
            return
        series.latencies_ms.append((loop.time() - slot) * 1000)
        if status != expected:
            series.failures.append(f"{status}: {content[:200]!r}")

    for index in range(int(seconds * series.rate)):
        slot = start + index / series.rate
        delay = slot - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, slot)))
    await asyncio.gather(*tasks)




def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.2)


async def measure_batches(client: httpx.AsyncClient, batches: int, size: int) -> tuple[float, list[str]]:
    """(runs/s over all batches, the run ids)."""
    body = {"runs": [{"script": quick_script(f"batch run {index}"), "video": "off", "priority": "low"}
                     for index in range(size)]}
    warm = await client.post("/api/runs/batch", json={"runs": body["runs"][:10]})  # connections, caches
    assert warm.status_code == 201, warm.text
    ids: list[str] = []
    started = time.perf_counter()
    for _ in range(batches):
        response = await client.post("/api/runs/batch", json=body)
        assert response.status_code == 201, response.text[:500]
        ids += [run["id"] for run in response.json()["runs"]]
    elapsed = time.perf_counter() - started
    return batches * size / elapsed, ids


async def clear_queue(queue_name: str) -> None:
    """Cancel every queued run and remove every job: what (a) queued is not the worker's to replay."""
    queue = Queue(queue_name, {"connection": bullmq_connection(REDIS_URL)})
    try:
        await queue.obliterate(force=True)
    finally:
        await queue.close()
    connection = await asyncpg.connect(DATABASE_URL)
    try:
        await connection.execute("UPDATE runs SET status = 'cancelled', finished_at = now() "
                                 "WHERE queue = $1 AND status = 'queued'", queue_name)
    finally:
        await connection.close()


def start_process(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen([sys.executable, "-m", "reprise.cli", *command.split()], env=env, cwd=REPO,
                                stdout=output, stderr=subprocess.STDOUT)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


async def run(args: argparse.Namespace) -> str:
    await fresh_database(DATABASE)
    queue_name = f"bench-api-{uuid.uuid4().hex[:8]}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch_dir, serve(SITE) as site:
        scratch = Path(scratch_dir)
        env = {**os.environ, "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL, "QUEUE_NAME": queue_name,
               "AUTH": "none", "API_RATE_LIMIT_PER_MINUTE": "0", "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json",
               "ARTIFACT_STORE_URL": str(scratch / "store"), "WORKER_WORK_DIR": str(scratch / "work"),
               "API_MAX_BODY_BYTES": str(8 * 1024 * 1024), "BROWSER_ALLOWED_NETWORKS": "127.0.0.0/8"}
        api = start_process(f"api --port {port}", env, scratch / "api.log")
        worker: subprocess.Popen[bytes] | None = None
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        try:
            async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
                async def api_up() -> bool:
                    assert api.poll() is None, (scratch / "api.log").read_text()[-3000:]
                    try:
                        return (await client.get("/api/health/live")).status_code == 200
                    except httpx.TransportError:
                        return False

                await wait_until(api_up, 60, "reprise api to answer")
                load_before = os.getloadavg()
                batch_rate, batch_ids = await measure_batches(client, args.batches, args.batch_size)
                await clear_queue(queue_name)
                long_runs: list[str] = []
                if not args.no_worker:
                    worker = start_process("worker", {**env, "WORKER_NAME": "bench", "WORKER_CONCURRENCY": "4",
                                                      "BROWSER_ALLOWED_NETWORKS": "127.0.0.0/8"},
                                           scratch / "worker.log")
                    script = recording(site, args.seconds + 30)
                    for index in range(4):
                        response = await client.post("/api/runs", json={"script": script, "video": "off",
                                                                        "priority": "high", "name": f"long {index}"})
                        assert response.status_code == 201, response.text
                        long_runs.append(response.json()["id"])

                    async def four_running() -> bool:
                        assert worker is not None and worker.poll() is None, (scratch / "worker.log").read_text()
                        statuses = [(await client.get(f"/api/runs/{run_id}")).json()["status"]
                                    for run_id in long_runs]
                        return statuses == ["running"] * 4

                    await wait_until(four_running, 120, "the worker to run 4 runs")
                    await asyncio.sleep(1)  # past the runs' page loads: they wait from here on
                posts = Series("`POST /api/runs`", args.rate)
                health = Series("`GET /api/health/detailed`", 10)
                reads = Series("`GET /api/runs/{id}`", 50)
                body = json.dumps({"script": quick_script("single"), "video": "off", "priority": "low"}).encode()
                readable = long_runs + batch_ids[:200]
                connections = Connections(port, 64)
                await connections.open()
                load_during = os.getloadavg()
                cpu_before = cpu_seconds(api.pid)
                profiler = Profiler(args.profile) if args.profile else None
                if profiler is not None:
                    profiler.attach("api-under-load", api.pid)
                try:
                    await asyncio.gather(
                        open_loop(posts, args.seconds, lambda _: connections.request("POST", "/api/runs", body), 201),
                        open_loop(health, args.seconds,
                                  lambda _: connections.request("GET", "/api/health/detailed"), 200),
                        open_loop(reads, args.seconds,
                                  lambda i: connections.request("GET", f"/api/runs/{readable[i % len(readable)]}"),
                                  200),
                    )
                finally:
                    await connections.close()
                    if profiler is not None:
                        profiler.stop()
                api_cpu_ms = (cpu_seconds(api.pid) - cpu_before) * 1000 / max(1, sum(
                    len(one.latencies_ms) for one in (posts, health, reads)))
                load_after = os.getloadavg()
                still_running = 0
                for run_id in long_runs:
                    if (await client.get(f"/api/runs/{run_id}")).json()["status"] == "running":
                        still_running += 1
                    await client.post(f"/api/runs/{run_id}/cancel")
        finally:
            if worker is not None:
                stop_process(worker)
            stop_process(api)
    return report(args, batch_rate, [posts, health, reads], load_before, load_during, load_after,
                  running=still_running if long_runs else 0, api_cpu_ms=api_cpu_ms)


def report(args: argparse.Namespace, batch_rate: float, series: list[Series], *loads: tuple[float, float, float],
           running: int, api_cpu_ms: float) -> str:
    goals = {"`POST /api/runs`": POST_P99_GOAL_MS, "`GET /api/health/detailed`": HEALTH_P99_GOAL_MS}
    lines = [
        "    .venv/bin/python -m bench.api_load" + (" --no-worker" if args.no_worker else ""),
        "",
        f"One `reprise api` process (AUTH=none, no rate limit) on its own database and queue; the load generator "
        f"(one asyncio process, 64 keep-alive connections) on the same {os.cpu_count()}-core machine. Measured "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} {platform.python_version()}, "
        f"load average (1 min) before / at the start / after the measurement: "
        + " / ".join(f"{load[0]:.2f}" for load in loads) + ".",
        "",
        "| measure | rate | p50 ms | p99 ms | goal | met |",
        "| --- | ---: | ---: | ---: | --- | --- |",
        f"| (a) `POST /api/runs/batch`, {args.batches} x {args.batch_size} runs | {batch_rate:,.0f} runs/s | | | "
        f">= {BATCH_GOAL_RUNS_S:,} runs/s | {'yes' if batch_rate >= BATCH_GOAL_RUNS_S else 'no'} |",
    ]
    for letter, one in zip("bcd", series, strict=True):
        goal = goals.get(one.name)
        met = "" if goal is None else ("yes" if one.p(0.99) < goal and not one.failures else "no")
        lines.append(f"| ({letter}) {one.name}, open loop for {args.seconds:g} s | {one.rate:g}/s | {one.p(0.5):.1f} "
                     f"| {one.p(0.99):.1f} | {f'p99 < {goal} ms' if goal else ''} | {met} |")
    lines.append("")
    worker_note = ("no worker" if args.no_worker else
                   f"one `reprise worker` (WORKER_CONCURRENCY=4) replaying 4 runs that wait through the measurement "
                   f"({running} of 4 still running at its end)")
    late = ", ".join(f"{one.name} p99 {percentile(one.behind_ms, 0.99):.1f} ms" for one in series if one.behind_ms)
    failures = ", ".join(f"{one.name}: {len(one.failures)} ({one.failures[0]})" for one in series if one.failures)
    lines.append(f"(b), (c) and (d) at once, with {worker_note}. Latency is counted from each request's slot on the "
                 f"clock (open loop), so a client or server stall shows. Requests sent late by the client: {late}. "
                 f"Failures: {failures or 'none'}. The API process used {api_cpu_ms:.1f} ms of CPU per request "
                 f"answered in (b)-(d) (so at most ~{1000 / api_cpu_ms:.0f} requests/s on one core).")
    return "\n".join(lines) + "\n"


def profile_section(args: argparse.Namespace) -> str:
    """Where the API process's time went during (b)-(d), from py-spy's samples (`--profile DIR`)."""
    return "\n".join([
        PROFILE_HEADING, "",
        "    .venv/bin/python -m bench.api_load --profile /tmp/reprise-profile --write BENCHMARKS.md", "",
        f"py-spy attached to the API process during (b)-(d) of `bench/api_load.py` (measured "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; the sampling takes CPU of its own, so the latencies above come "
        "from a run without it).", "", summary_table(args.profile / "api-under-load.txt", top=15), ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0, help="POST /api/runs per second")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--no-worker", action="store_true")
    parser.add_argument("--profile", type=Path, help="record the API with py-spy during (b)-(d) into this folder; "
                        "with --write, only the profile section is written")
    parser.add_argument("--write", type=Path, help="replace this file's section (BENCHMARKS.md)")
    args = parser.parse_args()
    section = f"{HEADING}\n\n{asyncio.run(run(args))}"
    print(f"\n{section}")
    # With --profile only the profile is written: the sampling takes CPU, so the figures come from a run without it.
    if args.profile:
        section = profile_section(args)
        print(f"\n{section}")
    if args.write:
        rewrite_section(args.write, section)


if __name__ == "__main__":
    main()
