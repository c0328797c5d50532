"""Workers survive crashes, kills and poison runs, and lose nothing: real `reprise worker` processes,
Postgres, Redis and Chromium. Each worker carries a process tag so the test can find its Chromium."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from contract.runs import FINAL_RUN_STATUSES
from contract.settings import Settings

from flows import (
    FAST_STALLS,
    get_run,
    log_events,
    no_tagged_processes,
    numbered_slow_script,
    post_run,
    quick_script,
    wait_until_running,
)
from processes import TAG_VARIABLE, chromium_browsers, tagged_processes
from services import WorkerProcess, wait_for, wait_for_final, wait_for_workers


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The API enqueues with a short backoff, so retries happen within the tests' patience."""
    return settings.model_copy(update={"job_backoff_ms": 200})


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex


async def test_sigkill_mid_run_the_other_worker_completes_it(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess], tag: str,
) -> None:
    workers = {name: start_worker(name, **FAST_STALLS, **{TAG_VARIABLE: tag}) for name in ("worker-1", "worker-2")}
    await wait_for_workers(api_client, set(workers))
    run_id = await post_run(api_client, {"script": numbered_slow_script(site_url, 4), "video": "off"})
    [running] = await wait_until_running(api_client, [run_id])
    victim = workers[running["worker"]]
    survivor = next(worker for worker in workers.values() if worker is not victim)
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(timeout=10)

    run = await wait_for_final(api_client, run_id, timeout=90)

    assert run["status"] == "passed", run
    assert run["attempts"] == 2
    history = [(attempt["worker"], attempt["status"]) for attempt in run["attemptHistory"]]
    assert history == [(victim.name, "abandoned"), (survivor.name, "passed")]
    assert "stalled" in run["attemptHistory"][0]["error"]
    finished = [event for event in log_events(survivor) if event.get("message") == "run finished"]
    assert [(event["runId"], event["status"]) for event in finished] == [(run_id, "passed")]
    counts = (await api_client.get("/api/queue")).json()["counts"]
    assert (counts["completed"], counts["failed"], counts["active"]) == (1, 0, 0)


async def test_sigterm_with_three_active_runs_lets_them_finish_and_exits_0(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess], tag: str,
) -> None:
    worker = start_worker("worker-1", WORKER_CONCURRENCY="3", WORKER_SHUTDOWN_GRACE_SECONDS="60",
                          **{TAG_VARIABLE: tag})
    await wait_for_workers(api_client, {"worker-1"})
    run_ids = [await post_run(api_client, {"script": numbered_slow_script(site_url, 3), "video": "off"})
               for _ in range(3)]
    await wait_until_running(api_client, run_ids)

    exit_code = await asyncio.to_thread(worker.stop, signal.SIGTERM, 90)

    assert exit_code == 0, worker.log()[-3000:]
    runs = [await get_run(api_client, run_id) for run_id in run_ids]
    assert [(run["status"], run["attempts"]) for run in runs] == [("passed", 1)] * 3
    await no_tagged_processes(tag)


async def test_sigterm_after_the_grace_hands_active_runs_back_to_the_queue(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess], tag: str,
) -> None:
    worker = start_worker("worker-1", WORKER_CONCURRENCY="3", WORKER_SHUTDOWN_GRACE_SECONDS="1",
                          **{TAG_VARIABLE: tag})
    await wait_for_workers(api_client, {"worker-1"})
    run_ids = [await post_run(api_client, {"script": numbered_slow_script(site_url, 30), "video": "off"})
               for _ in range(3)]
    await wait_until_running(api_client, run_ids)

    exit_code = await asyncio.to_thread(worker.stop, signal.SIGTERM, 60)

    assert exit_code == 0, worker.log()[-3000:]
    runs = [await get_run(api_client, run_id) for run_id in run_ids]
    assert [run["status"] for run in runs] == ["queued"] * 3, runs
    for run in runs:
        assert [attempt["status"] for attempt in run["attemptHistory"]] == ["abandoned"]
        assert "went back to the queue" in run["attemptHistory"][0]["error"]
    counts = (await api_client.get("/api/queue")).json()["counts"]
    assert counts["active"] == 0 and counts["waiting"] + counts["delayed"] == 3 and counts["failed"] == 0
    await no_tagged_processes(tag)

    # Nothing was lost: the next worker claims all three again, as attempt 2.
    start_worker("worker-2", WORKER_CONCURRENCY="3", **{TAG_VARIABLE: tag})
    picked = await wait_until_running(api_client, run_ids, timeout=60)
    assert {run["worker"] for run in picked} == {"worker-2"}
    assert all(run["attempts"] == 2 for run in picked)


async def test_cancel_a_running_run_mid_step_stops_it_and_keeps_what_it_made(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    worker = start_worker("worker-1")
    await wait_for_workers(api_client, {"worker-1"})
    run_id = await post_run(api_client, {"script": numbered_slow_script(site_url, 30), "video": "on",
                                         "screenshots": "every-step"})

    async def waiting_step() -> bool:
        run = await get_run(api_client, run_id)
        return run["status"] == "running" and [step["index"] for step in run["steps"]] == [0]

    await wait_for(waiting_step, timeout=60, what="the run to be in its 30 s wait")
    cancelled = await api_client.post(f"/api/runs/{run_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    async def stopped() -> dict[str, Any] | None:
        run = await get_run(api_client, run_id)
        return run if run["attemptHistory"][0]["status"] == "cancelled" else None

    run = await wait_for(stopped, timeout=30, what="the worker to stop the run")
    events = log_events(worker)
    asked = next(event for event in events if event.get("message") == "cancelling run on request")
    done = next(event for event in events if event.get("message") == "run finished")
    # The worker's own clock: from the cancel message to the run written as cancelled.
    took = datetime.fromisoformat(done["timestamp"]) - datetime.fromisoformat(asked["timestamp"])
    assert took.total_seconds() < 2, took
    assert run["status"] == "cancelled" and done["status"] == "cancelled"
    steps = {step["index"]: step["status"] for step in run["steps"]}
    assert steps == {0: "passed", 1: "failed", 2: "skipped", 3: "skipped"}, run["steps"]
    kinds = [artifact["kind"] for artifact in run["artifacts"]]
    assert "video" in kinds and "screenshot" in kinds, kinds
    video = await api_client.get(next(a["url"] for a in run["artifacts"] if a["kind"] == "video"))
    assert video.status_code == 200 and len(video.content) > 0


async def test_killed_chromium_is_relaunched_and_the_run_retried(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess], tag: str,
) -> None:
    worker = start_worker("worker-1", **{TAG_VARIABLE: tag})
    await wait_for_workers(api_client, {"worker-1"})
    run_id = await post_run(api_client, {"script": numbered_slow_script(site_url, 3), "video": "off"})
    await wait_until_running(api_client, [run_id])
    [browser] = chromium_browsers(tag)
    os.kill(browser.pid, signal.SIGKILL)

    run = await wait_for_final(api_client, run_id, timeout=90)

    assert run["status"] == "passed", run
    history = [(attempt["status"], attempt["category"]) for attempt in run["attemptHistory"]]
    assert history == [("error", "browser_crashed"), ("passed", None)], run["attemptHistory"]

    async def relaunched() -> dict[str, Any] | None:
        [beat] = (await api_client.get("/api/health/detailed")).json()["workers"]
        return beat if beat["browser"]["launches"] == 2 else None

    beat = await wait_for(relaunched, timeout=10, what="the heartbeat to report the relaunch")
    assert beat["browser"]["crashes"] == 1 and beat["browser"]["state"] == "ok"
    browsers = chromium_browsers(tag)
    assert len(browsers) == 1 and browsers[0].pid != browser.pid

    async def no_zombies() -> bool:
        return not [proc for proc in tagged_processes(tag) if proc.state == "Z"]

    await wait_for(no_zombies, timeout=10, what="no zombie processes under the worker")
    assert worker.stop() == 0
    await no_tagged_processes(tag)


async def test_circuit_breaker_stops_claiming_while_chromium_cannot_launch(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess], tag: str,
    chromium_path: str, tmp_path: Path,
) -> None:
    broken = tmp_path / "chromium-is-broken"
    wrapper = tmp_path / "chromium"
    wrapper.write_text(f'#!/bin/sh\nif [ -e "{broken}" ]; then echo "broken on purpose" >&2; exit 1; fi\n'
                       f'exec "{chromium_path}" "$@"\n')
    wrapper.chmod(0o755)
    start_worker("worker-1", CHROMIUM_PATH=str(wrapper), BROWSER_CIRCUIT_FAILURES="2",
                 BROWSER_RETRY_SECONDS="1", **{TAG_VARIABLE: tag})
    await wait_for_workers(api_client, {"worker-1"})
    broken.touch()
    [browser] = chromium_browsers(tag)
    os.kill(browser.pid, signal.SIGKILL)

    async def circuit_open() -> dict[str, Any] | None:
        workers = (await api_client.get("/api/health/detailed")).json()["workers"]
        return workers[0] if workers and workers[0]["state"] == "circuit_open" else None

    beat = await wait_for(circuit_open, timeout=30, what="the heartbeat to report the open circuit")
    assert beat["browser"]["consecutiveLaunchFailures"] >= 2
    run_id = await post_run(api_client, {"script": quick_script(site_url, "while broken"), "video": "off"})

    async def still_queued_after_two_retries() -> bool:
        beat = (await api_client.get("/api/health/detailed")).json()["workers"][0]
        return bool(beat["browser"]["consecutiveLaunchFailures"] >= 4)

    await wait_for(still_queued_after_two_retries, timeout=30, what="two more failed launches")
    run = await get_run(api_client, run_id)
    assert run["status"] == "queued" and run["attempts"] == 0  # not claimed while the circuit is open

    broken.unlink()
    run = await wait_for_final(api_client, run_id, timeout=60)
    assert run["status"] == "passed" and run["attempts"] == 1
    beat = (await api_client.get("/api/health/detailed")).json()["workers"][0]
    assert beat["state"] == "running" and beat["browser"]["state"] == "ok"


async def test_a_poison_run_ends_error_after_max_attempts_without_blocking_others(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker("worker-1", WORKER_CONCURRENCY="2", BROWSER_JS_HEAP_MB="256")
    await wait_for_workers(api_client, {"worker-1"})
    poison = {"version": 1, "name": "crashes its page", "steps": [
        {"action": "navigate", "url": f"{site_url}/crash.html"},
        {"action": "wait", "ms": 20_000},
        {"action": "assertVisible", "selector": "#doomed"},
    ]}
    poison_id = await post_run(api_client, {"script": poison, "video": "off"})
    others = [await post_run(api_client, {"script": quick_script(site_url, f"healthy {index}"), "video": "off"})
              for index in range(4)]

    healthy = [await wait_for_final(api_client, run_id, timeout=120) for run_id in others]
    run = await wait_for_final(api_client, poison_id, timeout=180)

    assert [other["status"] for other in healthy] == ["passed"] * 4
    assert run["status"] == "error" and run["errorCategory"] == "browser_crashed", run
    assert "crashed" in run["error"]
    assert [(a["status"], a["category"]) for a in run["attemptHistory"]] == [("error", "browser_crashed")] * 3
    dead = (await api_client.get("/api/dead-letter")).json()
    assert [job["runId"] for job in dead["jobs"]] == [poison_id]
    assert dead["jobs"][0]["attemptsMade"] == 3 and "crashed" in dead["jobs"][0]["failedReason"]

    retried = await api_client.post(f"/api/dead-letter/{poison_id}/retry")
    assert retried.status_code == 201, retried.text
    assert retried.json()["retryOf"] == poison_id and retried.json()["status"] == "queued"
    assert (await api_client.get("/api/dead-letter")).json()["jobs"] == []
    cancelled = await api_client.post(f"/api/runs/{retried.json()['id']}/cancel")
    assert cancelled.status_code == 200


# Its own deadline (600 s, for the runs to end) decides; the default 300 s of pytest-timeout cut it short on a busy
# two-core machine (it takes 3-5 minutes here).
@pytest.mark.timeout(900)
async def test_200_runs_on_3_workers_with_random_kills_each_end_exactly_once(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess], tag: str,
    settings: Settings,
) -> None:
    chaos = {**FAST_STALLS, "WORKER_MAX_STALLED_COUNT": "10", "WORKER_CONCURRENCY": "2",
             "WORKER_SWEEP_INTERVAL_SECONDS": "2", "WORKER_ORPHAN_GRACE_SECONDS": "10", TAG_VARIABLE: tag}
    generation = iter(range(1, 1000))
    live = [start_worker(f"worker-{next(generation)}", **chaos) for _ in range(3)]
    await wait_for_workers(api_client, {worker.name for worker in live}, timeout=60)
    # Six browsers on two cores while workers die and start: a step can wait seconds for the CPU. The test is about
    # each run ending exactly once, not about speed, so a step gets 60 s before it counts as a failure.
    run_ids = [await post_run(api_client, {"script": quick_script(site_url, f"chaos {index}"), "video": "off",
                                           "screenshots": "off", "trace": "off", "stepTimeoutMs": 60_000})
               for index in range(200)]
    chooser = random.Random(4729)

    async def statuses() -> Counter[str]:
        page = (await api_client.get("/api/runs", params={"limit": 500})).json()
        return Counter(run["status"] for run in page["items"])

    kills = 0
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        counts = await statuses()
        if sum(counts[status] for status in FINAL_RUN_STATUSES) == 200:
            break
        if kills < 8 and counts["running"] > 0:
            await asyncio.sleep(chooser.uniform(2, 5))
            victim = live.pop(chooser.randrange(len(live)))
            victim.process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(victim.process.wait, 10)
            kills += 1
            live.append(start_worker(f"worker-{next(generation)}", **chaos))
        else:
            await asyncio.sleep(1)
    counts = await statuses()
    assert counts == Counter({"passed": 200}), counts
    assert kills >= 4, kills  # 8 planned; fewer only if the runs all finished first

    pool = await asyncpg.connect(settings.database_url)
    try:
        finals = await pool.fetch("""
            SELECT run_id, count(*) FILTER (WHERE status IN ('passed', 'failed', 'error')) AS finals,
                   count(*) FILTER (WHERE status = 'running') AS open
            FROM run_attempts GROUP BY run_id""")
    finally:
        await pool.close()
    assert {str(row["run_id"]) for row in finals} == set(run_ids)
    assert {(row["finals"], row["open"]) for row in finals} == {(1, 0)}  # one result each, no attempt left open
    queue = (await api_client.get("/api/queue")).json()["counts"]
    assert (queue["completed"], queue["failed"], queue["active"], queue["waiting"]) == (200, 0, 0, 0)

    for worker in live:
        assert await asyncio.to_thread(worker.stop, signal.SIGTERM, 60) == 0
    await no_tagged_processes(tag)


async def test_a_second_sigterm_skips_the_grace_and_hands_the_run_back(
    api_client: httpx.AsyncClient, site_url: str, start_worker: Callable[..., WorkerProcess], tag: str,
) -> None:
    worker = start_worker("worker-1", WORKER_SHUTDOWN_GRACE_SECONDS="600", **{TAG_VARIABLE: tag})
    await wait_for_workers(api_client, {"worker-1"})
    script = numbered_slow_script(site_url, 50)
    run_id = await post_run(api_client, {"script": script, "timeoutMs": 120_000, "video": "off"})
    await wait_until_running(api_client, [run_id])
    worker.process.send_signal(signal.SIGTERM)

    async def stopping() -> bool:
        return any(event.get("message") == "stop signal: no new jobs, finishing active runs"
                   for event in log_events(worker))

    await wait_for(stopping, timeout=10, what="the worker to take the first SIGTERM")
    # With a 600 s grace and a 50 s run, only the second signal can make it exit within the wait below.
    exit_code = await asyncio.to_thread(worker.stop, signal.SIGTERM, 40)

    assert exit_code == 0
    run = await get_run(api_client, run_id)
    assert run["status"] == "queued" and [a["status"] for a in run["attemptHistory"]] == ["abandoned"]
    await no_tagged_processes(tag)
