"""API keys, dashboard sessions and one-time login links in Postgres (migration 0009).

A key is `rk_<id>_<secret>`: the id finds the row, the SHA-256 of the whole key must match its `hash`. Only hashes
are stored, for keys, sessions and login tokens alike: a database dump holds nothing that logs in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Self

import asyncpg

from contract.access import Scope
from storage.errors import KeyNameTaken, KeyNotFound
from storage.queries import load_queries
from storage.records import _FromRow

KEY_PREFIX = "rk_"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_id_of(key: str) -> str | None:
    """The id part of `rk_<id>_<secret>`, or None for anything else."""
    if not key.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = key[len(KEY_PREFIX):].partition("_")
    if not sep or not key_id or not secret or len(key) > 200:
        return None
    return key_id


@dataclass(frozen=True)
class KeyRecord(_FromRow):
    id: str
    name: str
    scope: Scope
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", Scope(self.scope))


@dataclass(frozen=True)
class NewKey:
    """A key just made: `secret` is the whole key, shown once and never stored."""

    record: KeyRecord
    secret: str


@dataclass(frozen=True)
class SessionRecord:
    key_id: str
    name: str
    scope: Scope
    csrf_token: str

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Self:
        return cls(key_id=row["id"], name=row["name"], scope=Scope(row["scope"]), csrf_token=row["csrf_token"])


@dataclass(frozen=True)
class NewSession:
    """A session just opened: `secret` goes in the cookie, `csrf_token` in the X-Reprise-CSRF header."""

    secret: str
    key: KeyRecord | SessionRecord
    csrf_token: str


class KeyRepository:
    """Keys are shared by every queue of a database."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._sql = load_queries()

    async def create(self, name: str, scope: Scope) -> NewKey:
        key_id = secrets.token_hex(6)
        secret = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        try:
            row = await self._pool.fetchrow(self._sql["insert_api_key"], key_id, name, scope.value, digest(secret))
        except asyncpg.UniqueViolationError as error:
            raise KeyNameTaken(f"a key named {name!r} exists already (revoke it first)") from error
        assert row is not None  # INSERT ... RETURNING
        return NewKey(record=KeyRecord.from_row(row), secret=secret)

    async def verify(self, key: str) -> KeyRecord | None:
        """The key's record when it is live and matches (its use noted), else None."""
        key_id = key_id_of(key)
        if key_id is None:
            return None
        row = await self._pool.fetchrow(self._sql["use_api_key"], key_id, digest(key))
        return KeyRecord.from_row(row) if row is not None else None

    async def list(self) -> list[KeyRecord]:
        return [KeyRecord.from_row(row) for row in await self._pool.fetch(self._sql["list_api_keys"])]

    async def revoke(self, id_or_name: str) -> KeyRecord:
        row = await self._pool.fetchrow(self._sql["revoke_api_key"], id_or_name)
        if row is None:
            raise KeyNotFound(f"no live key with id or name {id_or_name!r}")
        return KeyRecord.from_row(row)

    async def login_token(self, key_id: str, *, ttl_s: float) -> str:
        """A one-time token that opens a dashboard session for the key (`GET /login?token=...`)."""
        token = secrets.token_urlsafe(32)
        await self._pool.execute(self._sql["insert_login_token"], digest(token), key_id, ttl_s)
        return token

    async def use_login_token(self, token: str) -> KeyRecord | None:
        """The token's key, once: the token is gone afterwards. None when unknown, expired or its key revoked."""
        row = await self._pool.fetchrow(self._sql["use_login_token"], digest(token))
        if row is None or not row["valid"]:
            return None
        return await self._live(row["id"])

    async def _live(self, key_id: str) -> KeyRecord | None:
        row = await self._pool.fetchrow(self._sql["get_live_api_key"], key_id)
        return KeyRecord.from_row(row) if row is not None else None

    async def open_session(self, key: KeyRecord, *, ttl_s: float) -> NewSession:
        secret = secrets.token_urlsafe(32)
        csrf_token = secrets.token_urlsafe(24)
        await self._pool.execute(self._sql["insert_session"], digest(secret), key.id, csrf_token, ttl_s)
        return NewSession(secret=secret, key=key, csrf_token=csrf_token)

    async def session(self, secret: str) -> SessionRecord | None:
        if not secret or len(secret) > 200:
            return None
        row = await self._pool.fetchrow(self._sql["get_session"], digest(secret))
        return SessionRecord.from_row(row) if row is not None else None

    async def close_session(self, secret: str) -> None:
        """Ends the session (and clears expired ones)."""
        await self._pool.execute(self._sql["delete_session"], digest(secret))
