"""The webhook decisions that are values: what an attempt's answer decides, signatures, URLs the API takes, the Slack
message of a suite run, and where the sender connects (a fake resolver stands in for DNS; nothing is sent)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import uuid4

import pytest

from contract.network import IPAddress, NetworkPolicy
from contract.settings import Settings
from contract.webhook_payloads import RunFacts, SuiteRunFacts, event_payload, slack_message
from contract.webhooks import (
    SignatureError,
    WebhookEvent,
    judge_attempt,
    mask_secret,
    new_secret,
    sign,
    url_problem,
    verify_signature,
    webhook_policy,
)
from jobs.webhooks import WebhookRetry
from worker.webhooks import Blocked, WebhookSender


@pytest.mark.parametrize(("status", "attempt", "delivered", "retry"), [
    (200, 1, True, False), (204, 8, True, False),
    (500, 1, False, True), (503, 7, False, True), (500, 8, False, False),  # the last attempt
    (None, 1, False, True), (None, 8, False, False),  # no answer
    (408, 1, False, True), (429, 1, False, True),  # timeout, rate limited: worth another try
    (400, 1, False, False), (401, 1, False, False), (404, 1, False, False), (410, 1, False, False),
    (301, 1, False, True),  # redirects are not followed: retried, then failed
])
def test_an_attempts_answer_decides_delivered_retried_or_failed(status: int | None, attempt: int, delivered: bool,
                                                                retry: bool) -> None:
    verdict = judge_attempt(status, attempt=attempt, max_attempts=8)
    assert (verdict.delivered, verdict.retry) == (delivered, retry)
    assert (verdict.reason is None) == delivered


def test_a_blocked_url_fails_at_once() -> None:
    verdict = judge_attempt(None, attempt=1, max_attempts=8, blocked=True)
    assert not verdict.delivered and not verdict.retry and "network policy" in (verdict.reason or "")


def test_signatures_verify_with_several_values_and_refuse_the_rest() -> None:
    secret, body, now = new_secret(), b'{"event":"run.failed"}', 1_767_000_000
    header = sign(secret, now, body)
    assert header.startswith("v1=") and len(header) == 3 + 64
    verify_signature(secret, str(now), body, header, now=now + 10)
    verify_signature(secret, now, body, f"v1=deadbeef, {header}", now=now)  # rotation: one match is enough
    for secret_, timestamp, body_, header_, message in [
        ("whsec_other", str(now), body, header, "does not match"),
        (secret, str(now), body + b" ", header, "does not match"),
        (secret, "yesterday", body, header, "not unix seconds"),
        (secret, str(now - 400), body, sign(secret, now - 400, body), "more than 300 s"),
        (secret, str(now + 400), body, sign(secret, now + 400, body), "more than 300 s"),  # from the future too
        (secret, str(now), body, "", "no v1="),
    ]:
        with pytest.raises(SignatureError, match=message):
            verify_signature(secret_, timestamp, body_, header_, now=now)
    verify_signature(secret, str(now - 400), body, sign(secret, now - 400, body), now=now, tolerance_s=600)


def test_secrets_are_random_and_masked_after_creation() -> None:
    first, second = new_secret(), new_secret()
    assert first != second and first.startswith("whsec_") and len(first) >= 48
    assert mask_secret(first) == f"whsec_…{first[-4:]}"


@pytest.mark.parametrize(("url", "problem"), [
    ("https://hooks.example.com/x?y=1", None),
    ("http://10.0.0.5:8080/hook", None),  # the network policy is the service's and the sender's
    ("HTTPS://HOOKS.EXAMPLE.COM/", None),
    ("ftp://hooks.example.com/", "http:// or https://"),
    ("hooks.example.com/x", "http:// or https://"),
    ("https:///path", "no host"),
    ("https://user:secret@hooks.example.com/", "credentials"),
    ("https://hooks.example.com/#top", "fragment"),
    ("https://hooks.example.com/a b", "spaces"),
    ("https://hooks.example.com:99999/", "not a URL"),
    ("https://hooks.example.com/" + "a" * 2100, "longer than"),
])
def test_webhook_urls(url: str, problem: str | None) -> None:
    found = url_problem(url)
    assert (found is None) if problem is None else (found is not None and problem in found), found


def test_a_suite_runs_slack_message_lists_the_runs_that_did_not_pass() -> None:
    at = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)

    def run(name: str, status: str, error: str | None) -> RunFacts:
        return RunFacts(id=uuid4(), number=1, name=name, status=status, duration_ms=900, error=error,
                        error_category=None, recording_id=None, suite_run_id=None, worker_name="w1", finished_at=at)

    broken = run("checkout <b>", "failed", "no element #pay")
    suite = SuiteRunFacts(id=uuid4(), number=7, suite_id=uuid4(), suite_name="smoke", status="failed", passed=2,
                          failed=1, error=0, cancelled=0, created_at=at, started_at=at,
                          finished_at=at + timedelta(seconds=42), runs=(run("login", "passed", None), broken))
    payload = event_payload(WebhookEvent.SUITE_FINISHED, uuid4(), at, "https://r.example", suite_run=suite)
    assert payload["suiteRun"]["counts"] == {"passed": 2, "failed": 1, "error": 0, "cancelled": 0, "quarantined": 0}
    assert payload["suiteRun"]["durationMs"] == 42_000
    assert payload["suiteRun"]["dashboardUrl"] == f"https://r.example/#/suite-runs/{suite.id}"
    message = slack_message(payload)
    assert message["text"] == ":x: Suite run #7 smoke failed (2 passed, 1 failed)"
    head, runs, context = message["blocks"]
    assert f"<https://r.example/#/suite-runs/{suite.id}|Suite run #7 smoke>" in head["text"]["text"]
    assert runs["text"]["text"] == (f":x: <https://r.example/#/runs/{broken.id}|checkout &lt;b&gt;>: "
                                    "no element #pay")
    assert context["elements"][0]["text"] == "Duration: 42.0 s"


class FakeResolver:
    def __init__(self, answers: dict[str, Sequence[str]]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append((host, port))
        return [ipaddress.ip_address(address) for address in self.answers[host]]


def sender(resolver: FakeResolver, policy: NetworkPolicy | None = None) -> WebhookSender:
    policy = policy or webhook_policy(Settings(api_host="127.0.0.1", api_port=8000))
    return WebhookSender(cast(Any, None), policy, base_url="https://r.example", retry=WebhookRetry(),
                         resolver=resolver)


async def test_the_sender_connects_to_the_address_it_checked_and_keeps_the_name_for_host_and_tls() -> None:
    resolver = FakeResolver({"hooks.example.com": ["93.184.216.34"], "v6.example.com": ["2606:4700::1111"]})
    url, extensions, host = await sender(resolver).pinned("https://hooks.example.com:8443/in?x=1")
    assert (url, extensions, host) == ("https://93.184.216.34:8443/in?x=1", {"sni_hostname": "hooks.example.com"},
                                       "hooks.example.com:8443")
    assert resolver.asked == [("hooks.example.com", 8443)]
    url, extensions, host = await sender(resolver).pinned("http://v6.example.com/")
    assert (url, extensions, host) == ("http://[2606:4700::1111]:80/", {}, "v6.example.com")


@pytest.mark.parametrize(("answers", "blocked_by"), [
    (["10.1.2.3"], "private network 10.0.0.0/8"),
    (["93.184.216.34", "169.254.169.254"], "cloud metadata"),  # one bad address is enough
    (["127.0.0.1"], "loopback"),
])
async def test_a_name_that_resolves_to_a_refused_address_is_blocked(answers: list[str], blocked_by: str) -> None:
    with pytest.raises(Blocked, match=blocked_by):
        await sender(FakeResolver({"sneaky.example.com": answers})).pinned("https://sneaky.example.com/hook")


async def test_opened_networks_let_a_private_receiver_in_but_never_the_api_itself() -> None:
    settings = Settings(api_host="127.0.0.1", api_port=8000, webhook_allowed_networks=("127.0.0.0/8", "10.0.0.0/8"))
    policy = webhook_policy(settings)
    url, _, _ = await sender(FakeResolver({}), policy).pinned("http://127.0.0.1:9000/hook")
    assert url == "http://127.0.0.1:9000/hook"
    with pytest.raises(Blocked, match="the Reprise API"):
        await sender(FakeResolver({}), policy).pinned("http://127.0.0.1:8000/api/runs")
    with pytest.raises(Blocked, match="Redis"):
        await sender(FakeResolver({"cache.internal": ["127.0.0.1"]}), policy).pinned("http://cache.internal:6379/")
    assert policy.check_url("http://169.254.169.254/") is not None, "the metadata address stays closed"
