"""`reprise worker`: run one worker process (BullMQ consumer + one Chromium)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from contract.settings import Settings
from reprise.logs import configure_logging


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("worker", help="run a worker that replays queued runs")
    parser.add_argument("--name", help="overrides WORKER_NAME")
    parser.add_argument("--concurrency", type=int, help="overrides WORKER_CONCURRENCY (1-10)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from worker.main import run_worker

    overrides: dict[str, Any] = {}
    if args.name:
        overrides["worker_name"] = args.name
    if args.concurrency is not None:
        overrides["worker_concurrency"] = args.concurrency
    settings = Settings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    return asyncio.run(run_worker(settings))
