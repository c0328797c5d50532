"""Artifacts in any S3-compatible object store (AWS S3, MinIO, Ceph, R2), through aiobotocore.

`s3://bucket/prefix`: objects are `<prefix>/<storage key>`. A custom endpoint (S3_ENDPOINT_URL) is addressed
path-style, as MinIO and most S3-compatible servers want. Credentials come from the standard AWS chain.
Files over MULTIPART_THRESHOLD go up in parts (a failed multipart upload is aborted, so nothing half-written
is left). Every failure becomes ArtifactStoreError, `transient` when a retry may help (connection lost,
5xx, throttled); the caller decides how long to retry.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from storage.artifacts import ArtifactContent, ArtifactStore, ByteRange, StoredFile
from storage.errors import ArtifactNotFound, ArtifactStoreError, RangeNotSatisfiable

MULTIPART_THRESHOLD = 8 * 1024 * 1024
PART_SIZE = 8 * 1024 * 1024
DELETE_BATCH = 1000  # the most one DeleteObjects call takes
READ_CHUNK = 256 * 1024
TRANSIENT_CODES = frozenset({"SlowDown", "RequestTimeout", "RequestTimeTooSkewed", "InternalError",
                             "ServiceUnavailable", "Throttling", "ThrottlingException"})


def _failure(what: str, error: Exception) -> ArtifactStoreError:
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        transient = status >= 500 or status in (408, 429) or code in TRANSIENT_CODES
        return ArtifactStoreError(f"{what}: {code or status} {error}", transient=transient)
    # Connection refused or reset, timeouts, DNS: the store may be back soon.
    return ArtifactStoreError(f"{what}: {type(error).__name__}: {error}", transient=True)


def _is_missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in ("NoSuchKey", "404", "NotFound")


STORE_ERRORS: tuple[type[Exception], ...] = (BotoCoreError, ClientError, aiohttp.ClientError, OSError,
                                             asyncio.TimeoutError)


class S3ArtifactStore(ArtifactStore):
    kind = "s3"

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    @classmethod
    async def connect(cls, bucket: str, prefix: str = "", *, endpoint_url: str | None = None,
                      stack: AsyncExitStack) -> S3ArtifactStore:
        """A store whose client lives as long as `stack`."""
        config = AioConfig(
            connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"},
            signature_version="s3v4",
            # Path-style for custom endpoints (MinIO, Ceph, moto); checksums only where S3 requires them, which
            # every S3-compatible server understands.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            request_checksum_calculation="when_required", response_checksum_validation="when_required",
        )
        client = await stack.enter_async_context(
            get_session().create_client("s3", endpoint_url=endpoint_url, config=config))
        return cls(client, bucket, prefix)

    def _object(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put(self, source: Path, key: str, content_type: str) -> StoredFile:
        size = (await asyncio.to_thread(source.stat)).st_size
        name = self._object(key)
        try:
            if size <= MULTIPART_THRESHOLD:
                body = await asyncio.to_thread(source.read_bytes)
                await self._client.put_object(Bucket=self.bucket, Key=name, Body=body, ContentType=content_type)
            else:
                await self._put_in_parts(source, name, content_type)
        except STORE_ERRORS as error:
            raise _failure(f"upload of {key} to s3://{self.bucket}", error) from error
        await asyncio.to_thread(source.unlink, True)
        return StoredFile(storage_key=key, size_bytes=size)

    async def _put_in_parts(self, source: Path, name: str, content_type: str) -> None:
        upload = await self._client.create_multipart_upload(Bucket=self.bucket, Key=name, ContentType=content_type)
        upload_id = upload["UploadId"]
        try:
            parts = []
            with source.open("rb") as file:
                number = 1
                while chunk := await asyncio.to_thread(_read, file, PART_SIZE):
                    part = await self._client.upload_part(Bucket=self.bucket, Key=name, UploadId=upload_id,
                                                          PartNumber=number, Body=chunk)
                    parts.append({"ETag": part["ETag"], "PartNumber": number})
                    number += 1
            await self._client.complete_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id,
                                                         MultipartUpload={"Parts": parts})
        except BaseException:
            # Nothing half-written stays behind (best effort: the store may be the reason we are here).
            try:
                await self._client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
            except STORE_ERRORS:
                pass
            raise

    async def read(self, key: str, byte_range: ByteRange | None = None) -> ArtifactContent:
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": self._object(key)}
        if byte_range is not None:
            arguments["Range"] = byte_range.header()
        try:
            response = await self._client.get_object(**arguments)
        except ClientError as error:
            if _is_missing(error):
                raise ArtifactNotFound(f"artifact object for {key!r} is missing") from error
            if str(error.response.get("Error", {}).get("Code")) == "InvalidRange":
                size = int(error.response.get("Error", {}).get("ActualObjectSize") or 0)
                raise RangeNotSatisfiable(f"range {arguments['Range']} is outside {key}", size) from error
            raise _failure(f"read of {key}", error) from error
        except STORE_ERRORS as error:
            raise _failure(f"read of {key}", error) from error
        length = int(response["ContentLength"])
        content_range = response.get("ContentRange")  # "bytes 0-99/12345" when a range was answered
        if content_range:
            span, _, total = str(content_range).removeprefix("bytes ").partition("/")
            first, _, last = span.partition("-")
            return ArtifactContent(_chunks(response["Body"]), int(first), int(last), int(total), partial=True)
        return ArtifactContent(_chunks(response["Body"]), 0, length - 1, length, partial=False)

    async def exists(self, key: str) -> bool:
        try:
            await self._client.head_object(Bucket=self.bucket, Key=self._object(key))
        except ClientError as error:
            if _is_missing(error):
                return False
            raise _failure(f"lookup of {key}", error) from error
        except STORE_ERRORS as error:
            raise _failure(f"lookup of {key}", error) from error
        return True

    async def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": self._object(key)} for key in keys[start:start + DELETE_BATCH]]
            try:
                answer = await self._client.delete_objects(Bucket=self.bucket,
                                                           Delete={"Objects": batch, "Quiet": True})
            except STORE_ERRORS as error:
                raise _failure(f"delete of {len(batch)} object(s)", error) from error
            errors = [item for item in answer.get("Errors", []) if item.get("Code") != "NoSuchKey"]
            if errors:
                raise ArtifactStoreError(f"delete refused for {len(errors)} object(s): {errors[0]}",
                                         transient=False)

    async def presigned_url(self, key: str, expires_s: int, *, content_type: str, filename: str) -> str:
        url: str = await self._client.generate_presigned_url("get_object", ExpiresIn=expires_s, Params={
            "Bucket": self.bucket, "Key": self._object(key), "ResponseContentType": content_type,
            "ResponseContentDisposition": f"inline; filename*=UTF-8''{quote(filename)}"})
        return url

    async def check(self) -> None:
        try:
            await self._client.head_bucket(Bucket=self.bucket)
        except STORE_ERRORS as error:
            raise _failure(f"bucket s3://{self.bucket}", error) from error


def _read(file: BinaryIO, size: int) -> bytes:
    return file.read(size)


async def _chunks(body: Any) -> AsyncIterator[bytes]:
    async with body as stream:
        async for chunk in stream.iter_chunks(READ_CHUNK):
            yield chunk
