"""The network policy of a run's browser: which addresses a page may reach, and why not.

Pure: no DNS, no sockets. The worker's egress proxy (`worker.egress`) resolves a request's host once, asks
`NetworkPolicy.check` about every address it got, and connects only to an address that was checked; the API asks
`NetworkPolicy.check_url` about URLs whose host is an IP literal or `localhost` (nothing resolved at POST).

Blocked by default (`BLOCKED_RANGES`): loopback, RFC 1918, link-local (with the cloud metadata address),
CGNAT, "this network", IPv6 loopback/ULA/link-local/site-local, multicast, broadcast, documentation and other
reserved ranges, and anything else Python does not consider globally routable. IPv4 embedded in IPv6
(mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is judged by the
embedded IPv4 address.

Opened by `BROWSER_ALLOWED_HOSTS` (names or `*.suffix` patterns: any address they resolve to) and
`BROWSER_ALLOWED_NETWORKS` (CIDRs). Never opened: the protected endpoints (`Endpoint`), host and port of the
Reprise API (API_HOST:API_PORT and PUBLIC_URL), the worker's Redis and Postgres, its S3 endpoint and its metrics
port.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from contract.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CLOUD_METADATA = "cloud metadata"
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "redis": 6379, "rediss": 6379,
                 "postgresql": 5432, "postgres": 5432}
WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # a server bound to every interface

_RANGES: tuple[tuple[str, str], ...] = (
    # Most specific first: the first match names the reason.
    ("169.254.169.254/32", f"{CLOUD_METADATA} (link-local 169.254.169.254)"),
    ("169.254.170.2/32", f"{CLOUD_METADATA} (ECS task metadata, link-local)"),
    ("fd00:ec2::254/128", f"{CLOUD_METADATA} (AWS IPv6 metadata, unique local)"),
    ("0.0.0.0/8", "'this network' 0.0.0.0/8 (unspecified)"),
    ("127.0.0.0/8", "loopback 127.0.0.0/8"),
    ("10.0.0.0/8", "private network 10.0.0.0/8 (RFC 1918)"),
    ("172.16.0.0/12", "private network 172.16.0.0/12 (RFC 1918)"),
    ("192.168.0.0/16", "private network 192.168.0.0/16 (RFC 1918)"),
    ("169.254.0.0/16", "link-local 169.254.0.0/16"),
    ("100.64.0.0/10", "carrier-grade NAT 100.64.0.0/10 (RFC 6598)"),
    ("192.0.0.0/24", "IETF protocol assignments 192.0.0.0/24"),
    ("192.0.2.0/24", "documentation 192.0.2.0/24"),
    ("198.51.100.0/24", "documentation 198.51.100.0/24"),
    ("203.0.113.0/24", "documentation 203.0.113.0/24"),
    ("198.18.0.0/15", "benchmarking 198.18.0.0/15"),
    ("224.0.0.0/4", "multicast 224.0.0.0/4"),
    ("255.255.255.255/32", "broadcast 255.255.255.255"),
    ("240.0.0.0/4", "reserved 240.0.0.0/4"),
    ("::/128", "unspecified ::"),
    ("::1/128", "IPv6 loopback ::1"),
    ("fc00::/7", "IPv6 unique local fc00::/7"),
    ("fe80::/10", "IPv6 link-local fe80::/10"),
    ("fec0::/10", "IPv6 site-local fec0::/10"),
    ("ff00::/8", "IPv6 multicast ff00::/8"),
    ("100::/64", "IPv6 discard 100::/64"),
    ("2001:db8::/32", "IPv6 documentation 2001:db8::/32"),
)
BLOCKED_RANGES: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(network), reason) for network, reason in _RANGES)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")


class BlockedUrl(Exception):
    """A URL in a run request points where runs may never go (a blocked IP literal, `localhost`, the API itself);
    `field` names it as the API does (`script.steps[3].url`, `baseUrl`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), or None."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def parse_address(text: str) -> IPAddress | None:
    """An IP literal (brackets and an IPv6 zone allowed), else None."""
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def browser_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a browser reads in a host such as `2130706433`, `0x7f.1` or `0177.0.0.1` (the WHATWG URL
    parser's numeric forms), else None."""
    parts = host.rstrip(".").split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        try:
            if part.lower().startswith("0x"):
                numbers.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part, 8))
            else:
                numbers.append(int(part, 10) if part.isdigit() else -1)
        except ValueError:
            return None
    if any(number < 0 for number in numbers) or any(number > 255 for number in numbers[:-1]):
        return None
    last_bits = 8 * (5 - len(numbers))
    if numbers[-1] >= 1 << last_bits:
        return None
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value |= number << (24 - 8 * index)
    return ipaddress.IPv4Address(value)


def range_reason(address: IPAddress) -> str | None:
    """Why the default policy blocks `address` (None: a public address)."""
    embedded = embedded_ipv4(address)
    if embedded is not None:
        reason = range_reason(embedded)
        return f"{reason}, embedded in IPv6 {address}" if reason else None
    for network, reason in BLOCKED_RANGES:
        if address.version == network.version and address in network:
            return reason
    if not address.is_global:
        return "reserved (not globally routable)"
    return None


def normalize_host(host: str) -> str:
    """Lower case, without a trailing dot or IPv6 brackets."""
    return host.strip().strip("[]").rstrip(".").lower()


def host_matches(host: str, pattern: str) -> bool:
    """`pattern` is a name (`staging.internal`) or `*.suffix` (any name below `suffix`, not `suffix` itself)."""
    host, pattern = normalize_host(host), normalize_host(pattern)
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


@dataclass(frozen=True)
class Endpoint:
    """A host and port no run may reach, whatever is allowed: `host` a name or an IP literal, or "" for every
    non-public address (a server bound to 0.0.0.0); `addresses` what its name resolved to."""

    what: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...] = ()

    def covers(self, host: str, address: IPAddress | None, port: int) -> bool:
        if port != self.port:
            return False
        if not self.host:
            # Bound to every interface: its port on any address that is not public (or that names this host).
            return address is None or range_reason(address) is not None or normalize_host(host) == "localhost"
        if normalize_host(host) == self.host:
            return True
        own = parse_address(self.host)
        targets = ((own,) if own is not None else ()) + self.addresses
        if address is None:
            return False
        if any(target.is_loopback for target in targets) and _is_local(address):
            return True  # 127.0.0.2, ::1 or 0.0.0.0 reach a server bound to loopback as well
        return any(_same(address, target) for target in targets)

    def describe(self) -> str:
        host = self.host or "any local address"
        return f"{self.what} ({host}:{self.port})"


def _same(address: IPAddress, other: IPAddress) -> bool:
    embedded = embedded_ipv4(address)
    return address == other or (embedded is not None and embedded == other)


def _is_local(address: IPAddress) -> bool:
    candidate = embedded_ipv4(address) or address
    return candidate.is_loopback or candidate.is_unspecified or candidate in ipaddress.IPv4Network("0.0.0.0/8")


def endpoint_from_url(what: str, url: str) -> list[Endpoint]:
    """The host:port pairs of a service URL (libpq URLs may list several hosts); none for a Unix socket."""
    parts = urlsplit(url)
    default = DEFAULT_PORTS.get(parts.scheme.lower(), 80)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    found: list[Endpoint] = []
    for item in netloc.split(","):
        item = item.strip()
        if not item:
            continue
        host, port = _split_host_port(item, default)
        if port is None:
            continue
        found.append(Endpoint(what, "" if host in WILDCARD_HOSTS else normalize_host(host), port))
    return found


def _split_host_port(item: str, default: int) -> tuple[str, int | None]:
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif item.count(":") == 1:
        host, _, port_text = item.partition(":")
    else:
        host, port_text = item, ""
    if not port_text:
        return host, default
    return host, int(port_text) if port_text.isdigit() and int(port_text) <= 65535 else None


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str  # why (for a block: what the address is; for an allow: which rule)


@dataclass(frozen=True)
class NetworkPolicy:
    allowed_hosts: tuple[str, ...] = ()
    allowed_networks: tuple[IPNetwork, ...] = ()
    protected: tuple[Endpoint, ...] = ()
    # Said at startup: e.g. `reprise dev` opening loopback for a local app.
    notes: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> NetworkPolicy:
        protected = [*endpoint_from_url("the Reprise API", f"http://{_bracket(settings.api_host)}:{settings.api_port}"),
                     *endpoint_from_url("Redis", settings.redis_url),
                     *endpoint_from_url("PostgreSQL", settings.database_url)]
        if settings.public_url:
            protected += endpoint_from_url("the Reprise API (PUBLIC_URL)", settings.public_url)
        if settings.s3_endpoint_url:
            protected += endpoint_from_url("the artifact store (S3_ENDPOINT_URL)", settings.s3_endpoint_url)
        if settings.metrics_port is not None:
            protected.append(Endpoint("the worker's metrics server", "", settings.metrics_port))
        return cls(allowed_hosts=tuple(settings.browser_allowed_hosts),
                   allowed_networks=tuple(ipaddress.ip_network(text, strict=False)
                                          for text in settings.browser_allowed_networks),
                   protected=tuple(dict.fromkeys(protected)))

    def with_endpoint_addresses(self, addresses: dict[str, Sequence[IPAddress]]) -> NetworkPolicy:
        """The same policy with the protected endpoints' names resolved (`{name: addresses}`), so that a page
        cannot reach the API by its IP address when PUBLIC_URL names it."""
        protected = tuple(Endpoint(end.what, end.host, end.port, tuple(addresses.get(end.host, ())))
                          for end in self.protected)
        return NetworkPolicy(self.allowed_hosts, self.allowed_networks, protected, self.notes)

    def protected_endpoint(self, host: str, address: IPAddress | None, port: int) -> Endpoint | None:
        return next((end for end in self.protected if end.covers(host, address, port)), None)

    def check(self, host: str, address: IPAddress, port: int) -> Verdict:
        """May a page connect to `address`:`port`, which `host` resolved to (or which `host` is)?"""
        endpoint = self.protected_endpoint(host, address, port)
        if endpoint is not None:
            return Verdict(False, f"{endpoint.describe()} is never reachable from a run")
        if any(host_matches(host, pattern) for pattern in self.allowed_hosts):
            return Verdict(True, "BROWSER_ALLOWED_HOSTS")
        embedded = embedded_ipv4(address)
        for network in self.allowed_networks:
            if any(candidate is not None and candidate.version == network.version and candidate in network
                   for candidate in (address, embedded)):
                return Verdict(True, f"BROWSER_ALLOWED_NETWORKS {network}")
        reason = range_reason(address)
        return Verdict(False, reason) if reason else Verdict(True, "public address")

    def check_url(self, url: str) -> str | None:
        """Why a URL is refused before any DNS (an IP literal in a blocked range, `localhost`, a protected
        endpoint by name), or None. URLs that are not http(s) with a host are left to the formats' checks."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return None
        scheme = parts.scheme.lower()
        host = parts.hostname
        if scheme not in ("http", "https", "ws", "wss") or not host:
            return None
        port = port if port is not None else DEFAULT_PORTS[scheme]
        address = parse_address(host) or browser_ipv4(host)
        if address is None and (host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost")):
            for loopback in (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")):
                verdict = self.check(host, loopback, port)
                if not verdict.allowed:
                    return f"{_bracket(host)}:{port} is blocked: {verdict.reason}"
            return None
        if address is None:
            endpoint = self.protected_endpoint(host, None, port)
            return f"{host}:{port} is blocked: {endpoint.describe()} is never reachable from a run" \
                if endpoint is not None else None
        verdict = self.check(host, address, port)
        return None if verdict.allowed else f"{_bracket(host)}:{port} is blocked: {verdict.reason}"

    def describe(self) -> dict[str, object]:
        """For the worker's startup log."""
        return {"allowedHosts": list(self.allowed_hosts),
                "allowedNetworks": [str(network) for network in self.allowed_networks],
                "protected": [end.describe() for end in self.protected]}


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host

