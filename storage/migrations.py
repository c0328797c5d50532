"""Numbered `.sql` migrations, applied in order in one transaction under an advisory lock.

Several processes (the API and every worker) may start at once; the transaction-level advisory lock makes
all but one wait, and they then find nothing left to apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from urllib.parse import unquote, urlsplit

import asyncpg
import structlog

from storage.errors import DatabaseMissing, MigrationError

log = structlog.get_logger(__name__)

# Any constant shared by every Reprise process; hashtext keeps it readable.
_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('reprise.migrations'))"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    migrations = []
    for entry in resources.files("storage").joinpath("migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file name {entry.name!r} is not NNNN_name.sql")
        migrations.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    migrations.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {versions}")
    return migrations


async def apply_migrations(connection: asyncpg.Connection) -> list[int]:
    """Apply what is missing; return the versions applied now."""
    applied_now: list[int] = []
    async with connection.transaction():
        await connection.execute(_LOCK_SQL)
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row["version"] for row in await connection.fetch("SELECT version FROM schema_migrations")}
        for migration in load_migrations():
            if migration.version in done:
                continue
            try:
                await connection.execute(migration.sql)
            except asyncpg.PostgresError as error:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} failed: {error}"
                ) from error
            await connection.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
            applied_now.append(migration.version)
            log.info("migration applied", version=migration.version, name=migration.name)
    return applied_now


async def migrate(database_url: str) -> list[int]:
    """Apply what is missing to the database at `database_url`; DatabaseMissing when there is none."""
    try:
        connection = await asyncpg.connect(database_url)
    except asyncpg.InvalidCatalogNameError as error:
        parts = urlsplit(database_url)
        raise DatabaseMissing(unquote(parts.path.lstrip("/")) or "(default)",
                              parts.hostname or "the local socket") from error
    try:
        return await apply_migrations(connection)
    finally:
        await connection.close()
