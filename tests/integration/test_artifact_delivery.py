"""Artifacts in S3 served by the API: ranged reads streamed through it (ARTIFACT_DELIVERY=proxy) or a 302 to
a presigned URL that answers the range itself (redirect), against a real S3 server (moto)."""

from __future__ import annotations

import os
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from contract.runs import RunStatus
from contract.settings import Settings
from storage import ArtifactWrite, AttemptOutcome, NewRun, RunRepository, artifact_key, create_pool
from storage.s3_artifacts import S3ArtifactStore

from s3_server import Bucket
from services import api_client_for

VIDEO = os.urandom(200_000)


async def run_with_a_video(settings: Settings, bucket: Bucket, tmp_path: Path) -> str:
    """A finished run whose video is in the bucket, recorded as the worker records it."""
    pool = await create_pool(settings.database_url)
    try:
        runs = RunRepository(pool, queue=settings.queue_name)
        run, _ = await runs.create(NewRun(name="s3", script_format="native", script={}, options={}))
        await runs.start_attempt(run.id, "w", None)
        key = artifact_key("video", run.id, 1, "video.webm")
        (tmp_path / "video.webm").write_bytes(VIDEO)
        async with AsyncExitStack() as stack:
            store = await S3ArtifactStore.connect(bucket.name, "p", endpoint_url=bucket.endpoint, stack=stack)
            saved = await store.put(tmp_path / "video.webm", key, "video/webm")
        await runs.finish(run.id, 1, AttemptOutcome(
            status=RunStatus.PASSED, error=None, category=None, steps=[], actions_executed=0, duration_ms=1,
            artifacts=[ArtifactWrite(kind="video", step_index=None, storage_key=saved.storage_key,
                                     content_type="video/webm", size_bytes=saved.size_bytes)]))
    finally:
        await pool.close()
    return str(run.id)


def s3_settings(settings: Settings, bucket: Bucket, delivery: str) -> Settings:
    return settings.model_copy(update={"artifact_store_url": bucket.url("p"), "s3_endpoint_url": bucket.endpoint,
                                       "artifact_delivery": delivery})


async def test_proxy_streams_ranges_from_s3(settings: Settings, s3_bucket: Bucket, tmp_path: Path) -> None:
    run_id = await run_with_a_video(settings, s3_bucket, tmp_path)
    async with api_client_for(s3_settings(settings, s3_bucket, "proxy")) as client:
        run = (await client.get(f"/api/runs/{run_id}")).json()
        url = run["videoUrl"]
        part = await client.get(url, headers={"Range": "bytes=0-99"})
        tail = await client.get(url, headers={"Range": "bytes=-10"})
        whole = await client.get(url)
        outside = await client.get(url, headers={"Range": "bytes=999999-"})
        health = (await client.get("/api/health/detailed")).json()

    assert part.status_code == 206 and part.content == VIDEO[:100]
    assert part.headers["content-range"] == "bytes 0-99/200000" and part.headers["content-length"] == "100"
    assert part.headers["content-type"] == "video/webm" and part.headers["accept-ranges"] == "bytes"
    assert tail.status_code == 206 and tail.content == VIDEO[-10:]
    assert whole.status_code == 200 and whole.content == VIDEO
    assert outside.status_code == 416 and outside.headers["content-range"] == "bytes */200000"
    assert health["artifactStore"]["ok"] and health["artifactStore"]["kind"] == "s3"


async def test_redirect_sends_the_player_to_a_presigned_url_that_answers_ranges(
    settings: Settings, s3_bucket: Bucket, tmp_path: Path,
) -> None:
    run_id = await run_with_a_video(settings, s3_bucket, tmp_path)
    async with api_client_for(s3_settings(settings, s3_bucket, "redirect")) as client:
        url = (await client.get(f"/api/runs/{run_id}")).json()["videoUrl"]
        redirect = await client.get(url, headers={"Range": "bytes=0-99"})
    assert redirect.status_code == 302 and redirect.headers["location"].startswith(f"{s3_bucket.endpoint}/")
    async with httpx.AsyncClient(trust_env=False) as direct:
        part = await direct.get(redirect.headers["location"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == VIDEO[:100]
    assert part.headers["content-range"] == "bytes 0-99/200000"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-1", "bytes=5-1"])
async def test_ranges_it_does_not_take_get_the_whole_artifact(settings: Settings, s3_bucket: Bucket, tmp_path: Path,
                                                              header: str) -> None:
    run_id = await run_with_a_video(settings, s3_bucket, tmp_path)
    async with api_client_for(s3_settings(settings, s3_bucket, "proxy")) as client:
        url = (await client.get(f"/api/runs/{run_id}")).json()["videoUrl"]
        response = await client.get(url, headers={"Range": header})
    assert response.status_code == 200 and response.content == VIDEO
