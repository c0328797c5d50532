"""`reprise health`: is this container's process healthy? For the image's HEALTHCHECK and for scripts.

`REPRISE_ROLE` (or `--role`) says which process to ask about:
- `api`: `GET /api/health` on this host's API_PORT answers 200 (Postgres and Redis reachable);
- `worker`: this worker's heartbeat (WORKER_NAME, by default the host name) is in Redis, fresh, and its state
  is `running` (not `circuit_open`: Chromium cannot launch; not `stopping`).
Exit 0 healthy, 1 not (one line on stderr says why), 2 invalid settings.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import httpx
from redis.asyncio import Redis

from contract.settings import Settings
from jobs.registry import WorkerRegistry

TIMEOUT_S = 3.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("health", help="exit 0 when this host's API or worker is healthy")
    parser.add_argument("--role", choices=("api", "worker"), help="overrides REPRISE_ROLE")
    parser.set_defaults(handler=handle)


async def api_problem(settings: Settings) -> str | None:
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "") else settings.api_host
    url = f"http://{host}:{settings.api_port}/api/health"
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S, trust_env=False) as client:
            response = await client.get(url)
    except httpx.HTTPError as error:
        return f"the API at {url} did not answer: {type(error).__name__}: {error}"
    if response.status_code != 200:
        return f"the API at {url} answered {response.status_code}: {response.text[:200]}"
    return None


async def worker_problem(settings: Settings) -> str | None:
    redis = Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=TIMEOUT_S,
                           socket_connect_timeout=TIMEOUT_S)
    try:
        workers = await WorkerRegistry(redis, settings.queue_name).live_workers()
    except Exception as error:
        return f"cannot read the worker registry in Redis: {type(error).__name__}: {error}"
    finally:
        await redis.aclose()
    beat = next((worker for worker in workers if worker.get("name") == settings.worker_name), None)
    if beat is None:
        return f"no heartbeat from worker {settings.worker_name} on queue {settings.queue_name}"
    if beat.get("state") != "running":
        return f"worker {settings.worker_name} is {beat.get('state')}"
    return None


def handle(args: argparse.Namespace) -> int:
    settings = Settings()
    role = args.role or settings.role
    problem = asyncio.run(api_problem(settings) if role == "api" else worker_problem(settings))
    if problem is not None:
        print(f"reprise health: unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0
