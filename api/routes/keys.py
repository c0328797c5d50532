"""API keys over HTTP, for admins (`reprise keys` does the same from a shell): list, create (the key is in the
answer once), revoke."""

from __future__ import annotations

from datetime import datetime

import structlog
from fastapi import APIRouter, Request, Response
from pydantic import Field

from api.auth import actor, authenticator, needs
from api.responses import errors
from contract.access import Scope
from contract.options import CamelModel
from storage import KeyRecord

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/keys", tags=["keys"], dependencies=needs(Scope.ADMIN))


class KeyPublic(CamelModel):
    id: str
    name: str
    scope: Scope
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreate(CamelModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")
    scope: Scope


class KeyCreated(KeyPublic):
    key: str = Field(description="The key itself: shown this once, only its hash is kept")


def _public(key: KeyRecord) -> KeyPublic:
    return KeyPublic(id=key.id, name=key.name, scope=key.scope, created_at=key.created_at,
                     last_used_at=key.last_used_at, revoked_at=key.revoked_at)


@router.get("", response_model=list[KeyPublic])
async def list_keys(request: Request) -> list[KeyPublic]:
    """Every key, revoked ones too, never a secret."""
    return [_public(key) for key in await authenticator(request).keys.list()]


@router.post("", status_code=201, response_model=KeyCreated, responses=errors(409))
async def create_key(body: KeyCreate, request: Request) -> KeyCreated:
    """A new key (409 when a live key has the name)."""
    new = await authenticator(request).keys.create(body.name, body.scope)
    log.info("api key created", keyId=new.record.id, name=new.record.name, scope=new.record.scope.value,
             by=actor(request))
    return KeyCreated(**_public(new.record).model_dump(), key=new.secret)


@router.delete("/{key_id}", status_code=204, responses=errors(404))
async def revoke_key(key_id: str, request: Request) -> Response:
    """Revoke a key by id or name (404 when no live key matches); it stops working within seconds."""
    revoked = await authenticator(request).keys.revoke(key_id)
    log.info("api key revoked", keyId=revoked.id, name=revoked.name, by=actor(request))
    return Response(status_code=204)
