"""Webhook deliveries, sent by every worker: the side task `webhooks` pumps the outbox and consumes the webhooks queue.

The pump (`webhook_loop`): the outbox triggers (migration 0016) NOTIFY `reprise_webhooks` when they insert
deliveries; on that, and every POLL_S anyway, the worker claims the deliveries whose job is not added yet (FOR UPDATE
SKIP LOCKED: two workers never claim one) and adds their jobs on `<queue>-webhooks` (jobs/webhooks.py). A delivery
whose job was added AGAIN_AFTER_S ago and is not final is claimed and added again: a no-op while its job exists, and
the way back for one whose job was lost (a crash between the claim and the add, Redis restarted without its data).

The sender (`WebhookSender.process`, one job = one attempt): the delivery's attempt is started in Postgres (a final
or deleted delivery is skipped), the payload built from Postgres now (contract/webhook_payloads.py), signed, and
POSTed to the subscription's URL, which must pass the webhook network policy (`contract.webhooks.webhook_policy`:
the host is resolved once, every address checked, and the connection made to a checked address, the name kept for
the Host header and TLS), within SEND_TIMEOUT_S, without following redirects. The attempt is recorded (status code,
latency, error, the answer's first KiB) and `judge_attempt` decides: delivered; retried (the job fails and BullMQ's
backoff brings it back); or failed for good (UnrecoverableError).
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import asyncpg
import httpx
import structlog
from bullmq import Job
from bullmq.custom_errors import UnrecoverableError

from contract.network import DEFAULT_PORTS, IPAddress, NetworkPolicy, parse_address
from contract.settings import Settings
from contract.webhook_payloads import event_payload, slack_message
from contract.webhooks import (
    RESPONSE_EXCERPT_CHARS,
    DeliveryStatus,
    WebhookEvent,
    WebhookFormat,
    judge_attempt,
    signature_headers,
    webhook_policy,
)
from jobs.queue import consumer_options, visible_worker
from jobs.webhooks import WebhookQueue, WebhookRetry
from storage import AttemptResult, Sending, WebhookRepository
from storage.webhooks import NOTIFY_CHANNEL
from worker.egress import Resolver, resolve_protected, system_resolver

log = structlog.get_logger(__name__)

SEND_TIMEOUT_S = 10.0
RESOLVE_TIMEOUT_S = 10.0
POLL_S = 5.0  # the outbox is read this often without a NOTIFY
AGAIN_AFTER_S = 60.0  # a delivery not final this long after its job was added has its job added again
CONCURRENCY = 4
CLOSE_TIMEOUT_S = 10.0


class Blocked(Exception):
    """The URL's host is, or resolved to, an address the webhook policy refuses."""


class DeliveryFailed(Exception):
    """An attempt that did not deliver and may be retried (BullMQ's backoff brings the job back)."""


def _excerpt(data: bytes) -> str:
    return data[:RESPONSE_EXCERPT_CHARS].decode("utf-8", errors="replace")


class WebhookSender:
    """The webhooks queue's processor: one attempt of one delivery per job."""

    def __init__(self, deliveries: WebhookRepository, policy: NetworkPolicy, *, base_url: str, retry: WebhookRetry,
                 resolver: Resolver = system_resolver, timeout_s: float = SEND_TIMEOUT_S) -> None:
        self.deliveries = deliveries
        self.policy = policy
        self.base_url = base_url
        self.retry = retry
        self._resolver = resolver
        self._timeout_s = timeout_s

    async def process(self, job: Job, token: str) -> dict[str, Any]:
        delivery_id = UUID(str(job.data["deliveryId"]))
        structlog.contextvars.bind_contextvars(deliveryId=str(delivery_id))
        try:
            # BullMQ's count of this job's attempts, which may run ahead of the delivery's (an attempt that failed
            # before it could be recorded): the last one BullMQ gives must settle the delivery.
            return await self.attempt(delivery_id, job_attempt=int(job.attemptsMade or 0) + 1)
        finally:
            structlog.contextvars.unbind_contextvars("deliveryId")

    async def attempt(self, delivery_id: UUID, *, job_attempt: int = 1) -> dict[str, Any]:
        """One attempt; returns the job's result when it ends the delivery, raises DeliveryFailed to be retried
        or UnrecoverableError when it failed for good."""
        sending = await self.deliveries.start_attempt(delivery_id)
        if sending is None:
            return {"skipped": "the delivery is final already or gone"}
        body = await self.body(sending)
        if body is None:  # its run or suite run was deleted since (retention)
            result = AttemptResult(datetime.now(UTC), None, None, "what it reports was deleted", None)
            await self.deliveries.finish_attempt(sending, result, DeliveryStatus.FAILED)
            raise UnrecoverableError(result.error)
        result, blocked = await self.send(sending, body)
        verdict = judge_attempt(result.status_code, attempt=max(sending.attempts, job_attempt),
                                max_attempts=self.retry.max_attempts, blocked=blocked)
        log_fields = {"event": sending.event.value, "attempt": sending.attempts, "statusCode": result.status_code,
                      "latencyMs": result.latency_ms}
        if verdict.delivered:
            await self.deliveries.finish_attempt(sending, result, DeliveryStatus.DELIVERED)
            log.info("webhook delivered", **log_fields)
            return {"delivered": True, "statusCode": result.status_code, "attempt": sending.attempts}
        error = result.error or verdict.reason
        if verdict.retry:
            next_at = datetime.now(UTC) + timedelta(milliseconds=self.retry.delay_ms(sending.attempts))
            await self.deliveries.finish_attempt(sending, result, DeliveryStatus.PENDING, next_attempt_at=next_at,
                                                 reason=error)
            log.info("webhook attempt failed; retried", error=error, **log_fields)
            raise DeliveryFailed(error or "not delivered")
        await self.deliveries.finish_attempt(sending, result, DeliveryStatus.FAILED, reason=verdict.reason)
        log.warning("webhook delivery failed", error=error, reason=verdict.reason, **log_fields)
        raise UnrecoverableError(verdict.reason or "not delivered")

    async def body(self, sending: Sending) -> bytes | None:
        """The request body, built now from Postgres; None when its run or suite run is gone."""
        occurred_at = sending.created_at
        run = suite_run = None
        subscription = None
        if sending.run_id is not None:
            run = await self.deliveries.run_facts(sending.run_id)
            if run is None:
                return None
            occurred_at = run.finished_at or occurred_at
        elif sending.suite_run_id is not None:
            suite_run = await self.deliveries.suite_run_facts(sending.suite_run_id)
            if suite_run is None:
                return None
            occurred_at = suite_run.finished_at or occurred_at
        elif sending.event == WebhookEvent.PING:
            subscription = (sending.subscription_id, sending.subscription_name)
        payload = event_payload(sending.event, sending.id, occurred_at, self.base_url, run=run, suite_run=suite_run,
                                subscription=subscription)
        if sending.format == WebhookFormat.SLACK:
            payload = slack_message(payload)
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()

    async def send(self, sending: Sending, body: bytes) -> tuple[AttemptResult, bool]:
        """POST `body` signed; (the attempt, whether the policy blocked it)."""
        started_at = datetime.now(UTC)
        headers = signature_headers(sending.secret, event=sending.event.value, delivery_id=str(sending.id),
                                    timestamp=int(time.time()), body=body)
        try:
            url, extensions, host_header = await self.pinned(sending.url)
        except Blocked as error:
            return AttemptResult(started_at, None, None, str(error), None), True
        except (OSError, TimeoutError) as error:
            return AttemptResult(started_at, None, None, f"could not resolve the host: {error!r}", None), False
        headers["Host"] = host_header
        began = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=False, trust_env=False) as client:
                request = client.build_request("POST", url, content=body, headers=headers, extensions=extensions)
                response = await client.send(request, stream=True)
                latency_ms = int((time.monotonic() - began) * 1000)
                try:
                    excerpt = b""
                    async for chunk in response.aiter_bytes():
                        excerpt += chunk
                        if len(excerpt) >= RESPONSE_EXCERPT_CHARS:
                            break
                finally:
                    await response.aclose()
        except httpx.HTTPError as error:
            latency_ms = int((time.monotonic() - began) * 1000)
            return AttemptResult(started_at, None, latency_ms, f"{type(error).__name__}: {error}".strip(": "),
                                 None), False
        return AttemptResult(started_at, response.status_code, latency_ms, None, _excerpt(excerpt)), False

    async def pinned(self, url: str) -> tuple[str, dict[str, Any], str]:
        """The URL with its host replaced by a checked address (the name kept for Host and TLS), the request's
        extensions, and the Host header. Blocked when any address of the host is refused."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        scheme = parts.scheme.lower()
        port = parts.port or DEFAULT_PORTS[scheme]
        literal = parse_address(host)
        addresses: list[IPAddress] = [literal] if literal is not None else list(
            await asyncio.wait_for(self._resolver(host, port), RESOLVE_TIMEOUT_S))
        if not addresses:
            raise OSError(f"{host} resolved to no address")
        for address in addresses:
            verdict = self.policy.check(host, address, port)
            if not verdict.allowed:
                raise Blocked(f"{host}:{port} is blocked ({address}: {verdict.reason}); "
                              "see WEBHOOK_ALLOWED_HOSTS and WEBHOOK_ALLOWED_NETWORKS")
        target = addresses[0]
        literal_host = f"[{target}]" if target.version == 6 else str(target)
        netloc = f"{literal_host}:{port}"
        host_header = parts.netloc.rsplit("@", 1)[-1]
        extensions: dict[str, Any] = {"sni_hostname": host} if scheme == "https" and literal is None else {}
        return urlunsplit((scheme, netloc, parts.path or "/", parts.query, "")), extensions, host_header


class OutboxPump:
    """Claims the deliveries whose job must be added, and adds them."""

    def __init__(self, deliveries: WebhookRepository, queue: WebhookQueue) -> None:
        self.deliveries = deliveries
        self.queue = queue

    async def pump(self) -> int:
        """One pass; how many jobs were added (or added again)."""
        added = 0
        while True:
            ids = await self.deliveries.claim_outbox(again_after_s=AGAIN_AFTER_S)
            # Claimed but not added (Redis refused): added again AGAIN_AFTER_S later.
            await self.queue.enqueue(ids)
            added += len(ids)
            if len(ids) < 100:
                return added


async def _listen(database_url: str, queue_name: str, wake: asyncio.Event) -> asyncpg.Connection:
    connection = await asyncpg.connect(database_url, timeout=10)

    def notified(_connection: object, _pid: int, _channel: str, payload: object) -> None:
        if payload == queue_name:
            wake.set()

    await connection.add_listener(NOTIFY_CHANNEL, notified)
    return connection


async def webhook_loop(settings: Settings, pool: asyncpg.Pool) -> None:
    """Side task: pump the outbox (on NOTIFY, and every POLL_S) and consume the webhooks queue, until cancelled (or
    the consumer dies, which ends the task and so the worker)."""
    retry = WebhookRetry(settings.webhook_max_attempts, settings.webhook_backoff_ms)
    deliveries = WebhookRepository(pool, queue=settings.queue_name)
    policy = await resolve_protected(webhook_policy(settings))
    sender = WebhookSender(deliveries, policy, base_url=settings.api_base_url, retry=retry)
    queue = WebhookQueue(settings.queue_name, settings.redis_url, retry)
    pump = OutboxPump(deliveries, queue)
    consumer = visible_worker(queue.name, sender.process, consumer_options(settings, concurrency=CONCURRENCY))
    consumer.on("error", lambda error, *_: log.warning("webhooks consumer error", error=str(error)))
    consuming = asyncio.create_task(consumer.run(), name="webhooks-consumer")
    wake = asyncio.Event()
    listener: asyncpg.Connection | None = None
    try:
        while not consuming.done():
            if listener is None or listener.is_closed():
                try:
                    listener = await _listen(settings.database_url, settings.queue_name, wake)
                except Exception as error:  # Postgres away: the poll (which fails too, and says so) goes on
                    log.warning("webhook outbox listener unavailable; polling", error=repr(error))
                    listener = None
            wake.clear()
            try:
                await pump.pump()
            except Exception as error:
                log.warning("webhook outbox pump failed; trying again", error=repr(error), retryInS=POLL_S)
            waking = asyncio.create_task(wake.wait())
            await asyncio.wait({consuming, waking}, timeout=POLL_S, return_when=asyncio.FIRST_COMPLETED)
            waking.cancel()
        consuming.result()
        raise RuntimeError("the webhooks consumer stopped by itself")
    finally:
        with suppress(Exception):
            await asyncio.wait_for(consumer.close(force=True), CLOSE_TIMEOUT_S)
        consuming.cancel()
        await asyncio.gather(consuming, return_exceptions=True)
        with suppress(Exception):
            await queue.close()
        if listener is not None:
            with suppress(Exception):
                await listener.close()
