"""Artifacts on a local disk and in S3: how long a worker takes to store a 10 MB video, and how fast the API
answers a player's ranged reads (the first 100 bytes, and 1 MiB from the middle, as a seek does).

    .venv/bin/python bench/artifacts.py [--size-mb 10] [--repeat 20]

The S3 side is moto's S3 server on this machine (started here), so the numbers are Reprise's own cost (the
client, multipart, the API's proxying or redirect) without a network's; a real bucket adds its round trips.
Uses the database `reprise_bench_artifacts` (created, migrated, emptied).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from pathlib import Path

import httpx
import uvicorn
from aiobotocore.session import get_session

from api import create_app
from bench.database import fresh_database
from contract.runs import RunStatus
from contract.settings import Settings
from reprise.logs import configure_logging
from storage import (
    ArtifactStore,
    ArtifactWrite,
    AttemptOutcome,
    NewRun,
    RunRepository,
    artifact_key,
    create_pool,
    open_artifact_store,
)

from timing import measure, percentiles

DATABASE = "postgresql://postgres@127.0.0.1:5432/reprise_bench_artifacts"
QUEUE = "bench-artifacts"
BUCKET = "reprise-bench"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def moto_server() -> AsyncIterator[str]:
    port = free_port()
    server = await asyncio.create_subprocess_exec(sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                                  str(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            await asyncio.sleep(0.1)
        async with get_session().create_client("s3", endpoint_url=endpoint) as client:
            await client.create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 10)




async def time_uploads(store: ArtifactStore, scratch: Path, size: int, repeat: int) -> tuple[float, float]:
    """`store.put` of a fresh `size`-byte file (written before each timed call, not timed)."""
    timings = []
    for index in range(repeat + 1):
        source = scratch / f"video-{index}.webm"
        source.write_bytes(os.urandom(size))
        started = time.perf_counter()
        await store.put(source, f"videos/bench/attempt-1/video-{index}.webm", "video/webm")
        if index:  # the first one warms the connection up
            timings.append((time.perf_counter() - started) * 1000)
    return percentiles(timings)


async def recorded_video(store: ArtifactStore, scratch: Path, size: int) -> str:
    """A finished run whose video is in the store; returns its run id."""
    pool = await create_pool(DATABASE)
    try:
        runs = RunRepository(pool, queue=QUEUE)
        run, _ = await runs.create(NewRun(name="bench", script_format="native", script={}, options={}))
        await runs.start_attempt(run.id, "bench", None)
        key = artifact_key("video", run.id, 1, "video.webm")
        source = scratch / "served.webm"
        source.write_bytes(os.urandom(size))
        saved = await store.put(source, key, "video/webm")
        await runs.finish(run.id, 1, AttemptOutcome(
            status=RunStatus.PASSED, error=None, category=None, steps=[], actions_executed=0, duration_ms=0,
            artifacts=[ArtifactWrite(kind="video", step_index=None, storage_key=key, content_type="video/webm",
                                     size_bytes=saved.size_bytes)]))
        return str(run.id)
    finally:
        await pool.close()


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[str]:
    port = free_port()
    # On loopback, with no keys: the benchmark measures reads, not authentication.
    app = create_app(settings.model_copy(update={"auth": "none"}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(600):  # uvicorn says it started by a flag only
        if server.started:
            break
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def time_reads(settings: Settings, run_id: str, size: int, repeat: int) -> dict[str, tuple[float, float]]:
    middle = size // 2
    ranges = {"first 100 bytes": "bytes=0-99", "1 MiB from the middle": f"bytes={middle}-{middle + 1048575}"}
    results = {}
    async with serving(settings) as base, httpx.AsyncClient(
            base_url=base, trust_env=False, follow_redirects=True, timeout=30) as client:
        video_url = (await client.get(f"/api/runs/{run_id}")).json()["videoUrl"]
        for title, header in ranges.items():
            async def read(header: str = header) -> None:
                response = await client.get(video_url, headers={"Range": header})
                assert response.status_code == 206, response.status_code

            results[title] = await measure(read, repeat)
    return results


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=float, default=10)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    size = int(args.size_mb * 1024 * 1024)
    os.environ.update(CREDENTIALS)
    configure_logging("WARNING", "console")
    await fresh_database("reprise_bench_artifacts")
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        scratch = Path(temporary) / "scratch"
        scratch.mkdir()
        async with AsyncExitStack() as stack:
            endpoint = await stack.enter_async_context(moto_server())
            base = Settings(database_url=DATABASE, queue_name=QUEUE, log_level="WARNING")
            configurations = {
                "local disk": base.model_copy(update={"artifact_store_url": str(Path(temporary) / "store")}),
                "S3, proxied by the API": base.model_copy(update={
                    "artifact_store_url": f"s3://{BUCKET}/bench", "s3_endpoint_url": endpoint,
                    "artifact_delivery": "proxy"}),
                "S3, 302 to a presigned URL": base.model_copy(update={
                    "artifact_store_url": f"s3://{BUCKET}/bench", "s3_endpoint_url": endpoint,
                    "artifact_delivery": "redirect"}),
            }
            for title, settings in configurations.items():
                async with open_artifact_store(settings) as store:
                    upload = await time_uploads(store, scratch, size, args.repeat)
                    run_id = await recorded_video(store, scratch, size)
                reads = await time_reads(settings, run_id, size, args.repeat)
                rows.append((title, upload, reads))
    print(f"\n{args.size_mb:g} MB video; {args.repeat} calls each after one warm-up\n")
    print("| store | upload median ms | upload p95 ms | first 100 bytes median ms | p95 | 1 MiB seek median ms "
          "| p95 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for title, upload, reads in rows:
        first, seek = reads["first 100 bytes"], reads["1 MiB from the middle"]
        print(f"| {title} | {upload[0]:.1f} | {upload[1]:.1f} | {first[0]:.1f} | {first[1]:.1f} | {seek[0]:.1f} "
              f"| {seek[1]:.1f} |")


if __name__ == "__main__":
    asyncio.run(main())
