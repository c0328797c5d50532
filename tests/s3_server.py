"""A real S3 HTTP API for the tests: moto's server (`moto[server]`) in its own process on a free loopback
port, a fresh bucket per test, and a TCP proxy in front of it that a test can cut (the store "down") and
restore, with moto's data intact."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from dataclasses import dataclass

import pytest
from aiobotocore.session import get_session

from ports import free_port

S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "reprise-test", "AWS_SECRET_ACCESS_KEY": "reprise-test-secret",
                  "AWS_REGION": "us-east-1"}




@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server, for the whole session; the AWS credential variables are set for this process and
    every process it starts."""
    saved = {name: os.environ.get(name) for name in S3_CREDENTIALS}
    os.environ.update(S3_CREDENTIALS)
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            break
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise RuntimeError(f"moto's S3 server did not start on port {port}")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass(frozen=True)
class Bucket:
    name: str
    endpoint: str

    def url(self, prefix: str = "artifacts") -> str:
        return f"s3://{self.name}/{prefix}"


@pytest.fixture
async def s3_bucket(s3_endpoint: str) -> AsyncIterator[Bucket]:
    name = f"reprise-{uuid.uuid4().hex[:12]}"
    async with get_session().create_client("s3", endpoint_url=s3_endpoint) as client:
        await client.create_bucket(Bucket=name)
    yield Bucket(name, s3_endpoint)


async def object_keys(bucket: Bucket) -> dict[str, int]:
    """Every object in the bucket, with its size."""
    found: dict[str, int] = {}
    async with get_session().create_client("s3", endpoint_url=bucket.endpoint) as client:
        paginator = client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=bucket.name):
            for item in page.get("Contents", []):
                found[item["Key"]] = int(item["Size"])
    return found


async def open_multipart_uploads(bucket: Bucket) -> list[str]:
    async with get_session().create_client("s3", endpoint_url=bucket.endpoint) as client:
        answer = await client.list_multipart_uploads(Bucket=bucket.name)
    return [upload["Key"] for upload in answer.get("Uploads", [])]


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target port, in a thread of its own (so processes and event loops of
    every test can use it). `cut()` closes the listener and every connection: new ones are refused, as when
    the store's host is down; `restore()` listens again."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        self.restore()

    def _call(self, coroutine: object) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)  # type: ignore[arg-type]

    def restore(self) -> None:
        self._call(self._listen())

    def cut(self) -> None:
        self._call(self._close())

    def stop(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update((client_writer, upstream_writer))

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.transport.abort()
                self._writers.discard(writer)

        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))


@pytest.fixture
def s3_proxy(s3_endpoint: str) -> Iterator[TcpProxy]:
    proxy = TcpProxy(int(s3_endpoint.rsplit(":", 1)[1]))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()

