"""`reprise migrate`: apply the database migrations to DATABASE_URL."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from contract.settings import Settings
from reprise.logs import configure_logging
from storage import StorageError, migrate


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("migrate", help="apply database migrations")
    parser.add_argument("--database-url", help="overrides DATABASE_URL")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    url = args.database_url or settings.database_url
    try:
        applied = asyncio.run(migrate(url))
    except (StorageError, OSError) as error:
        print(f"reprise migrate: {error}", file=sys.stderr)
        return 1
    print(f"applied {len(applied)} migration(s)" + (f": {applied}" if applied else ""))
    return 0
