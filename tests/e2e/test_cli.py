"""The `reprise` command line as a user meets it: one clear line instead of a traceback, exit codes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from services import ADMIN_DATABASE_URL, REPO_ROOT


def reprise(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reprise.cli", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)


@pytest.fixture
def missing_database_url() -> Iterator[str]:
    name = f"reprise_missing_{uuid.uuid4().hex[:10]}"
    yield f"{ADMIN_DATABASE_URL.rpartition('/')[0]}/{name}"

    async def drop() -> None:
        connection = await asyncpg.connect(ADMIN_DATABASE_URL)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())


@pytest.mark.parametrize("command", ["api", "worker", "migrate"])
def test_a_missing_database_is_one_line_naming_it_and_how_to_create_it(command: str,
                                                                       missing_database_url: str) -> None:
    completed = reprise(command, DATABASE_URL=missing_database_url, API_PORT="0")
    name = missing_database_url.rsplit("/", 1)[1]
    assert completed.returncode == 3, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert lines == [f'reprise {command}: database "{name}" does not exist on 127.0.0.1; create it with '
                     "`reprise migrate --create-database` (`reprise dev` creates it by itself)"], completed.stderr


def test_migrate_create_database_makes_a_missing_database(missing_database_url: str) -> None:
    completed = reprise("migrate", "--create-database", DATABASE_URL=missing_database_url, LOG_LEVEL="WARNING")
    name = missing_database_url.rsplit("/", 1)[1]
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[0] == f'created database "{name}"'
    assert "applied" in completed.stdout.splitlines()[1]
    again = reprise("migrate", "--create-database", DATABASE_URL=missing_database_url, LOG_LEVEL="WARNING")
    assert again.returncode == 0 and again.stdout.strip() == "applied 0 migration(s)"


@pytest.mark.parametrize(("args", "env", "named"), [
    (["--port", "70000"], {}, "api_port"),
    ([], {"API_PORT": "70000"}, "API_PORT"),
    (["--port", "-1"], {}, "api_port"),
])
def test_the_api_port_flag_is_validated_like_the_environment(args: list[str], env: dict[str, str],
                                                            named: str) -> None:
    completed = reprise("api", *args, **env)
    assert completed.returncode == 2
    assert completed.stderr.splitlines()[0] == "reprise api: invalid settings"
    assert named in completed.stderr.splitlines()[1]
