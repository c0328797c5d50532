"""A real HTTP receiver for webhook tests: uvicorn on a free loopback port serving a bare ASGI app. Each path is an
endpoint that checks the signature with the shared `contract.webhooks.verify_signature` (a request that does not
verify is answered 401) and answers the status codes it was given, in order, then 200."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from contract.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    verify_signature,
)

from services import wait_for

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    problem: str | None
    answered: int

    @property
    def delivery_id(self) -> str:
        return self.headers[DELIVERY_HEADER.lower()]

    @property
    def event(self) -> str:
        return self.headers[EVENT_HEADER.lower()]

    @property
    def timestamp(self) -> str:
        return self.headers[TIMESTAMP_HEADER.lower()]

    @property
    def signature(self) -> str:
        return self.headers[SIGNATURE_HEADER.lower()]

    def json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


@dataclass
class Endpoint:
    secret: str = ""  # set once the subscription is made (its secret is in the creation's answer)
    answers: list[int] = field(default_factory=list)  # answers to the verified requests, in order; then 200


class Receiver:
    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        self.received: list[Received] = []
        self.base_url = ""

    def endpoint(self, path: str, *, answers: list[int] | None = None) -> str:
        self.endpoints[path] = Endpoint(answers=list(answers or []))
        return f"{self.base_url}{path}"

    def of(self, path: str) -> list[Received]:
        return [request for request in self.received if request.path == path]

    async def wait(self, path: str, count: int, timeout: float = 60) -> list[Received]:
        async def enough() -> list[Received] | None:
            found = self.of(path)
            return found if len(found) >= count else None

        return await wait_for(enough, timeout=timeout, what=f"{count} requests on {path}")

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                pass
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {key.decode().lower(): value.decode() for key, value in scope["headers"]}
        endpoint = self.endpoints.get(scope["path"])
        problem: str | None = None
        if endpoint is None:
            status = 404
        else:
            try:
                verify_signature(endpoint.secret, headers.get(TIMESTAMP_HEADER.lower(), ""), body,
                                 headers.get(SIGNATURE_HEADER.lower(), ""), now=time.time())
                status = endpoint.answers.pop(0) if endpoint.answers else 200
            except SignatureError as error:
                problem, status = str(error), 401
        self.received.append(Received(scope["path"], headers, body, problem is None and endpoint is not None,
                                      problem, status))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": f"answered {status}".encode()})


@asynccontextmanager
async def serve_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(receiver, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", timeout_graceful_shutdown=2))
    serving = asyncio.create_task(server.serve())

    async def started() -> bool:
        return bool(server.started)

    await wait_for(started, timeout=30, what="the webhook receiver to start")
    receiver.base_url = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 30)
