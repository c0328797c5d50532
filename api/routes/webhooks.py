"""Webhooks (docs/webhooks.md): subscriptions to run and suite-run events, their delivery log, redelivery and a test
ping. Every route needs an admin key, reading too: a subscription's URL receives every run's result and may itself be
a credential (a Slack incoming webhook's URL is); the signing secret is shown once, in the answer to the creation, and
masked after."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from api.auth import actor, needs
from api.deps import WebhookServiceDep
from api.params import Limit, Offset
from api.responses import errors
from api.schemas import DeliveryPage, DeliveryPublic, WebhookCreate, WebhookPage, WebhookPublic, WebhookUpdate
from api.views import delivery_public, webhook_public, webhook_url
from contract.access import Scope

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])


@router.post("", status_code=201, response_model=WebhookPublic, dependencies=needs(Scope.ADMIN))
async def create_webhook(body: WebhookCreate, webhooks: WebhookServiceDep, request: Request,
                         response: Response) -> WebhookPublic:
    """Subscribe a URL to events; the answer holds the signing secret in full, once. A URL that is not http(s), or that
    the webhook network policy refuses, or a suite or recording that does not exist, is a 422 naming the field."""
    subscription = await webhooks.create(body, created_by=actor(request))
    response.headers["Location"] = webhook_url(request, subscription.id)
    return webhook_public(subscription, request, reveal_secret=True)


@router.get("", response_model=WebhookPage, dependencies=needs(Scope.ADMIN))
async def list_webhooks(webhooks: WebhookServiceDep, request: Request, limit: Limit = 50,
                        offset: Offset = 0) -> WebhookPage:
    """This queue's subscriptions, newest first, each with its last delivery's status."""
    page, total = await webhooks.page(limit=limit, offset=offset)
    return WebhookPage(items=[webhook_public(item, request) for item in page], total=total, limit=limit,
                       offset=offset)


@router.get("/{webhook_id}", response_model=WebhookPublic, dependencies=needs(Scope.ADMIN), responses=errors(404))
async def get_webhook(webhook_id: UUID, webhooks: WebhookServiceDep, request: Request) -> WebhookPublic:
    return webhook_public(await webhooks.get(webhook_id), request)


@router.patch("/{webhook_id}", response_model=WebhookPublic, dependencies=needs(Scope.ADMIN), responses=errors(404))
async def update_webhook(webhook_id: UUID, body: WebhookUpdate, webhooks: WebhookServiceDep,
                         request: Request) -> WebhookPublic:
    """Change its name, URL, events, format, or turn it off and on (`active`); an inactive one gets no new
    deliveries."""
    return webhook_public(await webhooks.update(webhook_id, body), request)


@router.delete("/{webhook_id}", status_code=204, dependencies=needs(Scope.ADMIN), responses=errors(404))
async def delete_webhook(webhook_id: UUID, webhooks: WebhookServiceDep) -> Response:
    """Its deliveries and their log go with it."""
    await webhooks.delete(webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage, dependencies=needs(Scope.ADMIN),
            responses=errors(404))
async def list_deliveries(webhook_id: UUID, webhooks: WebhookServiceDep, limit: Limit = 50,
                          offset: Offset = 0) -> DeliveryPage:
    """Its deliveries, newest first, each with every attempt (time, status code, latency, error)."""
    page, total = await webhooks.deliveries(webhook_id, limit=limit, offset=offset)
    return DeliveryPage(items=[delivery_public(delivery, attempts) for delivery, attempts in page], total=total,
                        limit=limit, offset=offset)


@router.post("/{webhook_id}/test", status_code=202, response_model=DeliveryPublic, dependencies=needs(Scope.ADMIN),
             responses=errors(404))
async def test_webhook(webhook_id: UUID, webhooks: WebhookServiceDep) -> DeliveryPublic:
    """Send it a `ping` event now (a delivery like any other, in its log)."""
    return delivery_public(await webhooks.ping(webhook_id))


@router.post("/deliveries/{delivery_id}/redeliver", status_code=202, response_model=DeliveryPublic,
             dependencies=needs(Scope.ADMIN), responses=errors(404))
async def redeliver(delivery_id: UUID, webhooks: WebhookServiceDep) -> DeliveryPublic:
    """Send the delivery's event again, as a new delivery (`redeliveryOf` links back) whose payload is built anew."""
    return delivery_public(await webhooks.redeliver(delivery_id))
