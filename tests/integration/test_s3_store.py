"""The S3 artifact store against a real S3 HTTP server (moto): uploads (one request and multipart), ranged
reads, presigned URLs, deletes, and how an unreachable or refusing store is reported."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from storage import ArtifactNotFound, ArtifactStoreError, ByteRange, RangeNotSatisfiable
from storage.s3_artifacts import MULTIPART_THRESHOLD, S3ArtifactStore

from s3_server import Bucket, TcpProxy, object_keys, open_multipart_uploads

KEY = "videos/0b4c/attempt-1/video.webm"


@pytest.fixture
async def store(s3_bucket: Bucket) -> AsyncIterator[S3ArtifactStore]:
    async with AsyncExitStack() as stack:
        yield await S3ArtifactStore.connect(s3_bucket.name, "runs/prod", endpoint_url=s3_bucket.endpoint, stack=stack)


def file_of(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


async def content(store: S3ArtifactStore, key: str, byte_range: ByteRange | None = None) -> tuple[bytes, int, int, int]:
    read = await store.read(key, byte_range)
    return b"".join([chunk async for chunk in read.chunks]), read.first, read.last, read.total


async def test_a_small_file_goes_up_in_one_request_and_reads_back_whole_and_in_ranges(
    store: S3ArtifactStore, s3_bucket: Bucket, tmp_path: Path,
) -> None:
    data = file_of(tmp_path / "video.webm", 300_000)
    saved = await store.put(tmp_path / "video.webm", KEY, "video/webm")
    assert saved.size_bytes == 300_000 and not (tmp_path / "video.webm").exists()  # the store took it
    assert await object_keys(s3_bucket) == {f"runs/prod/{KEY}": 300_000}
    assert await content(store, KEY) == (data, 0, 299_999, 300_000)
    assert await content(store, KEY, ByteRange(0, 99)) == (data[:100], 0, 99, 300_000)
    assert await content(store, KEY, ByteRange(299_990, None)) == (data[299_990:], 299_990, 299_999, 300_000)
    assert await content(store, KEY, ByteRange(suffix=5)) == (data[-5:], 299_995, 299_999, 300_000)
    with pytest.raises(RangeNotSatisfiable):
        await store.read(KEY, ByteRange(400_000, None))


async def test_a_big_video_goes_up_in_parts_and_leaves_no_open_upload(
    store: S3ArtifactStore, s3_bucket: Bucket, tmp_path: Path,
) -> None:
    data = file_of(tmp_path / "video.webm", MULTIPART_THRESHOLD * 2 + 12_345)
    await store.put(tmp_path / "video.webm", KEY, "video/webm")
    assert (await content(store, KEY))[0] == data
    assert await open_multipart_uploads(s3_bucket) == []


async def test_a_presigned_url_serves_ranges_without_the_api(store: S3ArtifactStore, tmp_path: Path) -> None:
    data = file_of(tmp_path / "video.webm", 50_000)
    await store.put(tmp_path / "video.webm", KEY, "video/webm")
    url = await store.presigned_url(KEY, 60, content_type="video/webm", filename="video.webm")
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.get(url, headers={"Range": "bytes=0-99"})
    assert response.status_code == 206 and response.content == data[:100]
    assert response.headers["content-range"] == "bytes 0-99/50000"
    assert response.headers["content-type"] == "video/webm"


async def test_exists_and_delete_are_idempotent(store: S3ArtifactStore, tmp_path: Path) -> None:
    file_of(tmp_path / "a.png", 10)
    await store.put(tmp_path / "a.png", "screenshots/r/attempt-1/a.png", "image/png")
    assert await store.exists("screenshots/r/attempt-1/a.png") and not await store.exists("screenshots/none.png")
    await store.delete(["screenshots/r/attempt-1/a.png", "screenshots/none.png"])
    await store.delete(["screenshots/r/attempt-1/a.png"])
    assert not await store.exists("screenshots/r/attempt-1/a.png")
    with pytest.raises(ArtifactNotFound):
        await store.read("screenshots/r/attempt-1/a.png")


async def test_an_unreachable_store_is_a_transient_error_and_a_missing_bucket_is_not(
    s3_bucket: Bucket, s3_proxy: TcpProxy, tmp_path: Path,
) -> None:
    file_of(tmp_path / "a.png", 10)
    async with AsyncExitStack() as stack:
        down = await S3ArtifactStore.connect(s3_bucket.name, endpoint_url=s3_proxy.url, stack=stack)
        s3_proxy.cut()
        with pytest.raises(ArtifactStoreError) as unreachable:
            await down.put(tmp_path / "a.png", "screenshots/r/attempt-1/a.png", "image/png")
        assert unreachable.value.transient and (tmp_path / "a.png").exists()  # nothing was taken
        s3_proxy.restore()
        await down.put(tmp_path / "a.png", "screenshots/r/attempt-1/a.png", "image/png")

        nowhere = await S3ArtifactStore.connect("no-such-bucket-here", endpoint_url=s3_bucket.endpoint, stack=stack)
        file_of(tmp_path / "b.png", 10)
        with pytest.raises(ArtifactStoreError) as refused:
            await nowhere.put(tmp_path / "b.png", "screenshots/r/attempt-1/b.png", "image/png")
        assert not refused.value.transient and "NoSuchBucket" in str(refused.value)
        with pytest.raises(ArtifactStoreError):
            await nowhere.check()
