"""Workers on hosts that share no disk: `reprise api` and two `reprise worker` processes, each with its own
scratch folder and no artifact folder, keeping artifacts in S3 (a real S3 server, moto). Every video and
screenshot lands in the bucket, the API serves the video's ranges, and no worker keeps a file."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract.runs import FINAL_RUN_STATUSES
from contract.settings import Settings

from flows import numbered_slow_script
from s3_server import Bucket, free_port, object_keys
from services import REPO_ROOT, WorkerProcess, wait_for, worker_env

PREFIX = "fleet"
WEBM_SIGNATURE = b"\x1a\x45\xdf\xa3"  # EBML


@pytest.fixture
def s3_api(settings: Settings, s3_bucket: Bucket, tmp_path: Path) -> Iterator[str]:
    """`reprise api` as its own process, keeping artifacts in the bucket; yields its base URL."""
    port = free_port()
    env = {**worker_env(settings, "api"), "API_PORT": str(port), "ARTIFACT_STORE_URL": s3_bucket.url(PREFIX),
           "S3_ENDPOINT_URL": s3_bucket.endpoint, "ARTIFACT_DELIVERY": "proxy"}
    log_path = tmp_path / "api.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "reprise.cli", "api"], env=env, cwd=REPO_ROOT,
                                   stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(trust_env=False, timeout=5) as client:
            while True:
                try:
                    if client.get(f"{base}/api/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"reprise api did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
async def test_two_workers_without_a_shared_disk_keep_every_artifact_in_s3(
    settings: Settings, s3_bucket: Bucket, s3_api: str, site_url: str, tmp_path: Path,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    scratch = {name: tmp_path / f"scratch-{name}" for name in ("worker-1", "worker-2")}
    for name, folder in scratch.items():
        start_worker(name, WORKER_CONCURRENCY="1", WORKER_WORK_DIR=str(folder),
                     ARTIFACT_STORE_URL=s3_bucket.url(PREFIX), S3_ENDPOINT_URL=s3_bucket.endpoint)
    async with httpx.AsyncClient(base_url=s3_api, trust_env=False, timeout=10) as client:
        async def both_workers() -> bool:
            workers = (await client.get("/api/health/detailed")).json()["workers"]
            return {worker["name"] for worker in workers} == set(scratch)

        await wait_for(both_workers, timeout=60, what="both workers' heartbeats")
        run_ids = []
        for _ in range(2):  # each worker takes one at a time: both get one
            created = await client.post("/api/runs", json={"script": numbered_slow_script(site_url, 3),
                                                           "video": "on", "screenshots": "every-step"})
            assert created.status_code == 201, created.text
            run_ids.append(created.json()["id"])

        async def finished() -> list[dict[str, Any]] | None:
            runs = [(await client.get(f"/api/runs/{run_id}")).json() for run_id in run_ids]
            return runs if all(run["status"] in FINAL_RUN_STATUSES for run in runs) else None

        runs = await wait_for(finished, timeout=120, interval=0.3, what="both runs to end")
        assert [run["status"] for run in runs] == ["passed", "passed"], [run["error"] for run in runs]
        assert {run["worker"] for run in runs} == set(scratch)

        in_bucket = await object_keys(s3_bucket)
        for run in runs:
            kinds = sorted(artifact["kind"] for artifact in run["artifacts"])
            assert kinds == ["screenshot"] * 4 + ["video"]
            for kind, area in (("video", "videos"), ("screenshot", "screenshots")):
                objects = {key: size for key, size in in_bucket.items()
                           if key.startswith(f"{PREFIX}/{area}/{run['id']}/attempt-1/")}
                listed = [artifact["sizeBytes"] for artifact in run["artifacts"] if artifact["kind"] == kind]
                assert sorted(objects.values()) == sorted(listed), (kind, objects, listed)
            video = await client.get(run["videoUrl"], headers={"Range": "bytes=0-99"})
            assert video.status_code == 206 and len(video.content) == 100
            assert video.headers["content-range"].startswith("bytes 0-99/")
            assert video.content[:4] == WEBM_SIGNATURE
        assert len(in_bucket) == 10
        for folder in scratch.values():  # the workers are still up: their scratch folders hold nothing
            assert [path for path in folder.rglob("*") if path.is_file() and path.suffix != ".lock"] == []
    for local in (settings.video_storage_path, settings.screenshot_storage_path, settings.artifact_storage_path):
        assert not local.exists()
