"""Webhooks: the events a subscription can ask for, the states of a delivery, how a delivery is signed and
verified, the links a payload carries, and what one attempt's answer decides. Pure: no HTTP client, no database.

The database mirrors the enums once (migration 0016: `webhook_event`, `webhook_delivery_status`,
`webhook_format`); tests/integration/test_webhooks_storage.py holds them together.

A delivery's life (docs/webhooks.md):

    pending ──> delivering ──> delivered
       ^            │
       └────────────┤  (a 5xx, 408, 429 or network error with attempts left: BullMQ's backoff)
                    └──> failed  (the last attempt, or an answer no retry can change: other 4xx, a blocked URL)

Signature: `X-Reprise-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")>` with the timestamp (unix
seconds) in `X-Reprise-Timestamp`; `verify_signature` is the receiver's side (the docs' snippet is the same code).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from contract.network import NetworkPolicy

if TYPE_CHECKING:
    from contract.settings import Settings


class WebhookEvent(StrEnum):
    RUN_FINISHED = "run.finished"  # a run reached a final status (passed, failed, error, cancelled)
    RUN_FAILED = "run.failed"  # a run ended failed or error
    SUITE_FINISHED = "suite.finished"  # a suite run reached a final status
    PING = "ping"  # POST /api/webhooks/{id}/test; never subscribed to


SUBSCRIBABLE_EVENTS: tuple[WebhookEvent, ...] = (
    WebhookEvent.RUN_FINISHED, WebhookEvent.RUN_FAILED, WebhookEvent.SUITE_FINISHED)


class WebhookFormat(StrEnum):
    JSON = "json"  # the signed JSON payload (docs/webhooks.md)
    SLACK = "slack"  # a Slack incoming webhook's message (text + blocks), signed all the same


class WebhookScope(StrEnum):
    ALL = "all"  # every run (and suite run) of the queue
    SUITE = "suite"  # runs of one suite's suite runs, and those suite runs
    RECORDING = "recording"  # runs of one saved recording


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"


FINAL_DELIVERY_STATUSES = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.FAILED})

EVENT_HEADER = "X-Reprise-Event"
DELIVERY_HEADER = "X-Reprise-Delivery"
TIMESTAMP_HEADER = "X-Reprise-Timestamp"
SIGNATURE_HEADER = "X-Reprise-Signature"
SIGNATURE_VERSION = "v1"
# A receiver rejects a timestamp further than this from its clock (a replayed request), and dedupes by delivery id.
DEFAULT_TOLERANCE_S = 300
SECRET_PREFIX = "whsec_"
RESPONSE_EXCERPT_CHARS = 1024  # of a receiver's answer, kept per attempt


def new_secret() -> str:
    """A subscription's signing secret: 32 random bytes, URL-safe."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def mask_secret(secret: str) -> str:
    """What the API shows after creation: the prefix and the last four characters."""
    return f"{SECRET_PREFIX}…{secret[-4:]}"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Reprise-Signature` value for `body` sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def signature_headers(secret: str, *, event: str, delivery_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "User-Agent": "Reprise-Webhooks/1", EVENT_HEADER: event,
            DELIVERY_HEADER: delivery_id, TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, timestamp, body)}


class SignatureError(Exception):
    """A request whose signature does not verify: its reason says why (bad header, wrong signature, too old)."""


def verify_signature(secret: str, timestamp: str | int, body: bytes, header: str, *, now: float,
                     tolerance_s: float = DEFAULT_TOLERANCE_S) -> None:
    """Raise SignatureError unless `header` (X-Reprise-Signature) signs `body` at `timestamp` (X-Reprise-Timestamp)
    with `secret`, and `timestamp` is within `tolerance_s` of `now` (unix seconds). The header may carry several
    `v1=` values (comma-separated, during a secret's rotation): one match is enough."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        raise SignatureError(f"timestamp {timestamp!r} is not unix seconds") from None
    if abs(now - sent_at) > tolerance_s:
        raise SignatureError(f"timestamp {sent_at} is more than {tolerance_s:g} s from now ({int(now)})")
    expected = sign(secret, sent_at, body)
    candidates = [part.strip() for part in header.split(",") if part.strip().startswith(f"{SIGNATURE_VERSION}=")]
    if not candidates:
        raise SignatureError(f"no {SIGNATURE_VERSION}= signature in the header")
    if not any(hmac.compare_digest(candidate.encode(), expected.encode()) for candidate in candidates):
        raise SignatureError("the signature does not match the body (wrong secret, or the body was changed)")


# Links a payload carries: the paths the API serves (api/views.py builds its links with these too).
def run_path(run_id: object) -> str:
    return f"/api/runs/{run_id}"


def artifact_path(run_id: object, artifact_id: object) -> str:
    return f"/api/runs/{run_id}/artifacts/{artifact_id}"


def dashboard_run_path(run_id: object) -> str:
    return f"/#/runs/{run_id}"


def suite_run_path(suite_run_id: object) -> str:
    return f"/api/suite-runs/{suite_run_id}"


def dashboard_suite_run_path(suite_run_id: object) -> str:
    return f"/#/suite-runs/{suite_run_id}"


@dataclass(frozen=True)
class AttemptVerdict:
    """What one attempt's answer decides: delivered, retried (BullMQ's backoff), or failed for good."""

    delivered: bool
    retry: bool
    reason: str | None = None  # why it was not delivered


def judge_attempt(status_code: int | None, *, attempt: int, max_attempts: int, blocked: bool = False) -> AttemptVerdict:
    """`status_code` None: no answer (network error, timeout). A 2xx is delivered. A 4xx other than 408 (timeout) and
    429 (rate limited) is final at once: the receiver refuses this request and the same one again will not change its
    mind (a missing route, a bad signature). A blocked URL is final too. Anything else is retried while attempts are
    left (`attempt` counts from 1)."""
    if status_code is not None and 200 <= status_code < 300:
        return AttemptVerdict(delivered=True, retry=False)
    if blocked:
        return AttemptVerdict(False, False, "the URL is blocked by the webhook network policy")
    if status_code is not None and 400 <= status_code < 500 and status_code not in (408, 429):
        return AttemptVerdict(False, False, f"the receiver answered {status_code}; not retried")
    what = f"the receiver answered {status_code}" if status_code is not None else "no answer"
    if attempt >= max_attempts:
        return AttemptVerdict(False, False, f"{what}; {max_attempts} attempts made")
    return AttemptVerdict(False, True, what)


MAX_URL_CHARS = 2_048


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook's address (None: it can): http or https, a host, no credentials in it (they would
    be shown to every reader of the subscription), no fragment, no spaces or control characters."""
    if len(url) > MAX_URL_CHARS:
        return f"longer than {MAX_URL_CHARS} characters"
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in url):
        return "contains spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError as error:
        return f"not a URL ({error})"
    if parts.scheme.lower() not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "names no host"
    if "@" in parts.netloc:
        return "must not carry credentials (user:password@); sign with the subscription's secret instead"
    if parts.fragment:
        return "must not have a #fragment"
    return None


def webhook_policy(settings: Settings) -> NetworkPolicy:
    """Where webhooks may be sent: the runs' policy (public addresses only; the API, Redis, PostgreSQL, the S3 endpoint
    and the metrics port never) with WEBHOOK_ALLOWED_HOSTS and WEBHOOK_ALLOWED_NETWORKS instead of the browser's."""
    return replace(NetworkPolicy.from_settings(settings), allowed_hosts=tuple(settings.webhook_allowed_hosts),
                   allowed_networks=tuple(ipaddress.ip_network(text, strict=False)
                                          for text in settings.webhook_allowed_networks))


def webhook_contract() -> dict[str, list[str]]:
    """For the dashboard (GET /api/contract)."""
    return {"webhookEvents": [event.value for event in SUBSCRIBABLE_EVENTS],
            "webhookFormats": [kind.value for kind in WebhookFormat],
            "webhookDeliveryStatuses": [status.value for status in DeliveryStatus]}
