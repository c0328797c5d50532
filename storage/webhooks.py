"""Webhook subscriptions and their deliveries in Postgres (migration 0016), one queue's each.

Deliveries are written by the database itself (the outbox triggers on runs and suite_runs), by a redelivery and by
a ping; the worker claims the ones whose job is not added yet (`claim_outbox`), starts an attempt (`start_attempt`,
which also says what to send where), records it and settles the delivery (`finish_attempt`). Payload facts are read
at send time (`run_facts`, `suite_run_facts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

from contract.webhook_payloads import FailingStep, RunFacts, SuiteRunFacts
from contract.webhooks import DeliveryStatus, WebhookEvent, WebhookFormat, WebhookScope
from storage.errors import DeliveryNotFound, ScopeTargetNotFound, WebhookNotFound
from storage.queries import load_queries
from storage.records import _FromRow

NOTIFY_CHANNEL = "reprise_webhooks"  # the outbox triggers' NOTIFY (payload: the queue)


@dataclass(frozen=True)
class SubscriptionRecord(_FromRow):
    id: UUID
    queue: str
    name: str
    url: str
    events: list[WebhookEvent]
    scope: WebhookScope
    suite_id: UUID | None
    recording_id: UUID | None
    format: WebhookFormat
    secret: str
    active: bool
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    last_delivery_status: DeliveryStatus | None = None
    last_delivery_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "format", WebhookFormat(self.format))
        object.__setattr__(self, "events", [WebhookEvent(event) for event in self.events])
        object.__setattr__(self, "scope", WebhookScope(self.scope))
        if self.last_delivery_status is not None:
            object.__setattr__(self, "last_delivery_status", DeliveryStatus(self.last_delivery_status))


@dataclass(frozen=True)
class NewSubscription:
    name: str
    url: str
    events: list[WebhookEvent]
    scope: WebhookScope
    suite_id: UUID | None
    recording_id: UUID | None
    format: WebhookFormat
    secret: str
    active: bool = True
    created_by: str | None = None


@dataclass(frozen=True)
class SubscriptionChange:
    """A subscription's changeable fields after a change (all of them, the unchanged ones as they were)."""

    name: str
    url: str
    events: list[WebhookEvent]
    format: WebhookFormat
    active: bool


@dataclass(frozen=True)
class DeliveryAttemptRecord(_FromRow):
    delivery_id: UUID
    attempt: int
    started_at: datetime
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response_excerpt: str | None


@dataclass(frozen=True)
class DeliveryRecord(_FromRow):
    id: UUID
    subscription_id: UUID
    queue: str
    event: WebhookEvent
    run_id: UUID | None
    suite_run_id: UUID | None
    status: DeliveryStatus
    attempts: int
    enqueued_at: datetime | None
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    redelivery_of: UUID | None
    created_at: datetime
    finished_at: datetime | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "event", WebhookEvent(self.event))
        object.__setattr__(self, "status", DeliveryStatus(self.status))


@dataclass(frozen=True)
class Sending:
    """One attempt of a delivery, started: what to send (event, run or suite run) and where (URL, format, secret)."""

    id: UUID
    event: WebhookEvent
    run_id: UUID | None
    suite_run_id: UUID | None
    attempts: int  # this attempt's number, from 1
    created_at: datetime
    subscription_id: UUID
    subscription_name: str
    url: str
    format: WebhookFormat
    secret: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "event", WebhookEvent(self.event))
        object.__setattr__(self, "format", WebhookFormat(self.format))


@dataclass(frozen=True)
class AttemptResult:
    started_at: datetime
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response_excerpt: str | None


def _run_facts(row: asyncpg.Record) -> RunFacts:
    step = None
    if row["step_index"] is not None:
        step = FailingStep(index=row["step_index"], type=row["step_type"], selector=row["step_selector"],
                           error=row["step_error"])
    return RunFacts(
        id=row["id"], number=row["number"], name=row["name"], status=row["status"], duration_ms=row["duration_ms"],
        error=row["error"], error_category=row["error_category"], recording_id=row["recording_id"],
        suite_run_id=row["suite_run_id"], worker_name=row["worker_name"], finished_at=row["finished_at"],
        failing_step=step,
        # A passed run has no failure screenshot (its screenshots, if any, are of steps that passed).
        screenshot_artifact_id=row["screenshot_artifact_id"] if row["status"] != "passed" else None,
        video_artifact_id=row["video_artifact_id"], flaky=row["flaky"], quarantined=row["quarantined"])


class WebhookRepository:
    """One queue's webhook subscriptions and deliveries."""

    def __init__(self, pool: asyncpg.Pool, *, queue: str) -> None:
        self._pool = pool
        self._sql = load_queries()
        self.queue = queue

    # --- subscriptions -------------------------------------------------------------------------------------------

    async def create(self, new: NewSubscription) -> SubscriptionRecord:
        """ScopeTargetNotFound when the scope names a suite or recording that does not exist."""
        try:
            subscription_id = await self._pool.fetchval(
                self._sql["insert_webhook_subscription"], self.queue, uuid4(), new.name, new.url,
                [event.value for event in new.events], new.scope.value, new.suite_id, new.recording_id,
                new.format.value, new.secret, new.active, new.created_by)
        except asyncpg.ForeignKeyViolationError as error:
            if "suite" in (error.constraint_name or ""):
                raise ScopeTargetNotFound("suite", f"no suite {new.suite_id}") from None
            raise ScopeTargetNotFound("recording", f"no saved recording {new.recording_id}") from None
        return await self.get(subscription_id)

    async def get(self, subscription_id: UUID) -> SubscriptionRecord:
        row = await self._pool.fetchrow(self._sql["get_webhook_subscription"], self.queue, subscription_id)
        if row is None:
            raise WebhookNotFound(f"webhook {subscription_id} not found")
        return SubscriptionRecord.from_row(row)

    async def list_page(self, *, limit: int, offset: int) -> tuple[list[SubscriptionRecord], int]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(self._sql["list_webhook_subscriptions"], self.queue, limit, offset)
            total = await connection.fetchval(self._sql["count_webhook_subscriptions"], self.queue)
        return [SubscriptionRecord.from_row(row) for row in rows], int(total)

    async def update(self, subscription_id: UUID, change: SubscriptionChange) -> SubscriptionRecord:
        updated = await self._pool.fetchval(
            self._sql["update_webhook_subscription"], self.queue, subscription_id, change.name, change.url,
            [event.value for event in change.events], change.format.value, change.active)
        if updated is None:
            raise WebhookNotFound(f"webhook {subscription_id} not found")
        return await self.get(subscription_id)

    async def delete(self, subscription_id: UUID) -> None:
        """Its deliveries go with it."""
        if await self._pool.fetchval(self._sql["delete_webhook_subscription"], self.queue, subscription_id) is None:
            raise WebhookNotFound(f"webhook {subscription_id} not found")

    # --- deliveries ----------------------------------------------------------------------------------------------

    async def deliveries(self, subscription_id: UUID, *, limit: int, offset: int
                         ) -> tuple[list[tuple[DeliveryRecord, list[DeliveryAttemptRecord]]], int]:
        """A subscription's deliveries, newest first, each with its attempts in order."""
        await self.get(subscription_id)
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(self._sql["list_webhook_deliveries"], self.queue, subscription_id, limit,
                                          offset)
            total = await connection.fetchval(self._sql["count_webhook_deliveries"], self.queue, subscription_id)
            deliveries = [DeliveryRecord.from_row(row) for row in rows]
            attempts = await connection.fetch(self._sql["list_webhook_attempts"], [d.id for d in deliveries])
        by_delivery: dict[UUID, list[DeliveryAttemptRecord]] = {}
        for row in attempts:
            by_delivery.setdefault(row["delivery_id"], []).append(DeliveryAttemptRecord.from_row(row))
        return [(delivery, by_delivery.get(delivery.id, [])) for delivery in deliveries], int(total)

    async def delivery(self, delivery_id: UUID) -> DeliveryRecord:
        row = await self._pool.fetchrow(self._sql["get_webhook_delivery"], self.queue, delivery_id)
        if row is None:
            raise DeliveryNotFound(f"delivery {delivery_id} not found")
        return DeliveryRecord.from_row(row)

    async def redeliver(self, delivery_id: UUID) -> DeliveryRecord:
        """A new delivery of the same event to the same subscription (`redelivery_of` links back)."""
        async with self._pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(self._sql["insert_webhook_redelivery"], self.queue, delivery_id)
            await connection.execute(self._sql["notify_webhook_outbox"], self.queue)
        if row is None:
            raise DeliveryNotFound(f"delivery {delivery_id} not found")
        return DeliveryRecord.from_row(row)

    async def ping(self, subscription_id: UUID) -> DeliveryRecord:
        async with self._pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(self._sql["insert_webhook_ping"], self.queue, subscription_id)
            await connection.execute(self._sql["notify_webhook_outbox"], self.queue)
        if row is None:
            raise WebhookNotFound(f"webhook {subscription_id} not found")
        return DeliveryRecord.from_row(row)

    async def claim_outbox(self, *, again_after_s: float, limit: int = 100) -> list[UUID]:
        """Deliveries whose job must be added (never added, or added `again_after_s` ago and still not final)."""
        rows = await self._pool.fetch(self._sql["claim_webhook_outbox"], self.queue, again_after_s, limit)
        return [row["id"] for row in rows]

    async def start_attempt(self, delivery_id: UUID) -> Sending | None:
        """None: the delivery is gone (its subscription deleted) or final already."""
        row = await self._pool.fetchrow(self._sql["start_webhook_attempt"], self.queue, delivery_id)
        return Sending(**dict(row)) if row is not None else None

    async def finish_attempt(self, sending: Sending, result: AttemptResult, status: DeliveryStatus, *,
                             next_attempt_at: datetime | None = None, reason: str | None = None) -> None:
        """Record the attempt and settle the delivery (delivered, failed, or pending until `next_attempt_at`);
        `reason`: why it was not delivered (the delivery's `last_error`; default the attempt's error)."""
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(self._sql["record_webhook_attempt"], sending.id, sending.attempts,
                                     result.started_at, result.status_code, result.latency_ms, result.error,
                                     result.response_excerpt)
            await connection.execute(self._sql["settle_webhook_delivery"], self.queue, sending.id, status.value,
                                     result.status_code, reason or result.error, next_attempt_at)

    # --- payload facts -------------------------------------------------------------------------------------------

    async def run_facts(self, run_id: UUID) -> RunFacts | None:
        row = await self._pool.fetchrow(self._sql["webhook_run_facts"], self.queue, run_id)
        return _run_facts(row) if row is not None else None

    async def suite_run_facts(self, suite_run_id: UUID) -> SuiteRunFacts | None:
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(self._sql["webhook_suite_run_facts"], self.queue, suite_run_id)
            if row is None:
                return None
            runs = await connection.fetch(self._sql["webhook_suite_run_children"], self.queue, suite_run_id)
        return SuiteRunFacts(**dict(row), runs=tuple(_run_facts(run) for run in runs))
