"""`reprise dev`: a whole local Reprise from one command.

Brings up PostgreSQL and Redis (the configured ones, or embedded ones: see `reprise.embedded`), creates
the database, runs `reprise migrate`, then supervises `reprise api` and N `reprise worker`s:

- every output line of a child is prefixed with its name (`[api] `, `[worker-1] `, ...);
- Ctrl-C, SIGTERM or SIGHUP stops the children: SIGTERM, a grace period, then SIGKILL for the
  stragglers (a second Ctrl-C skips the grace period); embedded services stop last; exit code 0;
- a child that exits on its own is reported with its exit code, the others are stopped, exit code 1.

Children run in their own sessions, so a Ctrl-C in the terminal reaches only this supervisor, which
then stops them in order instead of every process racing to die at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import asyncpg
import httpx
import structlog

from contract.settings import Settings
from reprise.embedded import (
    DEFAULT_STATE_DIR,
    EmbeddedServiceError,
    ServiceUrls,
    ensure_database,
    provide_services,
)
from reprise.logs import configure_logging

log = structlog.get_logger(__name__)

DEFAULT_STOP_TIMEOUT_S = 30.0
# Child output is read in chunks; a line longer than MAX_LINE is passed on in pieces, so a child writing
# without newlines cannot grow the supervisor's memory.
READ_CHUNK = 64 * 1024
MAX_LINE = 1024 * 1024

ServicesProvider = Callable[[Settings, Path], contextlib.AbstractAsyncContextManager[ServiceUrls]]


@dataclass(frozen=True)
class ChildSpec:
    """One supervised child process: the name used as its output prefix, its argv and environment."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]


@dataclass(frozen=True)
class DevOptions:
    host: str
    port: int
    workers: int
    state_dir: Path


SpecBuilder = Callable[[DevOptions, Mapping[str, str]], list[ChildSpec]]


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
    return env


def build_child_specs(options: DevOptions, env: Mapping[str, str]) -> list[ChildSpec]:
    specs = [ChildSpec("api", reprise_command("api"), env)]
    for index in range(1, options.workers + 1):
        name = f"worker-{index}"
        specs.append(ChildSpec(name, reprise_command("worker"), {**env, "WORKER_NAME": name}))
    return specs


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class DevOutput:
    """The terminal output of `reprise dev`: children's prefixed lines and the supervisor's own."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def line(self, text: str) -> None:
        try:
            self._stream.write(text + "\n")
            self._stream.flush()
        except (BrokenPipeError, ValueError):
            # The terminal or pipe went away; keep draining children so they never block on writes.
            pass

    def say(self, text: str) -> None:
        self.line(f"[dev] {text}")


class ShutdownRequest:
    """Set by signal handlers: the first request stops gracefully, a second one forces a kill."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.forced = asyncio.Event()

    def request(self) -> None:
        if self.requested.is_set():
            self.forced.set()
        self.requested.set()


@contextlib.contextmanager
def handle_signals(
    shutdown: ShutdownRequest,
    signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP),
) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, shutdown.request)
    try:
        yield
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def pump_lines(reader: asyncio.StreamReader, emit: Callable[[str], None]) -> None:
    """Pass every line read from `reader` to `emit`, as it arrives."""
    pending = b""
    while chunk := await reader.read(READ_CHUNK):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            emit(line.decode(errors="replace").rstrip("\r"))
        if len(pending) > MAX_LINE:
            emit(pending.decode(errors="replace"))
            pending = b""
    if pending:
        emit(pending.decode(errors="replace").rstrip("\r"))


class Child:
    """A running child process whose merged stdout/stderr is copied, prefixed, to the output."""

    def __init__(self, spec: ChildSpec, process: asyncio.subprocess.Process, output: DevOutput) -> None:
        self.spec = spec
        self.process = process
        assert process.stdout is not None
        prefix = f"[{spec.name}] "
        self._pump = asyncio.create_task(
            pump_lines(process.stdout, lambda text: output.line(prefix + text)), name=f"output-{spec.name}"
        )

    @classmethod
    async def spawn(cls, spec: ChildSpec, output: DevOutput) -> Child:
        process = await asyncio.create_subprocess_exec(
            *spec.argv,
            env=dict(spec.env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        log.debug("child.started", child=spec.name, pid=process.pid)
        return cls(spec, process, output)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def wait(self) -> int:
        return await self.process.wait()

    def terminate(self) -> None:
        # Only the child itself: it stops its own children (a worker drains jobs, closes its browser).
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        # The whole process group, so a browser or other grandchild does not outlive a killed child.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    async def drain_output(self, timeout_s: float) -> None:
        """Wait for the last output; a grandchild holding the pipe open must not block the exit."""
        done, _ = await asyncio.wait({self._pump}, timeout=timeout_s)
        if not done:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump


async def stop_children(
    children: Sequence[Child], shutdown: ShutdownRequest, output: DevOutput, *, stop_timeout_s: float
) -> None:
    """SIGTERM every running child, wait up to `stop_timeout_s` (or a forced request), SIGKILL the rest."""
    running = [child for child in children if child.returncode is None]
    for child in running:
        child.terminate()
    if running:
        all_exited = asyncio.create_task(_wait_all(running), name="children-exit")
        forced = asyncio.create_task(shutdown.forced.wait(), name="forced-shutdown")
        await asyncio.wait({all_exited, forced}, timeout=stop_timeout_s, return_when=asyncio.FIRST_COMPLETED)
        forced.cancel()
        for child in running:
            if child.returncode is None:
                output.say(f"{child.name} did not stop in time; killing it")
                child.kill()
        await all_exited
    for child in children:
        await child.drain_output(timeout_s=5.0)


async def _wait_all(children: Sequence[Child]) -> None:
    await asyncio.gather(*(child.wait() for child in children))


async def wait_until_healthy(url: str, *, interval_s: float = 0.25, request_timeout_s: float = 2.0) -> None:
    """Return once `GET url` answers 200."""
    # trust_env=False: a proxy configured for the outside world must not intercept a loopback check.
    async with httpx.AsyncClient(timeout=request_timeout_s, trust_env=False) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(interval_s)


class Supervisor:
    """Runs children until a shutdown request (exit code 0) or the first unexpected exit (exit code 1)."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        output: DevOutput,
        *,
        stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S,
        slow_start_s: float = 60.0,
    ) -> None:
        self._specs = specs
        self._output = output
        self._stop_timeout_s = stop_timeout_s
        self._slow_start_s = slow_start_s
        self._children: list[Child] = []

    async def run(
        self, shutdown: ShutdownRequest, *, health_url: str | None = None, ready_lines: Sequence[str] = ()
    ) -> int:
        if shutdown.requested.is_set():
            return 0
        try:
            for spec in self._specs:
                try:
                    self._children.append(await Child.spawn(spec, self._output))
                except OSError as exc:
                    self._output.say(f"could not start {spec.name}: {exc}")
                    return 1
            return await self._watch(shutdown, health_url, ready_lines)
        finally:
            await stop_children(self._children, shutdown, self._output, stop_timeout_s=self._stop_timeout_s)

    async def _watch(self, shutdown: ShutdownRequest, health_url: str | None, ready_lines: Sequence[str]) -> int:
        exits = {asyncio.create_task(child.wait(), name=f"exit-{child.name}"): child for child in self._children}
        stop_wait = asyncio.create_task(shutdown.requested.wait(), name="shutdown-request")
        pending: set[asyncio.Task[object]] = {*exits, stop_wait}
        if health_url is not None:
            pending.add(asyncio.create_task(self._announce_when_healthy(health_url, ready_lines), name="health"))
        try:
            while True:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if stop_wait in done:
                    self._output.say("stopping (Ctrl-C again to kill now)")
                    return 0
                crashed = [child for task, child in exits.items() if task in done]
                for child in crashed:
                    self._output.say(
                        f"{child.name} exited unexpectedly ({describe_exit(child.process.returncode or 0)});"
                        " stopping the others"
                    )
                if crashed:
                    return 1
                for task in done:
                    task.result()  # the health watcher finished: re-raise if it failed
        finally:
            for task in pending:
                task.cancel()

    async def _announce_when_healthy(self, url: str, ready_lines: Sequence[str]) -> None:
        healthy = asyncio.create_task(wait_until_healthy(url), name="health-poll")
        try:
            done, _ = await asyncio.wait({healthy}, timeout=self._slow_start_s)
            if not done:
                self._output.say(f"still waiting for {url} to answer")
            await healthy
        finally:
            healthy.cancel()
        for text in ready_lines:
            self._output.line(text)


async def run_to_completion(
    spec: ChildSpec, output: DevOutput, shutdown: ShutdownRequest, *, stop_timeout_s: float
) -> int | None:
    """Run one child (such as `reprise migrate`) to its end; None if a shutdown request stopped it."""
    child = await Child.spawn(spec, output)
    exit_wait = asyncio.create_task(child.wait(), name=f"exit-{spec.name}")
    stop_wait = asyncio.create_task(shutdown.requested.wait(), name="shutdown-request")
    try:
        await asyncio.wait({exit_wait, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_wait.cancel()
    if not exit_wait.done():
        exit_wait.cancel()
        await stop_children([child], shutdown, output, stop_timeout_s=stop_timeout_s)
        return None
    await child.drain_output(timeout_s=5.0)
    return exit_wait.result()


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
    supervisor = Supervisor(build_specs(options, env), output, stop_timeout_s=stop_timeout_s)
    return await supervisor.run(
        shutdown,
        health_url=f"{url}/api/health",
        ready_lines=(f"Reprise is running at {url}", f"Dashboard and API docs: {url}/docs"),
    )


def supervise(
    specs: Sequence[ChildSpec],
    *,
    out: TextIO = sys.stdout,
    health_url: str | None = None,
    ready_lines: Sequence[str] = (),
    stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S,
) -> int:
    """Run `specs` under a Supervisor with signal handling, outside `reprise dev` (tests, scripts)."""

    async def main() -> int:
        shutdown = ShutdownRequest()
        with handle_signals(shutdown):
            supervisor = Supervisor(specs, DevOutput(out), stop_timeout_s=stop_timeout_s)
            return await supervisor.run(shutdown, health_url=health_url, ready_lines=ready_lines)

    return asyncio.run(main())


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
