"""A worker's `/metrics` and `/healthz` on METRICS_PORT, in-process on real sockets, Postgres, Redis and
Chromium: the server alone (answers, a port in use), and the runtime serving its own numbers, with `/healthz`
503 while its circuit is open (Chromium made to fail its relaunch by a wrapper script)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from contract.settings import Settings
from runner.replay import ChromiumLauncher
from worker.browser_health import BrowserSupervisor
from worker.lifecycle import StopSignal
from worker.main import ClaimControl, Connections, WorkerRuntime, open_connections
from worker.metrics import Health
from worker.metrics_server import MetricsPortUnavailable, MetricsServer

from ports import free_port
from scrapes import samples_of, value
from services import wait_for


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
async def server(port: int) -> AsyncIterator[tuple[MetricsServer, list[Health]]]:
    """A server whose health is whatever the test puts last in the list."""
    healths = [Health(200, {"status": "ok"})]
    server = MetricsServer(port, host="127.0.0.1", metrics=lambda accept: (f"up 1\n# {accept}\n".encode(),
                                                                           "text/plain; version=0.0.4"),
                           health=lambda: healths[-1])
    await server.start()
    serving = asyncio.create_task(server.serve())
    yield server, healths
    serving.cancel()
    await asyncio.gather(serving, return_exceptions=True)


async def raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


async def test_the_server_answers_metrics_and_health_and_nothing_else(
    server: tuple[MetricsServer, list[Health]], port: int,
) -> None:
    _, healths = server
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        metrics = await client.get("/metrics?x=1", headers={"Accept": "text/plain"})
        assert metrics.status_code == 200 and metrics.text.startswith("up 1\n# text/plain")
        assert metrics.headers["content-type"] == "text/plain; version=0.0.4"
        health = await client.get("/healthz")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        healths.append(Health(503, {"status": "unavailable", "state": "circuit_open"}))
        health = await client.get("/healthz")
        assert (health.status_code, health.json()["state"]) == (503, "circuit_open")
        assert (await client.get("/")).status_code == 404
        assert (await client.post("/metrics")).status_code == 405
        head = await client.head("/metrics")
        assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0
    assert await raw(port, b"nonsense\r\n\r\n") == b""  # not HTTP: closed without an answer
    assert await raw(port, b"") == b""
    assert (await raw(port, b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n")).startswith(b"HTTP/1.1 503 ")


async def test_a_port_in_use_is_a_clear_error_at_start(port: int) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", port))
        taken.listen()
        server = MetricsServer(port, metrics=lambda accept: (b"", "text/plain"), health=lambda: Health(200, {}))
        with pytest.raises(MetricsPortUnavailable, match=f"port {port} \\(METRICS_PORT\\)"):
            await server.start()


@pytest.fixture
def broken_chromium(tmp_path: Path, chromium_path: str) -> Iterator[tuple[Path, Path]]:
    """(a Chromium wrapper, the file whose presence makes it fail to launch)."""
    broken = tmp_path / "chromium-is-broken"
    wrapper = tmp_path / "chromium"
    wrapper.write_text(f'#!/bin/sh\nif [ -e "{broken}" ]; then echo "broken on purpose" >&2; exit 1; fi\n'
                       f'exec "{chromium_path}" "$@"\n')
    wrapper.chmod(0o755)
    yield wrapper, broken


@pytest.fixture
async def connections(settings: Settings) -> AsyncIterator[Connections]:
    async with open_connections(settings) as opened:
        yield opened


async def test_the_runtime_serves_its_numbers_and_is_unhealthy_while_its_circuit_is_open(
    settings: Settings, connections: Connections, broken_chromium: tuple[Path, Path], port: int, tmp_path: Path,
) -> None:
    wrapper, broken = broken_chromium
    claiming = ClaimControl()
    supervisor = BrowserSupervisor(ChromiumLauncher(str(wrapper)), failures_to_open=1, retry_s=0.2,
                                   on_open=claiming.pause, on_close=claiming.resume)
    await supervisor.start()
    settings = settings.model_copy(update={"metrics_port": port, "worker_concurrency": 2})
    stop = StopSignal()
    runtime = WorkerRuntime(settings, connections, supervisor, claiming, tmp_path / "work")
    serving = asyncio.create_task(runtime.serve(stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            async def healthz(code: int) -> httpx.Response | None:
                try:
                    response = await client.get("/healthz")
                except httpx.TransportError:
                    return None
                return response if response.status_code == code else None

            health = await wait_for(lambda: healthz(200), timeout=30, what="/healthz to answer 200")
            assert health.json() == {"status": "ok", "worker": settings.worker_name, "queue": settings.queue_name,
                                     "state": "running", "chromium": "ok", "activeRuns": 0}
            samples = samples_of((await client.get("/metrics")).text)
            assert value(samples, "reprise_worker_info", worker=settings.worker_name, queue=settings.queue_name,
                         concurrency="2") == 1
            assert value(samples, "reprise_worker_active_runs") == 0
            assert value(samples, "reprise_worker_concurrency") == 2
            assert value(samples, "reprise_worker_chromium_launches_total") == 1
            assert value(samples, "reprise_worker_chromium_crashes_total") == 0
            assert value(samples, "reprise_worker_chromium_state", state="ok") == 1
            assert value(samples, "reprise_worker_runs_finished_total", status="passed") == 0
            assert (value(samples, "reprise_worker_resident_memory_bytes", process="worker") or 0) > 0
            # Chromium and Playwright's driver are this (test) process's children here.
            assert (value(samples, "reprise_worker_resident_memory_bytes", process="browser") or 0) > 0
            assert (value(samples, "process_resident_memory_bytes") or 0) > 0

            broken.touch()
            live = await supervisor.browser(5)
            await live.close()  # a disconnect the supervisor did not ask for; its relaunch fails: circuit open
            health = await wait_for(lambda: healthz(503), timeout=30, what="/healthz to answer 503")
            assert health.json()["state"] == "circuit_open" and health.json()["status"] == "unavailable"
            samples = samples_of((await client.get("/metrics")).text)
            assert value(samples, "reprise_worker_chromium_state", state="circuit_open") == 1
            assert value(samples, "reprise_worker_chromium_state", state="ok") == 0
            assert value(samples, "reprise_worker_chromium_crashes_total") == 1
            assert (value(samples, "reprise_worker_chromium_consecutive_launch_failures") or 0) >= 1

            broken.unlink()
            health = await wait_for(lambda: healthz(200), timeout=30, what="/healthz to answer 200 again")
            assert health.json()["chromium"] == "ok"
            samples = samples_of((await client.get("/metrics")).text)
            assert value(samples, "reprise_worker_chromium_launches_total") == 2
    finally:
        stop.requested.set()
        assert await asyncio.wait_for(serving, 60) == 0
        await supervisor.close()
    with pytest.raises(httpx.ConnectError):  # the server went with the worker
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/healthz")
