"""Webhook subscriptions and their delivery log (docs/webhooks.md). The deliveries themselves are written by the
database's outbox triggers and sent by the workers (worker/webhooks.py); here a redelivery or a ping is one more
delivery row, and the workers are woken to send it.

A subscription's URL is checked at the edge against the webhook network policy as far as it can be without DNS (an
IP literal, `localhost`, the API's own address); a name is checked by the worker at each send, on what it resolves to.
"""

from __future__ import annotations

from uuid import UUID

import structlog

from api.errors import InvalidField
from api.schemas import WebhookCreate, WebhookUpdate
from contract.network import NetworkPolicy
from contract.webhooks import WebhookEvent, WebhookFormat, WebhookScope, new_secret
from storage import (
    DeliveryAttemptRecord,
    DeliveryRecord,
    NewSubscription,
    ScopeTargetNotFound,
    SubscriptionChange,
    SubscriptionRecord,
    WebhookRepository,
)

log = structlog.get_logger(__name__)


class WebhookService:
    def __init__(self, webhooks: WebhookRepository, policy: NetworkPolicy) -> None:
        self._webhooks = webhooks
        self._policy = policy

    def _check_url(self, url: str) -> None:
        problem = self._policy.check_url(url)
        if problem is not None:
            raise InvalidField("url", problem.replace("from a run", "from a webhook") +
                               " (WEBHOOK_ALLOWED_HOSTS and WEBHOOK_ALLOWED_NETWORKS open private addresses)")

    async def create(self, body: WebhookCreate, *, created_by: str | None = None) -> SubscriptionRecord:
        """The new subscription, its secret in full (shown once)."""
        if body.scope == "suite" and body.suite_id is None:
            raise InvalidField("suiteId", "scope suite needs the suite's id")
        if body.scope == "recording" and body.recording_id is None:
            raise InvalidField("recordingId", "scope recording needs the saved recording's id")
        self._check_url(body.url)
        try:
            subscription = await self._webhooks.create(NewSubscription(
                name=body.name, url=body.url, events=[WebhookEvent(event) for event in body.events],
                scope=WebhookScope(body.scope), suite_id=body.suite_id, recording_id=body.recording_id,
                format=WebhookFormat(body.format), secret=new_secret(), active=body.active, created_by=created_by))
        except ScopeTargetNotFound as error:
            raise InvalidField(f"{error.kind}Id", str(error)) from None
        log.info("webhook created", webhookId=str(subscription.id), name=subscription.name,
                 events=[event.value for event in subscription.events], scope=subscription.scope.value, by=created_by)
        return subscription

    async def get(self, webhook_id: UUID) -> SubscriptionRecord:
        return await self._webhooks.get(webhook_id)

    async def page(self, *, limit: int, offset: int) -> tuple[list[SubscriptionRecord], int]:
        return await self._webhooks.list_page(limit=limit, offset=offset)

    async def update(self, webhook_id: UUID, change: WebhookUpdate) -> SubscriptionRecord:
        current = await self._webhooks.get(webhook_id)
        if change.url is not None:
            self._check_url(change.url)
        return await self._webhooks.update(webhook_id, SubscriptionChange(
            name=change.name if change.name is not None else current.name,
            url=change.url if change.url is not None else current.url,
            events=[WebhookEvent(event) for event in change.events] if change.events is not None
            else list(current.events),
            format=WebhookFormat(change.format) if change.format is not None else current.format,
            active=change.active if change.active is not None else current.active))

    async def delete(self, webhook_id: UUID) -> None:
        await self._webhooks.delete(webhook_id)
        log.info("webhook deleted", webhookId=str(webhook_id))

    async def deliveries(self, webhook_id: UUID, *, limit: int, offset: int
                         ) -> tuple[list[tuple[DeliveryRecord, list[DeliveryAttemptRecord]]], int]:
        return await self._webhooks.deliveries(webhook_id, limit=limit, offset=offset)

    async def redeliver(self, delivery_id: UUID) -> DeliveryRecord:
        delivery = await self._webhooks.redeliver(delivery_id)
        log.info("webhook redelivery", deliveryId=str(delivery.id), redeliveryOf=str(delivery_id))
        return delivery

    async def ping(self, webhook_id: UUID) -> DeliveryRecord:
        return await self._webhooks.ping(webhook_id)
