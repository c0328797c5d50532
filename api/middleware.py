"""ASGI middleware on every response of the API: security headers, and the request body's size bound.

Pure ASGI (not BaseHTTPMiddleware), so event streams and ranged downloads still stream.

- `SecurityHeadersMiddleware`: `X-Content-Type-Options: nosniff`, `Referrer-Policy`, and a
  Content-Security-Policy with `frame-ancestors 'none'` on every response that does not set its own (the
  dashboard and /docs set policies that fit them; JSON gets `default-src 'none'`).
- `BodyLimitMiddleware`: a request body over `API_MAX_BODY_BYTES` is answered 413 before the app reads it:
  at once from `Content-Length`, else by counting the streamed chunks (chunked uploads have no length).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from api.headers import API_CONTENT_SECURITY_POLICY, SECURITY_HEADERS


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                wanted = {**SECURITY_HEADERS, "content-security-policy": API_CONTENT_SECURITY_POLICY}
                headers += [(name.encode(), value.encode()) for name, value in wanted.items()
                            if name.encode() not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_with_headers)


async def _too_large(send: Send, limit: int) -> None:
    message = f"the request body is larger than {limit:,} bytes (API_MAX_BODY_BYTES)"
    body = json.dumps(error_body("payload_too_large", message)).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self._app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self._app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self._max:
                    await _too_large(send, self._max)
                    return
        # Read the whole body first (at most the limit is held), then hand it to the app: a body over the
        # limit is refused before any of it is parsed, whether or not it came with a length.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max:
                await _too_large(send, self._max)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self._app(scope, replay, send)
