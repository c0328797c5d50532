"""`reprise migrate`: apply the database migrations to DATABASE_URL (and create the database first with
`--create-database`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from contract.settings import Settings
from reprise.embedded import database_name, ensure_database
from reprise.logs import configure_logging
from storage import DatabaseMissing, StorageError, migrate


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("migrate", help="apply database migrations")
    parser.add_argument("--database-url", help="overrides DATABASE_URL")
    parser.add_argument("--create-database", action="store_true",
                        help="create the database first when its server lacks it")
    parser.set_defaults(handler=handle)


async def _migrate(url: str, create: bool) -> list[int]:
    if create and await ensure_database(url):
        print(f'created database "{database_name(url)}"')
    return await migrate(url)


def handle(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    url = args.database_url or settings.database_url
    try:
        applied = asyncio.run(_migrate(url, args.create_database))
    except DatabaseMissing:
        raise  # cli.main says how to create it
    except (StorageError, OSError) as error:
        print(f"reprise migrate: {error}", file=sys.stderr)
        return 1
    print(f"applied {len(applied)} migration(s)" + (f": {applied}" if applied else ""))
    return 0
