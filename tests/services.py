"""Fixtures on the real services: a migrated database per test (cloned from a template), a queue name per
test, the API in-process over ASGI, and worker processes started as real `reprise worker` subprocesses."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from bullmq import Queue
from redis.asyncio import Redis

from contract.access import Scope
from contract.runs import FINAL_RUN_STATUSES
from contract.settings import Settings
from jobs.queue import bullmq_connection
from storage import migrate

from ports import free_port

ADMIN_DATABASE_URL = os.environ.get("TEST_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REPO_ROOT = Path(__file__).resolve().parent.parent

T = TypeVar("T")


def _database_url(name: str) -> str:
    base, _, _ = ADMIN_DATABASE_URL.rpartition("/")
    return f"{base}/{name}"


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(ADMIN_DATABASE_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def template_database() -> Iterator[str]:
    """A migrated database that each test's database is cloned from (cheap, and migrations run once)."""
    name = f"reprise_tpl_{os.getpid()}"

    async def create() -> None:
        await _admin(f'DROP DATABASE IF EXISTS "{name}"')
        await _admin(f'CREATE DATABASE "{name}"')
        await migrate(_database_url(name))

    asyncio.run(create())
    yield name
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def database_url(template_database: str) -> AsyncIterator[str]:
    name = f"reprise_t_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield _database_url(name)
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def queue_name() -> AsyncIterator[str]:
    name = f"test-runs-{uuid.uuid4().hex[:10]}"
    yield name
    redis = Redis.from_url(TEST_REDIS_URL, decode_responses=True)
    try:
        keys = [key async for key in redis.scan_iter(match=f"*{name}*", count=500)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@pytest.fixture
def settings(database_url: str, queue_name: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=TEST_REDIS_URL,
        queue_name=queue_name,
        video_storage_path=tmp_path / "videos",
        screenshot_storage_path=tmp_path / "screenshots",
        artifact_storage_path=tmp_path / "files",
        work_dir=tmp_path / "work",
        worker_name="test-worker",
        heartbeat_interval_s=0.5,
        log_format="json",
        # The fixture site is served on loopback (tests/site_server.py); the API's, Redis's and Postgres's ports
        # stay blocked all the same (contract/network.py).
        browser_allowed_networks=("127.0.0.0/8", "::1/128"),
    )


async def make_key(app: Any, scope: Scope, name: str | None = None) -> str:
    """A new API key of `scope` in the app's database (the app's lifespan must be running)."""
    new = await app.state.auth.keys.create(name or f"test-{scope.value}-{uuid.uuid4().hex[:8]}", scope)
    secret: str = new.secret
    return secret


@asynccontextmanager
async def api_client_for(settings: Settings, scope: Scope | None = Scope.ADMIN) -> AsyncIterator[httpx.AsyncClient]:
    """The API in-process over ASGI, with its lifespan (migrations, connections) around the client. The client
    sends a new API key of `scope` (admin by default; None: no key). `client.app` is the app (for `make_key`)."""
    from api import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {}
        if scope is not None and settings.auth == "keys":
            headers["Authorization"] = f"Bearer {await make_key(app, scope)}"
        async with httpx.AsyncClient(transport=transport, base_url="http://reprise.test", headers=headers) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


@pytest.fixture
async def api_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client_for(settings) as client:
        yield client


async def wait_for(
    check: Callable[[], Awaitable[T | None]], *, timeout: float, interval: float = 0.1, what: str = "condition"
) -> T:
    """Poll `check` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


@dataclass
class WorkerProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as error:
            self.process.kill()
            self.process.wait(timeout=10)
            message = f"{self.name} did not exit within {timeout}s after {sig}:\n{self.log()[-4000:]}"
            raise AssertionError(message) from error


def worker_env(settings: Settings, name: str, **overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url,
            "QUEUE_NAME": settings.queue_name,
            "WORKER_NAME": name,
            "WORKER_CONCURRENCY": str(settings.worker_concurrency),
            "VIDEO_STORAGE_PATH": str(settings.video_storage_path),
            "SCREENSHOT_STORAGE_PATH": str(settings.screenshot_storage_path),
            "ARTIFACT_STORAGE_PATH": str(settings.artifact_storage_path),
            "WORKER_WORK_DIR": str(settings.work_dir),
            "WORKER_HEARTBEAT_INTERVAL": "0.5",
            "LOG_FORMAT": "json",
            # Workers ignore it; a `reprise api` started with this environment (on loopback) needs no key.
            "AUTH": "none",
            "BROWSER_ALLOWED_NETWORKS": ",".join(settings.browser_allowed_networks),
            "API_HOST": settings.api_host,
            "API_PORT": str(settings.api_port),
        }
    )
    env.update(overrides)
    return env


@pytest.fixture
def start_worker(settings: Settings, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real `reprise worker` processes; every one still alive at teardown gets SIGTERM."""
    started: list[WorkerProcess] = []

    def start(name: str, **env_overrides: str) -> WorkerProcess:
        log_path = tmp_path / f"{name}.log"
        log_file = log_path.open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "reprise.cli", "worker"],
            env=worker_env(settings, name, **env_overrides),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
        log_file.close()
        worker = WorkerProcess(name=name, process=process, log_path=log_path)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.stop(timeout=60)


async def wait_for_workers(client: httpx.AsyncClient, names: set[str], timeout: float = 30) -> list[dict[str, Any]]:
    async def live() -> list[dict[str, Any]] | None:
        response = await client.get("/api/health/detailed")
        workers: list[dict[str, Any]] = response.json().get("workers", [])
        return workers if names <= {worker["name"] for worker in workers} else None

    return await wait_for(live, timeout=timeout, what=f"workers {sorted(names)} in health/detailed")


async def wait_for_final(client: httpx.AsyncClient, run_id: str, timeout: float = 60) -> dict[str, Any]:
    async def final() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"/api/runs/{run_id}")).json()
        return body if body["status"] in FINAL_RUN_STATUSES else None

    return await wait_for(final, timeout=timeout, interval=0.2, what=f"run {run_id} to end")


@pytest.fixture
async def live_api(settings: Settings) -> AsyncIterator[str]:
    """The API served by uvicorn on a free port, for clients that need real HTTP (Chromium, event streams,
    which httpx's ASGI transport does not stream); yields its base URL. It runs with AUTH=none (on loopback):
    tests of authentication serve their own with `serve_api`."""
    async with serve_api(settings.model_copy(update={"auth": "none"})) as (url, _):
        yield url


@asynccontextmanager
async def serve_api(settings: Settings) -> AsyncIterator[tuple[str, Any]]:
    """The API served by uvicorn on a free loopback port: (base URL, app)."""
    import socket

    import uvicorn

    from api import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Links (run and artifact URLs) are built from the API's own address: this port.
    app = create_app(settings.model_copy(update={"api_port": port}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=2))
    serving = asyncio.create_task(server.serve())

    async def started() -> bool:
        return bool(server.started)

    await wait_for(started, timeout=30, what="uvicorn to start")
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 30)


async def job_counts(settings: Settings) -> dict[str, int]:
    """The BullMQ job counts of the test's queue, as Node's Queue.getJobCounts gives them, but for `waiting`: every
    job waiting to be taken, in BullMQ's wait list or its priority set (where each of Reprise's jobs waits)."""
    queue = Queue(settings.queue_name, {"connection": bullmq_connection(settings.redis_url)})
    try:
        counts = dict(await queue.getJobCounts("waiting", "prioritized", "active", "delayed", "completed", "failed"))
    finally:
        await queue.close()
    counts["waiting"] += counts.pop("prioritized")
    return counts


@contextmanager
def api_process(settings: Settings, log_path: Path, **env: str) -> Iterator[str]:
    """`reprise api` as its own process on the test's database, Redis and queue (`env` on top of `worker_env`);
    yields its base URL once `/api/health/live` answers, and stops it (SIGTERM, then SIGKILL) afterwards."""
    port = free_port()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "reprise.cli", "api", "--port", str(port)],
                                   env={**worker_env(settings, "unused"), **env}, stdout=log_file,
                                   stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/health/live", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "reprise api did not start"
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
