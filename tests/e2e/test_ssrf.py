"""SSRF through the run's browser, on real processes: the API served by uvicorn, a real `reprise worker` with its
Chromium, and a hostile fixture site that redirects and fetches toward a blocked address, the API's own port and
the cloud metadata address. Each run ends `failed` [blocked] naming the host; nothing reached the target.

The worker here opens only 127.0.0.1/32 (the hostile site), so 127.0.0.3 is a blocked loopback address with a
listener on it that records every connection; the API listens on 127.0.0.1, inside the opened network, and stays
unreachable because the worker knows it as its API (API_PORT).
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services import WorkerProcess, wait_for_final, wait_for_workers

BLOCKED_HOST = "127.0.0.3"


class _HostileSite(BaseHTTPRequestHandler):
    """`/go?to=URL`: 302 there. `/fetch?url=URL&method=M`: a page whose script fetches URL (no-cors, as an attack
    needs no answer), then sets `window.done`."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        if parts.path == "/go":
            self.send_response(302)
            self.send_header("Location", query["to"])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts.path == "/fetch":
            script = (f"fetch({json.dumps(query['url'])}, {{method: {json.dumps(query.get('method', 'GET'))}, "
                      "mode: 'no-cors'}).catch(() => {}).finally(() => { window.done = true; });")
            body = f"<!doctype html><title>hostile</title><h1>hi</h1><script>{script}</script>".encode()
        else:
            body = b"<!doctype html><title>ok</title><h1>ok</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _Target(BaseHTTPRequestHandler):
    """The internal service a run must not reach: it counts every request it gets."""

    hits: list[str] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"in")

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hostile_site() -> Iterator[str]:
    with serve(_HostileSite) as server:
        yield f"http://127.0.0.1:{server.server_port}"


@pytest.fixture
def blocked_target() -> Iterator[tuple[str, list[str]]]:
    """A listener on a blocked address; yields its origin and the paths it received (must stay empty)."""
    hits: list[str] = []
    handler = type("Target", (_Target,), {"hits": hits})
    with serve(handler, BLOCKED_HOST) as server:
        yield f"http://{BLOCKED_HOST}:{server.server_port}", hits


@pytest.fixture
async def api(live_api: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_api, timeout=30) as client:
        yield client


@pytest.fixture
def policy_worker(start_worker: Callable[..., WorkerProcess], live_api: str) -> Callable[[], WorkerProcess]:
    def start() -> WorkerProcess:
        return start_worker("worker-net", BROWSER_ALLOWED_NETWORKS="127.0.0.1/32",
                            API_PORT=live_api.rsplit(":", 1)[1])
    return start


async def run_to_end(api: httpx.AsyncClient, steps: list[dict[str, Any]]) -> dict[str, Any]:
    created = await api.post("/api/runs", json={"script": {"version": 1, "name": "ssrf", "steps": steps},
                                                 "video": "off", "trace": "off", "stepTimeoutMs": 5000})
    assert created.status_code == 201, created.text
    return await wait_for_final(api, created.json()["id"], timeout=90)


async def test_ssrf_attempts_end_the_run_blocked_and_reach_nothing(
    api: httpx.AsyncClient, live_api: str, hostile_site: str, blocked_target: tuple[str, list[str]],
    policy_worker: Callable[[], WorkerProcess],
) -> None:
    target, hits = blocked_target
    worker = policy_worker()
    await wait_for_workers(api, {"worker-net"}, timeout=60)
    api_port = live_api.rsplit(":", 1)[1]

    # A control: the site itself (on the opened 127.0.0.1) replays fine through the proxy.
    control = await run_to_end(api, [{"action": "navigate", "url": f"{hostile_site}/ok"},
                                     {"action": "assertTitle", "text": "ok"}])
    assert control["status"] == "passed", control["error"]

    # (a) A redirect toward a blocked address.
    redirect = await run_to_end(api, [{"action": "navigate", "url": f"{hostile_site}/go?to={target}/secret"}])
    assert (redirect["status"], redirect["errorCategory"]) == ("failed", "blocked"), redirect
    assert f"{BLOCKED_HOST}:{target.rsplit(':', 1)[1]}" in redirect["error"] and "loopback" in redirect["error"]

    # (b) fetch() toward the API's own port: the queue is not paused afterwards.
    pause = f"http://127.0.0.1:{api_port}/api/queue/pause"
    fetched = await run_to_end(api, [{"action": "navigate", "url": f"{hostile_site}/fetch?method=POST&url={pause}"},
                                     {"action": "waitForFunction", "expression": "window.done === true"}])
    assert (fetched["status"], fetched["errorCategory"]) == ("failed", "blocked"), fetched
    assert f"127.0.0.1:{api_port}" in fetched["error"] and "the Reprise API" in fetched["error"]
    assert (await api.get("/api/queue")).json()["paused"] is False

    # (c) The cloud metadata address, by redirect and by fetch.
    metadata = "http://169.254.169.254/latest/meta-data/"
    for steps in ([{"action": "navigate", "url": f"{hostile_site}/go?to={metadata}"}],
                  [{"action": "navigate", "url": f"{hostile_site}/fetch?url={metadata}"},
                   {"action": "waitForFunction", "expression": "window.done === true"}]):
        run = await run_to_end(api, steps)
        assert (run["status"], run["errorCategory"]) == ("failed", "blocked"), run
        assert "169.254.169.254:80" in run["error"] and "cloud metadata" in run["error"]
        assert run["attempts"] == 1  # a test failure, not retried as infrastructure

    # (d) The blocked listener never saw a request, from any of these runs.
    assert hits == []
    assert worker.process.poll() is None
    assert "request blocked by the network policy" in worker.log()


async def test_literal_blocked_urls_are_refused_at_post(api_client: httpx.AsyncClient) -> None:
    """Known without DNS, so refused before anything is stored: 422 naming the step (or baseUrl)."""
    cases: list[tuple[list[dict[str, str]], dict[str, Any], str, str]] = [
        ([{"action": "navigate", "url": "https://example.com/"},
          {"action": "navigate", "url": "http://169.254.169.254/latest/meta-data/"}], {}, "script.steps[1].url",
         "cloud metadata"),
        ([{"action": "navigate", "url": "http://localhost:8000/api/runs"}], {}, "script.steps[0].url", "Reprise API"),
        ([{"action": "navigate", "url": "http://[::ffff:10.0.0.1]/"}], {}, "script.steps[0].url", "private network"),
        ([{"action": "navigate", "url": "${TARGET}"}], {"variables": {"TARGET": "http://10.1.2.3/"}},
         "script.steps[0].url", "private network"),  # after substitution
        ([{"action": "navigate", "url": "https://example.com/"}], {"baseUrl": "http://127.0.0.1:6379"}, "baseUrl",
         "Redis"),
    ]
    for steps, options, field, reason in cases:
        response = await api_client.post("/api/runs", json={"script": {"version": 1, "name": "x", "steps": steps},
                                                            **options})
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["error"] == "blocked_url" and body["fields"][0]["field"] == field, body
        assert reason in body["message"], body
    recorder = {"title": "r", "steps": [{"type": "navigate", "url": "http://127.0.0.1:5432/"}]}
    response = await api_client.post("/api/runs", json={"script": recorder})
    assert response.status_code == 422 and response.json()["fields"][0]["field"] == "script.steps[0].url"
    listed = (await api_client.get("/api/runs")).json()
    assert (listed["items"], listed["total"]) == ([], 0)  # nothing was stored or queued


async def test_a_base_url_with_tricks_is_refused(api_client: httpx.AsyncClient) -> None:
    script = {"version": 1, "name": "x", "steps": [{"action": "navigate", "url": "https://example.com/"}]}
    for base_url in ("https://example.com\\@127.0.0.1", "https://example.com:99999", "https://u@example.com",
                     "https://example.com/ x"):
        response = await api_client.post("/api/runs", json={"script": script, "baseUrl": base_url})
        assert response.status_code == 422, response.text
        assert response.json()["fields"][0]["field"] == "baseUrl", response.json()

