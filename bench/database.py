"""Each benchmark's own database on the machine's Postgres, made afresh and migrated before it measures."""

from __future__ import annotations

import asyncpg

from storage import migrate

SERVER = "postgresql://postgres@127.0.0.1:5432"


def database_url(name: str) -> str:
    return f"{SERVER}/{name}"


async def fresh_database(name: str) -> str:
    """Drop and create the database `name`, apply the migrations; its URL."""
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = database_url(name)
    await migrate(url)
    return url
