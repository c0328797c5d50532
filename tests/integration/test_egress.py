"""worker.egress on real sockets: HTTP and CONNECT through the proxy, blocks answered 403 and recorded, and the DNS
rebinding guard (a name resolved once; the connection goes to the address that was checked).

127.0.0.2 stands for a public server (opened with BROWSER_ALLOWED_NETWORKS-style `allowed_networks`), 127.0.0.3 for
an internal one: both are loopback on Linux, so the test needs no network, and listeners on each record who came.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser

from contract.network import Endpoint, IPAddress, NetworkPolicy
from contract.options import RunOptions
from contract.results import RunResult, StepResult
from contract.runs import FailureCategory, RunStatus, StepStatus
from runner.formats import prepare_script
from runner.replay import ChromiumLauncher
from worker.browser_health import BrowserSupervisor
from worker.egress import BLOCKED_HEADER, Blocked, EgressProxy, blocked_verdict, explain_network_errors
from worker.main import replay_in

PUBLIC = "127.0.0.2"
INTERNAL = "127.0.0.3"
POLICY = NetworkPolicy(allowed_networks=(ipaddress.ip_network(f"{PUBLIC}/32"),))


@dataclass
class Listener:
    host: str
    port: int = 0
    peers: list[str] = field(default_factory=list)  # one per connection received


@asynccontextmanager
async def http_listener(host: str, port: int = 0, body: bytes = b"hello") -> AsyncIterator[Listener]:
    """A tiny HTTP server (one response per connection; echoes after a CONNECT-style raw line too)."""
    listener = Listener(host)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        listener.peers.append(str(writer.get_extra_info("peername")))
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            reply = body + b" " + head.split(b"\r\n", 1)[0]
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(reply), reply))
            await writer.drain()
        except (asyncio.IncompleteReadError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, host, port)
    listener.port = server.sockets[0].getsockname()[1]
    try:
        yield listener
    finally:
        server.close()
        await server.wait_closed()


class RebindingResolver:
    """Answers `first` to the first lookup and `later` to every other one (a DNS rebinding attacker's name)."""

    def __init__(self, first: Sequence[str], later: Sequence[str]) -> None:
        self.answers = [first, later]
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        answer = self.answers[0] if not self.lookups else self.answers[1]
        self.lookups.append(host)
        return [ipaddress.ip_address(text) for text in answer]


async def test_http_through_the_proxy_and_a_block_answered_403() -> None:
    async with http_listener(PUBLIC) as public, EgressProxy(POLICY) as proxy, http_listener(
            INTERNAL, public.port) as internal:
        async with httpx.AsyncClient(proxy=proxy.server) as client:
            allowed = await client.get(f"http://{PUBLIC}:{public.port}/page?x=1")
            blocked = await client.post(f"http://{INTERNAL}:{internal.port}/api/queue/pause")
    assert allowed.status_code == 200 and allowed.text == "hello GET /page?x=1 HTTP/1.1"  # origin form upstream
    assert blocked.status_code == 403 and blocked.headers[BLOCKED_HEADER].startswith("loopback")
    assert internal.peers == []  # nothing reached the blocked address
    assert [(item.host, item.port, item.address) for item in proxy.blocked] == [(INTERNAL, internal.port, INTERNAL)]


async def test_connect_tunnels_only_to_checked_addresses() -> None:
    async with http_listener(PUBLIC) as public, http_listener(INTERNAL, public.port) as internal, \
            EgressProxy(POLICY) as proxy:
        statuses = []
        for host in (PUBLIC, INTERNAL):
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(f"CONNECT {host}:{public.port} HTTP/1.1\r\nHost: {host}:{public.port}\r\n\r\n".encode())
            status = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n", 1)[0]
            if status.endswith(b"200 Connection Established"):
                writer.write(b"GET /tunnelled HTTP/1.1\r\n\r\n")
                status += b" | " + (await reader.read()).rsplit(b"\r\n", 1)[-1]
            statuses.append(status.decode())
            writer.close()
    assert statuses == ["HTTP/1.1 200 Connection Established | hello GET /tunnelled HTTP/1.1", "HTTP/1.1 403 Forbidden"]
    assert len(public.peers) == 1 and internal.peers == []


async def test_dns_rebinding_the_address_checked_is_the_address_connected() -> None:
    """The name answers the allowed address to the first lookup and the internal one afterwards. A proxy that
    checked, then let the connection resolve the name again, would reach the internal listener; this one
    resolves once per request and connects to the IP it checked."""
    async with http_listener(PUBLIC, body=b"public") as public, \
            http_listener(INTERNAL, public.port, body=b"internal") as internal:
        resolver = RebindingResolver(first=[PUBLIC], later=[INTERNAL])
        async with EgressProxy(POLICY, resolver=resolver) as proxy, httpx.AsyncClient(proxy=proxy.server) as client:
            first = await client.get(f"http://rebind.example:{public.port}/")
            second = await client.get(f"http://rebind.example:{public.port}/")
    assert first.status_code == 200 and first.text.startswith("public")
    assert proxy.connected == [(PUBLIC, public.port)]  # by IP: no second lookup for the connection
    assert resolver.lookups == ["rebind.example", "rebind.example"]  # one lookup per request, not two
    assert second.status_code == 403  # the next request's lookup is checked again
    assert internal.peers == [] and len(public.peers) == 1
    assert proxy.blocked[0].host == "rebind.example" and proxy.blocked[0].address == INTERNAL


async def test_a_name_with_one_blocked_address_among_others_is_blocked() -> None:
    async with http_listener(PUBLIC) as public, http_listener(INTERNAL, public.port) as internal:
        resolver = RebindingResolver(first=[PUBLIC, INTERNAL], later=[PUBLIC, INTERNAL])
        async with EgressProxy(POLICY, resolver=resolver) as proxy, httpx.AsyncClient(proxy=proxy.server) as client:
            response = await client.get(f"http://both.example:{public.port}/")
    assert response.status_code == 403
    assert public.peers == [] and internal.peers == []


async def test_protected_endpoint_is_blocked_inside_an_allowed_network() -> None:
    async with http_listener(PUBLIC) as api:
        policy = NetworkPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),),
                               protected=(Endpoint("the Reprise API", PUBLIC, api.port),))
        async with EgressProxy(policy) as proxy, httpx.AsyncClient(proxy=proxy.server) as client:
            response = await client.post(f"http://localhost:{api.port}/api/queue/pause")
    assert response.status_code == 403 and "the Reprise API" in response.text
    assert api.peers == []


def test_blocked_verdict_fails_the_run_naming_the_host() -> None:
    steps = [StepResult(index=0, type="navigate", status=StepStatus.PASSED, duration_ms=5),
             StepResult(index=1, type="click", status=StepStatus.FAILED, duration_ms=5, error="no element matched",
                        category=FailureCategory.SELECTOR_NOT_FOUND)]
    blocked = [Blocked("169.254.169.254", 80, "169.254.169.254", "cloud metadata (link-local 169.254.169.254)"),
               Blocked("db.internal", 5432, "10.0.0.5", "private network 10.0.0.0/8 (RFC 1918)")]
    result = blocked_verdict(RunResult(status=RunStatus.PASSED, steps=steps), blocked)
    assert result.status == RunStatus.FAILED and result.category == FailureCategory.BLOCKED
    assert result.error == ("blocked by the network policy: 169.254.169.254:80: cloud metadata (link-local "
                            "169.254.169.254) (and 1 more blocked host)")
    assert result.steps[1].category == FailureCategory.BLOCKED and "no element matched" in (result.steps[1].error or "")
    assert blocked_verdict(RunResult(status=RunStatus.PASSED, steps=steps), []).status == RunStatus.PASSED


async def test_a_name_resolving_to_a_blocked_address_ends_the_replay_blocked(
        chromium_path: str, site_url: str, tmp_path: Path) -> None:
    """Real Chromium through `replay_in` (the worker's replay): names go to the proxy unresolved, so the proxy's
    resolver decides. `app.test` resolves to the fixture site (opened), `intranet.test` to a blocked address with a
    listener on it."""
    site_port = int(site_url.rsplit(":", 1)[1])
    names = {"app.test": ["127.0.0.1"], "intranet.test": [INTERNAL]}

    async def resolver(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(text) for text in names[host]]

    policy = NetworkPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    supervisor = BrowserSupervisor(ChromiumLauncher(chromium_path))
    await supervisor.start()
    try:
        replay = replay_in({"chromium": supervisor}, 30, policy, resolver)
        options = RunOptions(video="off", trace="off", step_timeout_ms=5000)
        async with http_listener(INTERNAL, site_port) as internal:
            passed = await replay(prepare_script({"version": 1, "name": "by name", "steps": [
                {"action": "navigate", "url": f"http://app.test:{site_port}/index.html"}]}, {}, {}), options,
                tmp_path / "one")
            blocked = await replay(prepare_script({"version": 1, "name": "inside", "steps": [
                {"action": "navigate", "url": f"http://app.test:{site_port}/index.html"},
                {"action": "navigate", "url": f"http://intranet.test:{site_port}/${{PATH}}"}]}, {},
                {"PATH": "s3cret"}), options, tmp_path / "two", secret_values=["s3cret"])
            socket_url = f"ws://intranet.test:{site_port}/socket"
            websocket = await replay(prepare_script({"version": 1, "name": "websocket", "steps": [
                {"action": "navigate", "url": f"http://app.test:{site_port}/index.html"},
                {"action": "waitForFunction",
                 "expression": f"(window.ws ??= new WebSocket('{socket_url}')).readyState === WebSocket.CLOSED"}]},
                {}, {}), options, tmp_path / "three")
    finally:
        await supervisor.close()
    assert passed.status == RunStatus.PASSED, passed.error
    assert (blocked.status, blocked.category) == (RunStatus.FAILED, FailureCategory.BLOCKED), blocked.error
    assert blocked.error == (f"blocked by the network policy: intranet.test:{site_port} ({INTERNAL}): "
                             "loopback 127.0.0.0/8")
    assert (websocket.status, websocket.category) == (RunStatus.FAILED, FailureCategory.BLOCKED), websocket.error
    assert f"intranet.test:{site_port} ({INTERNAL})" in (websocket.error or "")
    assert internal.peers == []


async def test_an_unreachable_upstream_is_a_network_error_with_the_proxys_reason() -> None:
    """Not a block: plain HTTP gets no answer (Chromium: net::ERR_EMPTY_RESPONSE, retried like a refused
    connection), CONNECT a 502 (net::ERR_TUNNEL_CONNECTION_FAILED); the reason is kept for the run's error."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind((PUBLIC, 0))
        port = probe.getsockname()[1]
    async with EgressProxy(POLICY) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(f"GET http://{PUBLIC}:{port}/ HTTP/1.1\r\nHost: {PUBLIC}:{port}\r\n\r\n".encode())
        assert await reader.read() == b""
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(f"CONNECT {PUBLIC}:{port} HTTP/1.1\r\n\r\n".encode())
        assert (await reader.read()).startswith(b"HTTP/1.1 502 Bad Gateway")
        writer.close()
    assert proxy.blocked == [] and len(proxy.unreachable) == 2
    assert proxy.unreachable[0].startswith(f"cannot connect to {PUBLIC}:{port}")
    failed = RunResult(status=RunStatus.FAILED, error=f"step 1 (navigate) [navigation_error]: net::ERR_EMPTY_RESPONSE "
                       f"at http://{PUBLIC}:{port}/", category=FailureCategory.NAVIGATION_ERROR)
    explained = explain_network_errors(failed, [*proxy.unreachable, "cannot resolve content-autofill.example: ..."])
    assert explained.error == f"{failed.error} (egress proxy: {proxy.unreachable[-1]})"  # its host's reason
    other = RunResult(status=RunStatus.FAILED, error="step 1 (navigate) [navigation_error]: net::ERR_EMPTY_RESPONSE "
                      "at http://elsewhere.example/", category=FailureCategory.NAVIGATION_ERROR)
    assert explain_network_errors(other, proxy.unreachable) == other  # not about that host: left alone


async def test_webrtc_sends_no_udp_around_the_proxy(browser: Browser) -> None:
    """STUN over UDP does not go through an HTTP proxy: without `--webrtc-ip-handling-policy=
    disable_non_proxied_udp` (CHROMIUM_ARGS) a page's RTCPeerConnection reaches a blocked address's UDP port."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind((INTERNAL, 0))
        udp.setblocking(False)
        async with EgressProxy(POLICY) as proxy:
            context = await browser.new_context(proxy=proxy.playwright_proxy())
            page = await context.new_page()
            await page.set_content("<p>rtc</p>")
            state = await page.evaluate("""async (stun) => {
                const pc = new RTCPeerConnection({iceServers: [{urls: stun}]});
                pc.createDataChannel('x');
                await pc.setLocalDescription(await pc.createOffer());
                await new Promise(done => {
                    if (pc.iceGatheringState === 'complete') done();
                    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && done();
                });
                return pc.iceGatheringState;
            }""", f"stun:{INTERNAL}:{udp.getsockname()[1]}")
            await context.close()
        assert state == "complete"
        with pytest.raises(BlockingIOError):
            udp.recv(2048)  # nothing arrived
