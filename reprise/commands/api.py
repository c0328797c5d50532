"""`reprise api`: serve the HTTP API with uvicorn."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import uvicorn

from contract.settings import Settings
from reprise.logs import configure_logging
from storage import migrate

GRACEFUL_SHUTDOWN_S = 3
EXIT_INVALID_SETTINGS = 2  # as reprise.cli's (which imports this module: not imported from there)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("api", help="serve the HTTP API")
    parser.add_argument("--host", help="overrides API_HOST")
    parser.add_argument("--port", type=int, help="overrides API_PORT")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from api import create_app

    overrides: dict[str, Any] = {}
    if args.host:
        overrides["api_host"] = args.host
    if args.port is not None:
        overrides["api_port"] = args.port
    settings = Settings(**overrides)  # the flags go through the same validation as the environment
    if settings.auth == "none" and not settings.listens_on_loopback:
        print(f"reprise api: AUTH=none is allowed only on loopback (127.0.0.1, ::1, localhost), not on "
              f"{settings.api_host}: use API keys (README \"Security\")", file=sys.stderr)
        return EXIT_INVALID_SETTINGS
    configure_logging(settings.log_level, settings.log_format)
    # Before serving: a missing database or a failed migration ends the command with one line
    # (cli.main), not with a traceback from uvicorn's lifespan.
    asyncio.run(migrate(settings.database_url))
    app = create_app(settings)
    # Open dashboards hold event streams that never end by themselves: stop waiting for them after a while.
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_level=settings.log_level.lower(),
                access_log=settings.log_level == "DEBUG", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    return 0
