"""contract.network: every blocked range, IPv4 inside IPv6, the allow lists, the endpoints never reachable, and the
checks the API makes without DNS."""

from __future__ import annotations

import ipaddress

import pytest
from pydantic import ValidationError

from contract.network import Endpoint, NetworkPolicy, endpoint_from_url, range_reason
from contract.options import RunOptions
from contract.settings import Settings


def settings(**values: object) -> Settings:
    """Settings as from the environment (the lists comma-separated)."""
    return Settings(**values)  # type: ignore[arg-type]


def address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.0.0.1", "private network 10.0.0.0/8"),
    ("172.16.0.1", "private network 172.16.0.0/12"),
    ("172.31.255.255", "private network 172.16.0.0/12"),
    ("192.168.1.1", "private network 192.168.0.0/16"),
    ("169.254.169.254", "cloud metadata"),
    ("169.254.170.2", "cloud metadata"),
    ("169.254.1.1", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.255", "carrier-grade NAT"),
    ("0.0.0.0", "'this network'"),
    ("0.1.2.3", "'this network'"),
    ("224.0.0.1", "multicast"),
    ("255.255.255.255", "broadcast"),
    ("240.0.0.1", "reserved 240.0.0.0/4"),
    ("192.0.2.10", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("::", "unspecified"),
    ("::1", "IPv6 loopback"),
    ("fc00::1", "IPv6 unique local"),
    ("fd12:3456::1", "IPv6 unique local"),
    ("fd00:ec2::254", "cloud metadata"),
    ("fe80::1", "IPv6 link-local"),
    ("ff02::1", "IPv6 multicast"),
    ("2001:db8::1", "IPv6 documentation"),
    # IPv4 inside IPv6: judged by the IPv4 address it carries.
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:169.254.169.254", "cloud metadata"),
    ("::ffff:10.1.2.3", "private network 10.0.0.0/8"),
    ("::10.1.2.3", "private network 10.0.0.0/8"),
    ("64:ff9b::a9fe:a9fe", "cloud metadata"),
    ("2002:c0a8:0101::1", "private network 192.168.0.0/16"),
])
def test_blocked_ranges_name_their_reason(text: str, expected: str) -> None:
    reason = range_reason(address(text))
    assert reason is not None and reason.startswith(expected), (text, reason)
    verdict = NetworkPolicy().check("host.example", address(text), 80)
    assert not verdict.allowed and verdict.reason == reason


@pytest.mark.parametrize("text", ["93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "169.255.0.1",
                                  "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses_are_allowed(text: str) -> None:
    assert range_reason(address(text)) is None
    assert NetworkPolicy().check("example.com", address(text), 443).allowed


def test_allowed_networks_open_their_addresses_only() -> None:
    policy = NetworkPolicy(allowed_networks=(ipaddress.ip_network("10.20.0.0/16"),))
    assert policy.check("staging", address("10.20.3.4"), 80).allowed
    assert policy.check("staging", address("::ffff:10.20.3.4"), 80).allowed  # the same address, mapped
    assert not policy.check("other", address("10.21.0.1"), 80).allowed
    assert not policy.check("meta", address("169.254.169.254"), 80).allowed


def test_allowed_hosts_match_names_and_suffix_patterns() -> None:
    policy = NetworkPolicy(allowed_hosts=("staging.internal", "*.corp.example"))
    private = address("10.0.0.5")
    assert policy.check("staging.internal", private, 443).allowed
    assert policy.check("STAGING.internal.", private, 443).allowed
    assert policy.check("app.corp.example", private, 443).allowed
    assert policy.check("a.b.corp.example", private, 443).allowed
    assert not policy.check("corp.example", private, 443).allowed  # *.suffix: below it, not itself
    assert not policy.check("evilcorp.example", private, 443).allowed
    assert not policy.check("staging.internal.evil.example", private, 443).allowed


def test_protected_endpoints_stay_blocked_even_inside_allowed_networks() -> None:
    configured = settings(api_host="127.0.0.1", api_port=8123, redis_url="redis://127.0.0.1:6390/0",
                          database_url="postgresql://u@127.0.0.1:5499/db", public_url="https://reprise.example.com",
                          browser_allowed_networks="127.0.0.0/8,::1/128", browser_allowed_hosts="reprise.example.com")
    policy = NetworkPolicy.from_settings(configured)
    loopback = address("127.0.0.1")
    assert policy.check("127.0.0.1", loopback, 8124).allowed  # a local app: loopback was opened
    for port, what in ((8123, "the Reprise API"), (6390, "Redis"), (5499, "PostgreSQL")):
        verdict = policy.check("localhost", loopback, port)
        assert not verdict.allowed and verdict.reason.startswith(what), verdict
        for other in ("127.0.0.2", "::1", "0.0.0.0", "::ffff:127.0.0.1"):  # other ways to the same loopback server
            assert not policy.check(other, address(other), port).allowed, (other, port)
    # PUBLIC_URL by name, even though its name was allowed, and by its addresses once resolved.
    assert not policy.check("reprise.example.com", address("93.184.216.34"), 443).allowed
    resolved = policy.with_endpoint_addresses({"reprise.example.com": [address("93.184.216.34")]})
    assert not resolved.check("93.184.216.34", address("93.184.216.34"), 443).allowed
    assert resolved.check("93.184.216.34", address("93.184.216.34"), 80).allowed


def test_an_api_bound_to_every_interface_is_blocked_on_every_local_address() -> None:
    policy = NetworkPolicy.from_settings(settings(api_host="0.0.0.0", api_port=8000,
                                                  browser_allowed_networks="10.0.0.0/8"))
    assert not policy.check("10.1.1.1", address("10.1.1.1"), 8000).allowed
    assert policy.check("10.1.1.1", address("10.1.1.1"), 8001).allowed
    assert policy.check("example.com", address("93.184.216.34"), 8000).allowed


def test_metrics_port_and_the_s3_endpoint_are_protected() -> None:
    policy = NetworkPolicy.from_settings(settings(metrics_port=9100, browser_allowed_networks="127.0.0.0/8",
                                                  s3_endpoint_url="http://127.0.0.1:9000"))
    assert not policy.check("127.0.0.1", address("127.0.0.1"), 9100).allowed
    verdict = policy.check("127.0.0.1", address("127.0.0.1"), 9000)
    assert not verdict.allowed and "artifact store" in verdict.reason


def test_service_urls_become_endpoints() -> None:
    assert endpoint_from_url("PostgreSQL", "postgresql://u:p@db1:5433,db2/reprise") == [
        Endpoint("PostgreSQL", "db1", 5433), Endpoint("PostgreSQL", "db2", 5432)]
    assert endpoint_from_url("Redis", "redis://:pw@[::1]/0") == [Endpoint("Redis", "::1", 6379)]
    assert endpoint_from_url("PostgreSQL", "postgresql:///reprise?host=/var/run/postgresql") == []


@pytest.mark.parametrize(("url", "blocked"), [
    ("http://127.0.0.1:9/", "loopback"),
    ("http://localhost:3000/", "loopback"),
    ("http://app.localhost/", "loopback"),
    ("http://[::1]/", "IPv6 loopback"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("https://10.0.0.1/", "private network"),
    ("http://[::ffff:169.254.169.254]/", "cloud metadata"),
    ("http://0.0.0.0:8000/", "the Reprise API"),
    # Numeric hosts a browser reads as IPv4 (WHATWG URL parsing).
    ("http://2130706433:8000/", "the Reprise API"),
    ("http://0xA9FEA9FE/", "cloud metadata"),
    ("http://169.254.43518/", "cloud metadata"),
    ("http://0177.0.0.1/", "loopback"),
    ("http://127.1/", "loopback"),
])
def test_literal_urls_are_refused_without_dns(url: str, blocked: str) -> None:
    problem = NetworkPolicy.from_settings(settings()).check_url(url)
    assert problem is not None and blocked in problem, problem


def test_names_are_left_to_the_worker_but_the_api_by_name_is_not() -> None:
    policy = NetworkPolicy.from_settings(settings(public_url="https://reprise.example.com"))
    assert policy.check_url("https://intranet.example/") is None  # may resolve anywhere: the proxy decides
    assert policy.check_url("about:blank") is None
    problem = policy.check_url("https://reprise.example.com/api/queue/pause")
    assert problem is not None and "PUBLIC_URL" in problem
    opened = NetworkPolicy.from_settings(settings(browser_allowed_networks="127.0.0.0/8,::1/128"))
    assert opened.check_url("http://localhost:3000/") is None
    half_open = NetworkPolicy.from_settings(settings(browser_allowed_networks="127.0.0.0/8"))
    assert half_open.check_url("http://localhost:3000/") is not None  # it may resolve to ::1 as well
    assert opened.check_url("http://localhost:8000/") is not None  # the API's own port


def test_settings_refuse_what_is_not_a_host_or_a_network() -> None:
    with pytest.raises(ValidationError, match="browser_allowed_networks"):
        settings(browser_allowed_networks="10.0.0.0/33")
    with pytest.raises(ValidationError, match="browser_allowed_hosts"):
        settings(browser_allowed_hosts="http://staging")
    assert settings(browser_allowed_networks=" 10.1.2.3/16 ,, ").browser_allowed_networks == ("10.1.0.0/16",)


@pytest.mark.parametrize("base_url", [
    "http://a.example:99999", "http://a.example/\\@127.0.0.1", "http://user@a.example", "http://a.example/ x",
    "http://a.example/?q=1", "http://a.example/#top", "http://[::1", "http://-bad.example", "https://a.example\n",
])
def test_base_url_is_parsed_whole(base_url: str) -> None:
    with pytest.raises(ValidationError) as error:
        RunOptions.model_validate({"baseUrl": base_url})
    assert error.value.errors()[0]["loc"] == ("baseUrl",)


def test_good_base_urls_pass() -> None:
    for base_url in ("https://staging.example.com", "http://10.0.0.1:8080/app/", "http://[2001:db8::1]:80"):
        assert RunOptions(base_url=base_url).base_url == base_url
