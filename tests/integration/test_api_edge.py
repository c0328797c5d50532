"""What every response carries and what every client is held to (issue 16, finding 10): security headers, no
CORS unless configured, /docs without a CDN, links from PUBLIC_URL never from Host, a per-client rate limit and
a cap on open event streams. Real Postgres and Redis; the event streams over real HTTP (uvicorn)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest

from api.errors import TooManyRequests
from api.rate_limit import StreamSlots, client_identity
from contract.access import Scope
from contract.settings import Settings

from services import api_client_for, make_key, wait_for

RECORDING = {"title": "Sign up", "steps": [{"type": "navigate", "url": "http://127.0.0.1:9/"}]}


@pytest.mark.parametrize("path", ["/api/health", "/api/runs", "/api/nothing", "/docs", "/openapi.json", "/",
                                  "/api/queue"])
async def test_security_headers_on_every_response(api_client: httpx.AsyncClient, path: str) -> None:
    response = await api_client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"]


async def test_errors_made_by_middleware_carry_them_too(settings: Settings) -> None:
    limited = settings.model_copy(update={"api_max_body_bytes": 1024})
    async with api_client_for(limited) as client:
        response = await client.post("/api/runs", content=b"x" * 5000, headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]



async def test_an_unexpected_error_is_500_in_the_shape_with_the_headers(settings: Settings) -> None:
    """A bug (any exception a handler does not know) is answered by Starlette outside every middleware: the
    handler itself gives the error shape and the security headers."""
    from api import create_app

    app = create_app(settings)

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/broken", broken)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://reprise.test") as client:
            response = await client.get("/api/broken")
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "message": "an unexpected error occurred; it was logged"}
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]

async def test_docs_load_nothing_from_elsewhere(api_client: httpx.AsyncClient) -> None:
    page = await api_client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(source.startswith("/") and not source.startswith("//") for source in sources), sources
    assert "<script>" not in page.text, "no inline script: the page's CSP allows only 'self'"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for source in sources:
        asset = await api_client.get(source)
        assert asset.status_code == 200 and len(asset.content) > 20, source
    assert (await api_client.get("/redoc")).status_code == 404


async def test_no_cors_unless_configured(api_client: httpx.AsyncClient, settings: Settings) -> None:
    origin = {"Origin": "https://evil.example"}
    plain = await api_client.get("/api/runs", headers=origin)
    assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers
    preflight = await api_client.options("/api/queue/pause", headers={
        **origin, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers

    configured = settings.model_copy(update={"api_cors_origins": "https://ci.example, https://ops.example/"})
    async with api_client_for(configured) as client:
        allowed = await client.get("/api/runs", headers={"Origin": "https://ops.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://ops.example"
        refused = await client.get("/api/runs", headers=origin)
        assert "access-control-allow-origin" not in refused.headers
        preflight = await client.options("/api/runs", headers={"Origin": "https://ci.example",
                                                               "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://ci.example"


async def test_links_come_from_public_url_never_from_host(settings: Settings) -> None:
    public = settings.model_copy(update={"public_url": "https://reprise.example.com/base"})
    async with api_client_for(public) as client:
        hostile = {"Host": "attacker.example"}
        created = await client.post("/api/runs", json={"script": RECORDING}, headers=hostile)
        run = created.json()
        assert created.headers["location"] == f"https://reprise.example.com/base/api/runs/{run['id']}"
        assert run["url"] == created.headers["location"]
        listed = await client.get("/api/runs", headers=hostile)
        assert "attacker.example" not in listed.text
        assert listed.json()["items"][0]["url"].startswith("https://reprise.example.com/base/")
        retried = await client.post(f"/api/runs/{run['id']}/retry", headers=hostile)
        assert retried.headers["location"].startswith("https://reprise.example.com/base/api/runs/")
    async with api_client_for(settings) as client:  # unset: the API's own listening address
        run = (await client.post("/api/runs", json={"script": RECORDING}, headers={"Host": "evil"})).json()
        assert run["url"] == f"{settings.api_base_url}/api/runs/{run['id']}"


def test_client_identity_is_the_key_else_the_address() -> None:
    keyed = {"type": "http", "headers": [(b"authorization", b"Bearer secret-1")], "client": ("10.0.0.1", 5)}
    other = {"type": "http", "headers": [(b"authorization", b"Bearer secret-2")], "client": ("10.0.0.1", 5)}
    anonymous = {"type": "http", "headers": [], "client": ("10.0.0.9", 5)}
    assert client_identity(keyed).startswith("key:") and "secret" not in client_identity(keyed)
    assert client_identity(keyed) != client_identity(other)
    assert client_identity(anonymous) == "ip:10.0.0.9"


async def test_rate_limit_per_client_is_429_with_retry_after(settings: Settings) -> None:
    limited = settings.model_copy(update={"api_rate_limit_per_minute": 3})
    async with api_client_for(limited) as client:
        statuses = [(await client.get("/api/runs")).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        over = await client.get("/api/runs")
        assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
        assert over.json()["error"] == "rate_limited"
        assert (await client.get("/api/health")).status_code == 200, "probes are never limited"
        another = await make_key(client.app, Scope.READ)  # type: ignore[attr-defined]
        other_key = await client.get("/api/runs", headers={"Authorization": f"Bearer {another}"})
        assert other_key.status_code == 200, "each client has its own bucket"


def test_stream_slots_count_per_client_and_come_back() -> None:
    slots = StreamSlots(per_client=1)
    with slots.hold("key:a"), slots.hold("key:b"):
        with pytest.raises(TooManyRequests), slots.hold("key:a"):
            pass
        assert slots.open_count("key:a") == 1
    assert slots.open_count("key:a") == 0
    with slots.hold("key:a"):
        assert slots.open_count("key:a") == 1


@asynccontextmanager
async def event_stream(client: httpx.AsyncClient, url: str) -> AsyncIterator[httpx.Response]:
    async with client.stream("GET", url) as response:
        yield response


async def test_event_streams_per_client_are_capped(settings: Settings) -> None:
    import socket

    import uvicorn

    from api import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    capped = settings.model_copy(update={"api_max_event_streams": 2, "api_port": port})
    app = create_app(capped)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))
    serving = asyncio.create_task(server.serve())

    async def started() -> bool:
        return bool(server.started)

    try:
        await wait_for(started, timeout=30, what="uvicorn to start")
        url = f"http://127.0.0.1:{port}/api/events"
        key = {"Authorization": f"Bearer {await make_key(app, Scope.READ)}"}
        async with httpx.AsyncClient(timeout=10, headers=key) as client, AsyncExitStack() as streams:
            first = await streams.enter_async_context(event_stream(client, url))
            second = await streams.enter_async_context(event_stream(client, url))
            assert first.status_code == second.status_code == 200
            third = await client.get(url)
            assert third.status_code == 429 and third.headers["retry-after"]
            assert third.json()["error"] == "rate_limited"
            await first.aclose()

            async def reopened() -> bool:
                async with client.stream("GET", url) as response:
                    return response.status_code == 200

            assert await wait_for(reopened, timeout=10, interval=0.2, what="the closed stream's slot back")
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 30)
