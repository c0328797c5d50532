"""The worker's scrape endpoint on METRICS_PORT: `GET /metrics` and `GET /healthz`, nothing else.

A small HTTP/1.1 server on asyncio streams, in the worker's own event loop (one more named side task of the
runtime): one request per connection, answered and closed, which is all Prometheus and a liveness probe need.
The worker knows nothing of web frameworks (an import-linter contract), and needs none for two read-only paths.
A port that cannot be bound is `MetricsPortUnavailable` at start, before the worker claims anything.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import suppress
from http import HTTPStatus

import structlog

from worker.metrics import Health

log = structlog.get_logger(__name__)

REQUEST_TIMEOUT_S = 10.0
MAX_HEADER_LINES = 100
MAX_LINE_BYTES = 8192


class MetricsPortUnavailable(Exception):
    """METRICS_PORT could not be bound (in use by another process, or not allowed)."""


MetricsSource = Callable[[str], tuple[bytes, str]]  # Accept header -> (body, content type)
HealthSource = Callable[[], Health]


class MetricsServer:
    def __init__(self, port: int, *, metrics: MetricsSource, health: HealthSource, host: str | None = None) -> None:
        self.port = port
        self._host = host  # None: every interface
        self._metrics = metrics
        self._health = health
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, self._host, self.port, limit=MAX_LINE_BYTES)
        except OSError as error:
            raise MetricsPortUnavailable(f"cannot serve metrics on port {self.port} (METRICS_PORT): "
                                         f"{error.strerror or error}") from error
        log.info("metrics server listening", port=self.port, paths=["/metrics", "/healthz"])

    async def serve(self) -> None:
        """Serve until cancelled (`start` first); the socket is closed on the way out."""
        if self._server is None:
            raise RuntimeError("MetricsServer.serve() before start()")
        async with self._server:
            await self._server.serve_forever()

    def answer(self, method: str, path: str, accept: str) -> tuple[int, bytes, str]:
        """(status, body, content type) for one request."""
        if path not in ("/metrics", "/healthz"):
            return 404, b"not found: /metrics and /healthz only\n", "text/plain; charset=utf-8"
        if method not in ("GET", "HEAD"):
            return 405, b"method not allowed\n", "text/plain; charset=utf-8"
        if path == "/metrics":
            body, content_type = self._metrics(accept)
            return 200, body, content_type
        health = self._health()
        return health.status_code, json.dumps(health.body).encode(), "application/json"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                method, path, headers = await _read_request(reader)
                try:
                    status, body, content_type = self.answer(method, path, headers.get("accept", ""))
                except Exception as error:  # a broken collector must not take the worker down
                    log.warning("metrics request failed", path=path, error=repr(error))
                    status, body, content_type = 500, b"internal error\n", "text/plain; charset=utf-8"
                head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: {content_type}\r\n"
                        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("latin-1")
                writer.write(head if method == "HEAD" else head + body)
                await writer.drain()
        except (TimeoutError, ConnectionError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # a client that went away or spoke nonsense gets nothing more
        finally:
            writer.close()
            with suppress(ConnectionError, TimeoutError):
                await writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str]]:
    """The request line's method and path (without its query) and the headers, lower-cased; ValueError when it
    is not HTTP."""
    method, target, version = (await reader.readuntil(b"\n")).decode("latin-1").split()
    if not version.startswith("HTTP/"):
        raise ValueError(f"not an HTTP request line: {method} {target} {version}")
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADER_LINES):
        line = (await reader.readuntil(b"\n")).decode("latin-1").strip()
        if not line:
            return method, target.split("?", 1)[0], headers
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    raise ValueError("too many header lines")
