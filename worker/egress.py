"""The egress proxy every replay's browser context goes through: the network policy, enforced where the
connection is made.

One `EgressProxy` per replay, listening on 127.0.0.1 on a port of its own; the run's browser context is
created with it as its proxy (`bypass: <-loopback>`, so Chromium does not send loopback requests around it).
It serves:

- CONNECT host:port (https, wss, and ws, which Chromium tunnels too): a tunnel, opened only after the check;
- absolute-form HTTP (`GET http://host/path`, including a WebSocket upgrade): forwarded in origin form, with
  `Connection: close` (so each request to another host comes on a new connection, checked again).

For each, the host is resolved ONCE (`Resolver`), every address it resolved to is checked against the policy
(`contract.network.NetworkPolicy.check`: one blocked address blocks the request), and the connection is
made to a checked address as an IP literal, never re-resolved: DNS rebinding (a name answering a public
address to the check and a private one to the connect) has no second lookup to play with. A blocked request
gets `403` with the header `X-Reprise-Blocked` and is kept in `blocked`, which the worker turns into the run's
verdict (`failed` [blocked], naming the host: `blocked_verdict`).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import structlog
from playwright.async_api import ProxySettings

from contract.network import IPAddress, NetworkPolicy, normalize_host, parse_address
from contract.results import RunResult
from contract.runs import FailureCategory, RunStatus, StepStatus

log = structlog.get_logger(__name__)

Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]

BLOCKED_HEADER = "X-Reprise-Blocked"
HEAD_LIMIT = 64 * 1024
HEAD_TIMEOUT_S = 30.0
RESOLVE_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 10.0
PIPE_CHUNK = 64 * 1024
MAX_KEPT = 50  # distinct blocked requests and unreachable hosts kept per replay
MAX_CONNECTIONS_KEPT = 1000  # upstream connections listed per replay (diagnostics, tests)
HOP_BY_HOP = {"proxy-connection", "proxy-authorization", "connection", "keep-alive"}


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The addresses the system resolver gives for `host` (getaddrinfo), in its order, without duplicates."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: dict[IPAddress, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        address = parse_address(str(sockaddr[0]))
        if address is not None:
            found[address] = None
    return list(found)


async def resolve_protected(policy: NetworkPolicy, resolver: Resolver = system_resolver) -> NetworkPolicy:
    """The policy with the protected endpoints' host names resolved (once, at the worker's start), so that their
    addresses are blocked too; a name that does not resolve is still blocked by name."""
    addresses: dict[str, Sequence[IPAddress]] = {}
    for endpoint in policy.protected:
        if endpoint.host and parse_address(endpoint.host) is None and endpoint.host not in addresses:
            try:
                addresses[endpoint.host] = await asyncio.wait_for(resolver(endpoint.host, endpoint.port),
                                                                  RESOLVE_TIMEOUT_S)
            except (OSError, TimeoutError) as error:
                log.warning("could not resolve a protected endpoint", host=endpoint.host, error=str(error))
    return policy.with_endpoint_addresses(addresses)


@dataclass(frozen=True)
class Blocked:
    """A request the policy refused."""

    host: str
    port: int
    address: str | None
    reason: str

    def describe(self) -> str:
        target = f"[{self.host}]" if ":" in self.host else self.host
        via = f" ({self.address})" if self.address and self.address != normalize_host(self.host) else ""
        return f"{target}:{self.port}{via}: {self.reason}"


class _Refused(Exception):
    """The request could not be served (not a policy block): answered with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class EgressProxy:
    """One replay's proxy. `start()` then `server` for Playwright; `close()`; `blocked` what it refused."""

    def __init__(self, policy: NetworkPolicy, *, resolver: Resolver = system_resolver,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        self.policy = policy
        self._resolver = resolver
        self._connect_timeout_s = connect_timeout_s
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.blocked: list[Blocked] = []  # each distinct refusal once (up to MAX_KEPT)
        self.blocked_count = 0  # every refused request
        self.connected: list[tuple[str, int]] = []  # (address, port) of the upstream connections made
        self.unreachable: list[str] = []  # why a host could not be resolved or connected (not a block)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, limit=HEAD_LIMIT)

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def server(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def playwright_proxy(self) -> ProxySettings:
        """Playwright's `proxy` for the run's context: loopback not bypassed (Chromium's implicit rule)."""
        return {"server": self.server, "bypass": "<-loopback>"}

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            with suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    def forget(self) -> None:
        """Clear what it saw so far: a proxy started ahead of its run (`worker.warm`) reports only that run."""
        self.blocked, self.blocked_count, self.connected, self.unreachable = [], 0, [], []

    async def __aenter__(self) -> EgressProxy:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            pass
        except asyncio.CancelledError:
            pass  # close(): the replay is over (asyncio's server callback must not see the cancellation)
        finally:
            self._connections.discard(task)
            writer.close()
            with suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, version = request_line.split(" ", 2)
        try:
            if method.upper() == "CONNECT":
                host, port = _authority(target, 443)
                upstream = await self._open(host, port)
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
            else:
                parts = urlsplit(target)
                if parts.scheme.lower() not in ("http", "ws") or not parts.hostname:
                    raise _Refused(400, f"expected an absolute http:// URL, got {target[:200]!r}")
                host, port = parts.hostname, parts.port or 80
                upstream = await self._open(host, port)
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                upstream[1].write(_forwarded_head(method, path, version, header_lines))
        except _Blocked as blocked:
            await _answer(writer, 403, f"blocked by Reprise's network policy: {blocked.blocked.describe()}",
                          {BLOCKED_HEADER: blocked.blocked.reason})
            return
        except _Refused as refused:
            if refused.status == 502:
                if len(self.unreachable) < MAX_KEPT:
                    self.unreachable.append(str(refused))
                # Debug: Chromium's own service requests (autofill) come this way too, offline they never resolve.
                log.debug("upstream unreachable", error=str(refused))
                if method.upper() != "CONNECT":
                    # No answer at all: Chromium reports a network error (net::ERR_EMPTY_RESPONSE), as it would
                    # without a proxy, instead of loading a 502 page. CONNECT: 502 -> ERR_TUNNEL_CONNECTION_FAILED.
                    return
            await _answer(writer, refused.status, str(refused))
            return
        await _pipe(reader, writer, *upstream)

    async def _open(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Resolve once, check every address, connect to a checked one (an IP literal: never resolved again)."""
        literal = parse_address(host)
        if literal is not None:
            addresses: Sequence[IPAddress] = [literal]
        else:
            try:
                addresses = await asyncio.wait_for(self._resolver(normalize_host(host), port), RESOLVE_TIMEOUT_S)
            except (OSError, TimeoutError) as error:
                raise _Refused(502, f"cannot resolve {host}: {error}") from error
            if not addresses:
                raise _Refused(502, f"{host} resolved to no address")
        for address in addresses:
            verdict = self.policy.check(host, address, port)
            if not verdict.allowed:
                blocked = Blocked(host=normalize_host(host), port=port, address=str(address), reason=verdict.reason)
                self.blocked_count += 1
                if len(self.blocked) < MAX_KEPT and blocked not in self.blocked:  # a page looping on one URL
                    self.blocked.append(blocked)
                    log.warning("request blocked by the network policy", host=blocked.host, port=port,
                                address=str(address), reason=verdict.reason)
                raise _Blocked(blocked)
        last_error: Exception | None = None
        for address in addresses:
            try:
                opened = await asyncio.wait_for(asyncio.open_connection(str(address), port, limit=PIPE_CHUNK),
                                                self._connect_timeout_s)
            except (OSError, TimeoutError) as error:
                last_error = error
                continue
            if len(self.connected) < MAX_CONNECTIONS_KEPT:
                self.connected.append((str(address), port))
            return opened
        raise _Refused(502, f"cannot connect to {host}:{port}: {last_error}")


class _Blocked(Exception):
    def __init__(self, blocked: Blocked) -> None:
        super().__init__(blocked.describe())
        self.blocked = blocked


def _authority(target: str, default_port: int) -> tuple[str, int]:
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = target.rpartition(":") if ":" in target else (target, "", "")
    if not host or (port_text and not port_text.isdigit()):
        raise _Refused(400, f"bad CONNECT target {target[:200]!r}")
    port = int(port_text) if port_text else default_port
    if not 0 < port < 65536:
        raise _Refused(400, f"bad port in {target[:200]!r}")
    return host, port


def _forwarded_head(method: str, path: str, version: str, header_lines: list[str]) -> bytes:
    """The request in origin form without the proxy's hop-by-hop headers; `Connection: close` unless it upgrades
    (a WebSocket), so that the browser's next request, maybe to another host, comes on a new, checked
    connection."""
    headers = [line for line in header_lines if line and line.split(":", 1)[0].strip().lower() not in HOP_BY_HOP]
    upgrade = any(line.split(":", 1)[0].strip().lower() == "upgrade" for line in headers)
    headers.append("Connection: Upgrade" if upgrade else "Connection: close")
    return (f"{method} {path} {version}\r\n" + "\r\n".join(headers) + "\r\n\r\n").encode("latin-1")


async def _answer(writer: asyncio.StreamWriter, status: int, message: str,
                  headers: dict[str, str] | None = None) -> None:
    body = (message + "\n").encode()
    reason = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}.get(status, "Error")
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: text/plain; charset=utf-8",
             f"Content-Length: {len(body)}", "Connection: close", "Cache-Control: no-store",
             *(f"{name}: {_header_safe(value)}" for name, value in (headers or {}).items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body)
    with suppress(OSError):
        await writer.drain()


def _header_safe(value: str) -> str:
    return "".join(char if " " <= char <= "~" else "?" for char in value)


async def _pipe(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter,
                upstream_reader: asyncio.StreamReader, upstream_writer: asyncio.StreamWriter) -> None:
    async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while chunk := await source.read(PIPE_CHUNK):
                sink.write(chunk)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with suppress(OSError, RuntimeError):
                if sink.can_write_eof():
                    sink.write_eof()

    # The server's side says when the exchange is over: once it closes, so does the browser's connection, so that
    # nothing the browser sends later (a request meant for another host) goes to this server.
    to_upstream = asyncio.ensure_future(copy(client_reader, upstream_writer))
    try:
        await copy(upstream_reader, client_writer)
    finally:
        to_upstream.cancel()
        await asyncio.gather(to_upstream, return_exceptions=True)
        upstream_writer.close()
        with suppress(Exception):
            await upstream_writer.wait_closed()


def explain_network_errors(result: RunResult, unreachable: Sequence[str],
                           mask: Callable[[str], str] = str) -> RunResult:
    """A replay that failed on a network error (`net::ERR_EMPTY_RESPONSE`, `net::ERR_TUNNEL_CONNECTION_FAILED`:
    what Chromium sees through a proxy) gets the proxy's reason appended: the host that did not resolve or refused
    the connection."""
    if not unreachable or result.error is None or "net::ERR_" not in result.error:
        return result
    # The reason about the host the error names (not one of Chromium's own background requests).
    reasons = [reason for reason in unreachable if _reason_host(reason) and _reason_host(reason) in result.error]
    if not reasons:
        return result
    cause = mask(f" (egress proxy: {reasons[-1]})")
    steps = [step.model_copy(update={"error": step.error + cause}) if step.error and "net::ERR_" in step.error
             else step for step in result.steps]
    return replace(result, error=result.error + cause, steps=steps)


def _reason_host(reason: str) -> str:
    """`cannot connect to HOST:PORT: ...` or `cannot resolve HOST: ...` -> HOST; else ""."""
    if reason.startswith("cannot connect to "):
        return reason.removeprefix("cannot connect to ").split(": ", 1)[0].rsplit(":", 1)[0]
    if reason.startswith("cannot resolve "):
        return reason.removeprefix("cannot resolve ").split(": ", 1)[0]
    return ""


def blocked_verdict(result: RunResult, blocked: Sequence[Blocked], mask: Callable[[str], str] = str) -> RunResult:
    """A replay during which the page tried to reach a blocked address: `failed` [blocked], naming the host (the
    first refused request; how many more). The failing step, if any, carries the category too."""
    if not blocked:
        return result
    first = blocked[0]
    more = len({(item.host, item.port) for item in blocked}) - 1
    message = mask(f"blocked by the network policy: {first.describe()}"
                   + (f" (and {more} more blocked host{'s' if more > 1 else ''})" if more > 0 else ""))
    steps = []
    for step in result.steps:
        if step.status == StepStatus.FAILED:
            step = step.model_copy(update={"category": FailureCategory.BLOCKED,
                                           "error": f"{message}; {step.error}" if step.error else message})
        steps.append(step)
    return replace(result, status=RunStatus.FAILED, error=message, category=FailureCategory.BLOCKED, steps=steps)

