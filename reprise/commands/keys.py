"""`reprise keys create|list|revoke`: the API keys clients send as `Authorization: Bearer <key>`.

`create` prints the key once, alone on the last line (only its hash is stored); `list` never shows a secret;
`revoke` takes an id or a name, and the key stops working within seconds (api.auth caches a check for 2 s).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from contract.access import Scope
from contract.settings import Settings
from reprise.logs import configure_logging
from storage import KeyNameTaken, KeyNotFound, KeyRecord, KeyRepository, create_pool, migrate

EXIT_NOT_FOUND = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("keys", help="create, list and revoke API keys")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="make a key and print it once")
    create.add_argument("--name", required=True, help="who or what uses it (unique among live keys)")
    create.add_argument("--scope", required=True, choices=[scope.value for scope in Scope],
                        help="read: every GET; run: queue, cancel, retry runs and recordings; admin: everything")
    actions.add_parser("list", help="every key, without secrets")
    revoke = actions.add_parser("revoke", help="stop a key from working")
    revoke.add_argument("key", metavar="ID_OR_NAME")
    parser.set_defaults(handler=handle)


def _row(key: KeyRecord) -> str:
    def at(value: object) -> str:
        return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else "-"

    state = f"revoked {at(key.revoked_at)}" if key.revoked_at else "live"
    return f"{key.id:<14}{key.name:<24}{key.scope.value:<7}{at(key.created_at):<27}{at(key.last_used_at):<27}{state}"


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    await migrate(settings.database_url)
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        keys = KeyRepository(pool)
        if args.action == "create":
            new = await keys.create(args.name.strip(), Scope(args.scope))
            print(f"created key {new.record.id} {new.record.name!r} with scope {new.record.scope.value}; "
                  "it is shown once, here:")
            print(new.secret)
        elif args.action == "list":
            print(f"{'ID':<14}{'NAME':<24}{'SCOPE':<7}{'CREATED':<27}{'LAST USED':<27}STATE")
            for key in await keys.list():
                print(_row(key))
        else:
            revoked = await keys.revoke(args.key)
            print(f"revoked key {revoked.id} {revoked.name!r}")
    finally:
        await pool.close()
    return 0


def handle(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)  # to stderr: stdout holds the answer only
    if getattr(args, "name", None) is not None and not 1 <= len(args.name.strip()) <= 100:
        print("reprise keys: --name must be 1 to 100 characters", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(args, settings))
    except (KeyNotFound, KeyNameTaken) as error:
        print(f"reprise keys: {error}", file=sys.stderr)
        return EXIT_NOT_FOUND
