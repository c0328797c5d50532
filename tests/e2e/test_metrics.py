"""Metrics with real processes: the API's `/metrics` watches a real worker take and finish a run (the queue
gauge drains, the run counters count it, and a second API process reports the same), and a worker started with
METRICS_PORT serves its own `/metrics` and `/healthz` until it stops; a port already taken stops it at start."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract.settings import Settings

from flows import log_events, numbered_slow_script, post_run, quick_script, wait_until_running
from ports import free_port
from scrapes import global_samples, samples_of, scrape, value
from services import REPO_ROOT, WorkerProcess, api_process, wait_for, wait_for_final, wait_for_workers, worker_env


@pytest.fixture
def second_api(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """A second API: `reprise api` as its own process on the same database, Redis and queue; its base URL."""
    with api_process(settings, tmp_path / "api.log") as url:
        yield url


async def test_a_run_a_worker_takes_and_finishes_drains_the_queue_gauge_and_counts_the_same_in_two_apis(
    api_client: httpx.AsyncClient, second_api: str, settings: Settings, site_url: str,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    queue = settings.queue_name
    run_id = await post_run(api_client, {"script": quick_script(site_url, "metrics"), "video": "off"})
    queued = await scrape(api_client)
    assert value(queued, "bullmq_queue_waiting", queue=queue) == 1
    assert value(queued, "reprise_runs_finished_total", queue=queue, status="passed", category="none") == 0
    assert value(queued, "reprise_run_duration_seconds_count", queue=queue) == 0

    start_worker("worker-1")

    async def drained() -> list[Any] | None:
        samples = await scrape(api_client)
        return samples if value(samples, "bullmq_queue_waiting", queue=queue) == 0 else None

    await wait_for(drained, timeout=60, what="bullmq_queue_waiting to reach 0")
    run = await wait_for_final(api_client, run_id, timeout=90)
    assert run["status"] == "passed", run

    samples = await scrape(api_client)
    assert value(samples, "reprise_runs_finished_total", queue=queue, status="passed", category="none") == 1
    assert value(samples, "reprise_run_duration_seconds_count", queue=queue) == 1
    assert value(samples, "reprise_run_duration_seconds_sum", queue=queue) == pytest.approx(run["durationMs"] / 1000)
    assert value(samples, "reprise_run_duration_seconds_bucket", queue=queue, le="+Inf") == 1
    assert value(samples, "bullmq_queue_completed", queue=queue) == 1
    assert value(samples, "reprise_workers_live", queue=queue, state="running") == 1
    assert (value(samples, "reprise_http_request_duration_seconds_count", method="GET", route="/api/runs/{run_id}",
                  status_class="2xx") or 0) >= 1

    async with httpx.AsyncClient(base_url=second_api) as other:
        async def other_up() -> bool:
            try:
                return (await other.get("/api/health")).status_code == 200
            except httpx.TransportError:
                return False

        await wait_for(other_up, timeout=60, what="the second API process to serve")
        assert global_samples(await scrape(other)) == global_samples(await scrape(api_client))
        # Its HTTP latency is its own: it never served a run by id.
        assert value(await scrape(other), "reprise_http_request_duration_seconds_count", method="GET",
                     route="/api/runs/{run_id}", status_class="2xx") is None


async def test_a_worker_with_metrics_port_serves_metrics_and_healthz_until_it_stops(
    api_client: httpx.AsyncClient, settings: Settings, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    port = free_port()
    worker = start_worker("worker-m", METRICS_PORT=str(port), WORKER_CONCURRENCY="2",
                          WORKER_SHUTDOWN_GRACE_SECONDS="60")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        async def healthz(code: int) -> httpx.Response | None:
            try:
                response = await client.get("/healthz")
            except httpx.TransportError:
                return None
            return response if response.status_code == code else None

        async def worker_samples() -> list[Any]:
            response = await client.get("/metrics")
            assert response.status_code == 200
            return samples_of(response.text)

        health = await wait_for(lambda: healthz(200), timeout=60, what="the worker's /healthz")
        assert health.headers["content-type"] == "application/json"
        assert health.json() == {"status": "ok", "worker": "worker-m", "queue": settings.queue_name,
                                 "state": "running", "chromium": "ok", "activeRuns": 0}
        await wait_for_workers(api_client, {"worker-m"})
        samples = await worker_samples()
        assert value(samples, "reprise_worker_info", worker="worker-m", queue=settings.queue_name,
                     concurrency="2") == 1
        assert value(samples, "reprise_worker_active_runs") == 0
        assert (value(samples, "reprise_worker_chromium_launches_total") or 0) >= 1
        assert (value(samples, "reprise_worker_resident_memory_bytes", process="worker") or 0) > 0
        assert (value(samples, "reprise_worker_resident_memory_bytes", process="browser") or 0) > 0

        quick = await post_run(api_client, {"script": quick_script(site_url, "counted"), "video": "off"})
        assert (await wait_for_final(api_client, quick, timeout=90))["status"] == "passed"

        async def counted() -> list[Any] | None:
            samples = await worker_samples()
            return samples if value(samples, "reprise_worker_runs_finished_total", status="passed") == 1 else None

        samples = await wait_for(counted, timeout=10, what="the worker to count its passed run")
        assert value(samples, "reprise_worker_runs_finished_total", status="failed") == 0

        slow = await post_run(api_client, {"script": numbered_slow_script(site_url, 4), "video": "off"})
        await wait_until_running(api_client, [slow])

        async def replaying() -> bool:
            return value(await worker_samples(), "reprise_worker_active_runs") == 1

        await wait_for(replaying, timeout=30, what="reprise_worker_active_runs to be 1")

        worker.process.send_signal(signal.SIGTERM)  # the slow run finishes within the grace; meanwhile:
        health = await wait_for(lambda: healthz(503), timeout=30, what="/healthz 503 while stopping")
        assert health.json()["state"] == "stopping" and health.json()["activeRuns"] == 1

    assert await asyncio.to_thread(worker.process.wait, 90) == 0, worker.log()[-3000:]
    assert (await wait_for_final(api_client, slow, timeout=30))["status"] == "passed"
    assert any(event.get("message") == "metrics server listening" and event.get("port") == port
               for event in log_events(worker))


def test_a_worker_whose_metrics_port_is_taken_exits_2_naming_it(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        completed = subprocess.run([sys.executable, "-m", "reprise.cli", "worker"], cwd=REPO_ROOT, timeout=120,
                                   env=worker_env(settings, "port-taken", METRICS_PORT=str(port)),
                                   capture_output=True, text=True)
    assert completed.returncode == 2, completed.stdout[-2000:] + completed.stderr[-2000:]
    output = completed.stdout + completed.stderr
    assert "metrics port unavailable; not serving" in output and f"port {port} (METRICS_PORT)" in output
    assert "Traceback" not in output
