"""The asyncpg pool: JSON columns decoded, built only by entry points and passed down."""

from __future__ import annotations

import json

import asyncpg


async def _init_connection(connection: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _keep_session(connection: asyncpg.Connection) -> None:
    """On release, nothing beyond asyncpg's own clean-up (an open transaction rolled back, listeners dropped).

    asyncpg's default sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;` on every release:
    a round trip per request, a tenth of the API's CPU under load (BENCHMARKS.md). Pooled connections never take
    session state: no SET, no LISTEN (api.events has its own connection), no session advisory lock (migrations
    take a transaction lock), no cursor outside a transaction."""


async def create_pool(database_url: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        database_url, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=30,
        timeout=10,  # connecting; asyncpg waits 60 s by default, too long while Postgres restarts
        reset=_keep_session,
    )
    assert pool is not None
    return pool
