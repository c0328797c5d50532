"""Retries, stalls and orphans with real workers: which failures are retried, that every attempt is kept,
and that runs whose job died or vanished still reach a final status."""

from __future__ import annotations

import signal
import socket
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from bullmq import Queue
from redis.asyncio import Redis

from contract.settings import Settings
from jobs.queue import bullmq_connection

from flows import FAST_STALLS, log_events, numbered_slow_script, post_run, quick_script, wait_until_running
from services import WorkerProcess, wait_for, wait_for_final, wait_for_workers

FAST_SWEEP = {"WORKER_SWEEP_INTERVAL_SECONDS": "1", "WORKER_ORPHAN_GRACE_SECONDS": "1"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"job_backoff_ms": 200})


async def test_a_failed_test_is_not_retried_unless_the_run_asks_and_every_attempt_is_kept(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})
    failing = {"version": 1, "name": "always fails", "steps": [
        {"action": "navigate", "url": f"{site_url}/index.html"},
        {"action": "assertText", "selector": "h1", "text": "not the heading", "timeoutMs": 300},
    ]}
    once = await post_run(api_client, {"script": failing, "video": "off"})
    flaky = await post_run(api_client, {"script": failing, "video": "off", "retries": 2})

    once_run = await wait_for_final(api_client, once, timeout=60)
    flaky_run = await wait_for_final(api_client, flaky, timeout=90)

    assert once_run["status"] == "failed" and once_run["attempts"] == 1
    assert flaky_run["status"] == "failed" and flaky_run["attempts"] == 3
    assert [(a["status"], a["category"]) for a in flaky_run["attemptHistory"]] == [("failed", "assertion_failed")] * 3
    for attempt in (1, 2, 3):
        steps = (await api_client.get(f"/api/runs/{flaky}/attempts/{attempt}/steps")).json()
        assert [step["status"] for step in steps] == ["passed", "failed"]
    # A test result is not a dead job.
    assert (await api_client.get("/api/dead-letter")).json()["total"] == 0


async def test_a_network_error_is_retried_up_to_job_max_attempts(
    api_client: httpx.AsyncClient, start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = {"version": 1, "name": "nothing listens there", "steps": [
        {"action": "navigate", "url": f"http://127.0.0.1:{port}/"},
    ]}
    run_id = await post_run(api_client, {"script": unreachable, "video": "off"})

    run = await wait_for_final(api_client, run_id, timeout=90)

    assert run["status"] == "failed" and run["errorCategory"] == "navigation_error"
    # Through the worker's egress proxy (docs/network-policy.md) Chromium sees an empty response; the proxy's
    # reason is appended.
    assert "net::ERR_EMPTY_RESPONSE" in run["error"] and f"cannot connect to 127.0.0.1:{port}" in run["error"]
    assert [attempt["status"] for attempt in run["attemptHistory"]] == ["error", "error", "failed"]


async def test_a_run_that_stalls_more_than_max_stalled_count_ends_error_stalled(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    no_second_chance = {**FAST_STALLS, **FAST_SWEEP, "WORKER_MAX_STALLED_COUNT": "0"}
    victim = start_worker("worker-1", **no_second_chance)
    await wait_for_workers(api_client, {"worker-1"})
    run_id = await post_run(api_client, {"script": numbered_slow_script(site_url, 20), "video": "off"})
    await wait_until_running(api_client, [run_id])
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(timeout=10)
    start_worker("worker-2", **no_second_chance)

    run = await wait_for_final(api_client, run_id, timeout=60)

    assert run["status"] == "error" and run["errorCategory"] == "stalled", run
    assert "stalled" in run["error"]
    assert [attempt["status"] for attempt in run["attemptHistory"]] == ["abandoned"]
    dead = (await api_client.get("/api/dead-letter")).json()
    assert [job["runId"] for job in dead["jobs"]] == [run_id]


async def test_a_run_whose_job_vanished_is_queued_again_by_the_sweep(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess], settings: Settings,
) -> None:
    run_id = await post_run(api_client, {"script": quick_script(site_url, "lost in a flush"), "video": "off"})
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    try:  # what FLUSHDB (or a Redis restart without persistence) does to this queue
        keys = [key async for key in redis.scan_iter(match=f"bull:{settings.queue_name}:*")]
        assert f"bull:{settings.queue_name}:{run_id}" in keys
        await redis.delete(*keys)
    finally:
        await redis.aclose()
    worker = start_worker("worker-1", **FAST_SWEEP)

    run = await wait_for_final(api_client, run_id, timeout=60)

    assert run["status"] == "passed" and run["attempts"] == 1, run
    swept = [event for event in log_events(worker) if event.get("message") == "orphaned run queued again"]
    assert [event["runId"] for event in swept] == [run_id]


async def test_a_run_left_running_by_a_lost_job_and_worker_is_requeued(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess], settings: Settings,
) -> None:
    victim = start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})
    run_id = await post_run(api_client, {"script": numbered_slow_script(site_url, 20), "video": "off"})
    await wait_until_running(api_client, [run_id])
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(timeout=10)
    # What a Redis restart without persistence does: every key of the queue is gone, BullMQ's and ours. (Deleting
    # only BullMQ's left the victim's sweep lock, held for 0.9 x its 60 s sweep interval, so the survivor's
    # first sweep came ~55 s late and the run ended ~76 s in, against a 90 s deadline: a test that failed
    # whenever the machine was slow.)
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        keys = [key async for key in redis.scan_iter(match=f"*:{settings.queue_name}:*")]
        await redis.delete(*keys)
    finally:
        await redis.aclose()

    async def heartbeat_expired() -> bool:
        return (await api_client.get("/api/health/detailed")).json()["workers"] == []

    await wait_for(heartbeat_expired, timeout=30, what="the killed worker's heartbeat to expire")
    start_worker("worker-2", **FAST_SWEEP)
    run: dict[str, Any] = await wait_for_final(api_client, run_id, timeout=90)

    assert run["status"] == "passed", run
    assert [(a["worker"], a["status"]) for a in run["attemptHistory"]] == [("worker-1", "abandoned"),
                                                                          ("worker-2", "passed")]


async def test_a_run_over_its_timeout_is_aborted_failed_timeout_and_not_retried(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})
    run_id = await post_run(api_client, {"script": numbered_slow_script(site_url, 30), "timeoutMs": 2000,
                                         "video": "off"})

    run = await wait_for_final(api_client, run_id, timeout=60)

    assert run["status"] == "failed" and run["errorCategory"] == "timeout", run
    assert "the run exceeded its timeout of 2000 ms" in run["error"]
    assert run["attempts"] == 1 and run["durationMs"] < 30_000


async def test_a_job_that_names_no_valid_run_fails_at_once_without_retries(
    api_client: httpx.AsyncClient, start_worker: Callable[..., WorkerProcess], settings: Settings,
) -> None:
    # What another producer (Node's bullmq, a script) might add by mistake.
    queue = Queue(settings.queue_name, {"connection": bullmq_connection(settings.redis_url)})
    try:
        await queue.add("run", {"runId": "not-a-uuid"}, {"jobId": "stray-1", "attempts": 3})
        await queue.add("run", {"runId": str(uuid.uuid4())}, {"jobId": "stray-2", "attempts": 3})
        start_worker("worker-1")

        async def both_dead() -> dict[str, Any] | None:
            dead: dict[str, Any] = (await api_client.get("/api/dead-letter")).json()
            return dead if dead["total"] == 2 else None

        dead = await wait_for(both_dead, timeout=60, what="both stray jobs in the dead-letter list")
    finally:
        await queue.close()
    by_id = {job["jobId"]: job for job in dead["jobs"]}
    assert by_id["stray-1"]["attemptsMade"] == 1 and "runId: not a run id" in by_id["stray-1"]["failedReason"]
    assert by_id["stray-2"]["attemptsMade"] == 1 and "not found" in by_id["stray-2"]["failedReason"]
