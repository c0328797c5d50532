"""`reprise dev`: a whole local Reprise from one command.

Brings up PostgreSQL and Redis (the configured ones, or embedded ones: see `reprise.embedded`), creates
the database, runs `reprise migrate`, then supervises `reprise api` and N `reprise worker`s (see
`reprise.supervisor`):

- every output line of a child is prefixed with its name (`[api] `, `[worker-1] `, ...);
- Ctrl-C, SIGTERM or SIGHUP stops the children: SIGTERM, a grace period, then SIGKILL for the
  stragglers (a second Ctrl-C skips the grace period); embedded services stop last; exit code 0;
- a worker that exits on its own is reported with its exit code and started again after a backoff
  (1 s, doubling up to 30 s; 1 s again once it has stayed up 60 s);
- if the API exits on its own, it is reported with its exit code, the workers are stopped, exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

from contract.settings import Settings
from reprise.dev_login import prepare_login
from reprise.embedded import (
    DEFAULT_STATE_DIR,
    EmbeddedServiceError,
    ServiceUrls,
    ensure_database,
    provide_services,
)
from reprise.logs import configure_logging
from reprise.supervisor import (
    DEFAULT_STOP_TIMEOUT_S,
    ChildSpec,
    DevOutput,
    ShutdownRequest,
    Supervisor,
    describe_exit,
    handle_signals,
    run_to_completion,
)

log = structlog.get_logger(__name__)

ServicesProvider = Callable[[Settings, Path], contextlib.AbstractAsyncContextManager[ServiceUrls]]


@dataclass(frozen=True)
class DevOptions:
    host: str
    port: int
    workers: int
    state_dir: Path


SpecBuilder = Callable[[DevOptions, Mapping[str, str]], list[ChildSpec]]

# `reprise dev` tests local apps: loopback is opened for the runs' browser (and said so at startup).
DEV_ALLOWED_NETWORKS = "127.0.0.0/8,::1/128"


def reprise_command(*args: str) -> tuple[str, ...]:
    """`reprise <args>` run by this interpreter, so it works without the console script on PATH."""
    return (sys.executable, "-m", "reprise.cli", *args)


def base_url(host: str, port: int) -> str:
    """The URL to reach a server bound to `host`: wildcard binds are reached through loopback."""
    reach = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{reach}]:{port}" if ":" in reach else f"http://{reach}:{port}"


def child_environment(
    settings: Settings, services: ServiceUrls, options: DevOptions, environ: Mapping[str, str]
) -> dict[str, str]:
    """The environment shared by every child: ours, plus the services and API address to use."""
    env = dict(environ)
    env.pop("WORKER_NAME", None)
    env.update(
        DATABASE_URL=services.database_url,
        REDIS_URL=services.redis_url,
        API_HOST=options.host,
        API_PORT=str(options.port),
        # Children write to a pipe, where Python would otherwise buffer output for seconds.
        PYTHONUNBUFFERED="1",
        # Readable logs in the terminal unless the user chose a format (in the environment or .env).
        LOG_FORMAT=settings.log_format if "log_format" in settings.model_fields_set else "console",
    )
    if "browser_allowed_networks" not in settings.model_fields_set:
        # A local app under test is on loopback; the API, Postgres and Redis ports stay blocked regardless.
        env["BROWSER_ALLOWED_NETWORKS"] = DEV_ALLOWED_NETWORKS
    return env


def network_line(env: Mapping[str, str]) -> str:
    """What the runs' browser may reach, said at startup (docs/network-policy.md)."""
    allowed = env.get("BROWSER_ALLOWED_NETWORKS", "").strip() or "no internal network"
    return (f"Runs may reach public addresses and {allowed} (BROWSER_ALLOWED_NETWORKS), never the API's, "
            "PostgreSQL's or Redis's ports")


def build_child_specs(options: DevOptions, env: Mapping[str, str]) -> list[ChildSpec]:
    """The API, whose exit ends `reprise dev`, and the workers, restarted when they exit. With METRICS_PORT set,
    worker N serves its metrics on METRICS_PORT + N - 1 (one port each on this host)."""
    specs = [ChildSpec("api", reprise_command("api"), env)]
    metrics_port = env.get("METRICS_PORT", "").strip()
    for index in range(1, options.workers + 1):
        name = f"worker-{index}"
        worker_env = {**env, "WORKER_NAME": name}
        if metrics_port.isdigit():
            worker_env["METRICS_PORT"] = str(int(metrics_port) + index - 1)
        specs.append(ChildSpec(name, reprise_command("worker"), worker_env, restart=True))
    return specs


async def run_dev(
    settings: Settings,
    options: DevOptions,
    output: DevOutput,
    *,
    provide: ServicesProvider = provide_services,
    build_specs: SpecBuilder = build_child_specs,
    environ: Mapping[str, str] = os.environ,
    stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S,
) -> int:
    shutdown = ShutdownRequest()
    with handle_signals(shutdown):
        try:
            async with provide(settings, options.state_dir) as services:
                return await _run_with_services(
                    settings, options, output, services, shutdown, build_specs, environ, stop_timeout_s
                )
        except (EmbeddedServiceError, asyncpg.PostgresError, OSError) as exc:
            log.error("dev.failed", error=str(exc), error_type=type(exc).__name__)
            return 1


async def _run_with_services(
    settings: Settings,
    options: DevOptions,
    output: DevOutput,
    services: ServiceUrls,
    shutdown: ShutdownRequest,
    build_specs: SpecBuilder,
    environ: Mapping[str, str],
    stop_timeout_s: float,
) -> int:
    if shutdown.requested.is_set():
        return 0
    await ensure_database(services.database_url)
    env = child_environment(settings, services, options, environ)
    migrate = ChildSpec("migrate", reprise_command("migrate"), env)
    migrated = await run_to_completion(migrate, output, shutdown, stop_timeout_s=stop_timeout_s)
    if migrated is None:
        return 0
    if migrated != 0:
        output.say(f"migrations failed ({describe_exit(migrated)})")
        return 1
    url = base_url(options.host, options.port)
    ready_lines = [f"Reprise is running at {url}", f"Dashboard and API docs: {url}/docs", network_line(env)]
    if env.get("AUTH", settings.auth) != "none":
        login = await prepare_login(services.database_url, options.state_dir)
        made = "made on this first start" if login.created else "kept from an earlier start"
        ready_lines += [f"Admin API key ({made}): in {login.key_path} (send it as `Authorization: Bearer <key>`)",
                        f"Log in to the dashboard (one-time link, 15 min): {url}{login.login_path}"]
    supervisor = Supervisor(build_specs(options, env), output, stop_timeout_s=stop_timeout_s)
    return await supervisor.run(shutdown, health_url=f"{url}/api/health", ready_lines=ready_lines)


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


def _port(value: str) -> int:
    number = int(value)
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError("must be between 1 and 65535")
    return number


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="run the API and workers locally, starting PostgreSQL and Redis if needed",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--workers", type=_count, default=2, help="number of workers (default: 2)")
    parser.add_argument("--host", default=None, help="API host (default: API_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=None, help="API port (default: API_PORT, 8000)")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="where embedded PostgreSQL and Redis keep their data (default: .reprise)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging(
        settings.log_level, settings.log_format if "log_format" in settings.model_fields_set else "console"
    )
    # httpx logs every request at INFO; the health poll would print one line every quarter second.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    port = args.port if args.port is not None else settings.api_port
    if port == 0:
        log.error("dev.port_required", hint="reprise dev needs a fixed API port: set --port or API_PORT")
        return 2
    options = DevOptions(host=args.host or settings.api_host, port=port, workers=args.workers, state_dir=args.state_dir)
    return asyncio.run(run_dev(settings, options, DevOutput(sys.stdout)))
