"""Schedules end to end: real `reprise worker` and `reprise api` processes, Postgres, Redis and Chromium.

Each tick is one BullMQ job (the schedule's job scheduler), so each tick makes one run however many workers and
API processes there are; a schedule that waits for its previous run skips ticks and counts them; pause, resume
and delete take effect at the next tick; a schedule whose recording is gone stops.

Timings are read from what happened (runs' and tick jobs' own timestamps), never from how long the test slept; the
windows that check nothing happens are a few intervals long, and every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from bullmq import Job, Queue

from contract.runs import FINAL_RUN_STATUSES
from contract.settings import Settings
from jobs.queue import bullmq_connection

from flows import numbered_slow_script, quick_script
from services import WorkerProcess, api_process, wait_for, wait_for_workers

pytestmark = pytest.mark.slow

# No artifacts to make, and steps given time enough on a loaded machine (two cores, several browsers).
FAST_RUN = {"video": "off", "screenshots": "off", "trace": "off", "stepTimeoutMs": 30_000}
TICK_JOB_STATES = ["completed", "failed", "active", "delayed", "wait", "prioritized", "paused"]


@pytest.fixture
async def bullmq_queue(settings: Settings) -> AsyncIterator[Queue]:
    queue = Queue(settings.queue_name, {"connection": bullmq_connection(settings.redis_url)})
    yield queue
    await queue.close()


async def save_recording(client: httpx.AsyncClient, script: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/recordings", json={"script": script})
    assert response.status_code == 201, response.text
    recording: dict[str, Any] = response.json()
    return recording


async def create_schedule(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/schedules", json=body)
    assert response.status_code == 201, response.text
    schedule: dict[str, Any] = response.json()
    return schedule


async def schedule_runs(client: httpx.AsyncClient, schedule_id: str) -> list[dict[str, Any]]:
    """The schedule's runs, oldest first (`GET /api/runs?schedule=`)."""
    response = await client.get("/api/runs", params={"schedule": schedule_id, "limit": 500})
    assert response.status_code == 200, response.text
    runs: list[dict[str, Any]] = response.json()["items"]
    assert all(run["scheduleId"] == schedule_id for run in runs)
    return sorted(runs, key=lambda run: run["number"])


async def tick_jobs(queue: Queue, schedule_id: str) -> list[Job]:
    """The BullMQ jobs the schedule's job scheduler made (ids `repeat:schedule:<id>:<ms>`), in any state."""
    prefix = f"repeat:schedule:{schedule_id}:"
    jobs = await queue.getJobs(TICK_JOB_STATES)
    return sorted((job for job in jobs if str(job.id).startswith(prefix)), key=lambda job: tick_ms(job))


def tick_ms(job: Job) -> int:
    return int(str(job.id).rsplit(":", 1)[1])


async def quiet(queue: Queue, schedule_id: str, client: httpx.AsyncClient, timeout: float = 60) -> list[Job]:
    """Wait until no tick of the schedule is pending or being processed and every run of it has ended; the ticks."""
    async def settled() -> list[Job] | None:
        jobs = await tick_jobs(queue, schedule_id)
        states = [await queue.getJobState(str(job.id)) for job in jobs]
        runs = await schedule_runs(client, schedule_id)
        done = all(state in ("completed", "failed") for state in states) and all(
            run["status"] in FINAL_RUN_STATUSES for run in runs)
        return jobs if done and jobs else None

    return await wait_for(settled, timeout=timeout, interval=0.3, what="the schedule's ticks and runs to settle")


async def nothing_new_for(seconds: float, client: httpx.AsyncClient, schedule_id: str, known: int,
                          queue: Queue, ticks_known: int) -> None:
    """Watch for `seconds` that the schedule makes no run and BullMQ no tick."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        runs = await schedule_runs(client, schedule_id)
        assert len(runs) == known, f"a run was made after it should have stopped: {runs[known:]}"
        ticks = await tick_jobs(queue, schedule_id)
        assert len(ticks) == ticks_known, f"BullMQ made a tick after it should have stopped: {ticks[ticks_known:]}"
        await asyncio.sleep(0.5)


def assert_one_run_per_tick(runs: list[dict[str, Any]], ticks: list[Job], every_ms: int) -> None:
    """Every run belongs to a distinct tick job of the schedule; every tick that was not skipped (a paused or
    deleted schedule's leftover) made exactly one run; ticks are one interval apart."""
    run_jobs = [run["jobId"] for run in runs]
    assert len(set(run_jobs)) == len(run_jobs), f"two runs for one tick: {run_jobs}"
    tick_ids = {str(job.id) for job in ticks}
    assert set(run_jobs) <= tick_ids, f"runs whose job is not one of the schedule's ticks: {set(run_jobs) - tick_ids}"
    run_of_job = {run["jobId"]: run["id"] for run in runs}
    for job in ticks:
        value = job.returnvalue if isinstance(job.returnvalue, dict) else {}
        if str(job.id) not in run_of_job:
            assert value.get("skipped") and value.get("scheduleId"), \
                f"tick {job.id} made no run: {value} {job.failedReason}"
        elif value:  # a job whose run ended `error` failed: it has no return value, only its run
            assert value.get("runId") == run_of_job[str(job.id)], (job.id, value)
    gaps = [tick_ms(later) - tick_ms(earlier) for earlier, later in itertools.pairwise(ticks)]
    assert all(gap >= every_ms for gap in gaps), f"ticks closer than {every_ms} ms: {gaps}"


async def test_one_run_per_tick_with_two_workers_and_two_apis_then_pause_resume_delete(
    settings: Settings, site_url: str, start_worker: Callable[..., WorkerProcess], tmp_path: Path, bullmq_queue: Queue,
) -> None:
    every_ms = 3000
    workers = {"sched-w1", "sched-w2"}
    for name in sorted(workers):
        start_worker(name)
    with api_process(settings, tmp_path / "api-a.log") as url_a, api_process(settings, tmp_path / "api-b.log") as url_b:
        async with httpx.AsyncClient(base_url=url_a, timeout=30) as api_a, \
                httpx.AsyncClient(base_url=url_b, timeout=30) as api_b:
            await wait_for_workers(api_b, workers, timeout=60)
            recording = await save_recording(api_a, quick_script(site_url, "every three seconds"))
            # skipIfRunning off: every tick must make its run, so runs and ticks can be counted one to one.
            schedule = await create_schedule(api_a, {"recordingId": recording["id"], "everyMs": every_ms,
                                                     "options": FAST_RUN, "skipIfRunning": False})
            sid = schedule["id"]
            assert schedule["state"] == "active" and schedule["nextRunAt"] is not None

            async def at_least(count: int) -> list[dict[str, Any]] | None:
                runs = await schedule_runs(api_b, sid)
                return runs if len(runs) >= count else None

            await wait_for(lambda: at_least(4), timeout=60, interval=0.3, what="4 runs of the schedule")
            paused = await api_b.post(f"/api/schedules/{sid}/pause")
            assert paused.status_code == 200 and paused.json()["nextRunAt"] is None, paused.text
            ticks = await quiet(bullmq_queue, sid, api_b)
            runs = await schedule_runs(api_b, sid)
            assert_one_run_per_tick(runs, ticks, every_ms)
            made = [job for job in ticks if str(job.id) in {run["jobId"] for run in runs}]
            assert len(runs) == len(made) >= 4
            # At most one run per interval: duplicates (one per worker or per API) would make twice as many.
            first, last = tick_ms(made[0]), tick_ms(made[-1])
            assert len(made) <= (last - first) // every_ms + 1, [tick_ms(job) for job in made]
            assert all(run["status"] == "passed" for run in runs), [(r["number"], r["error"]) for r in runs]
            assert {run["queuedBy"] for run in runs} == {"schedule every three seconds"}
            shown = (await api_a.get(f"/api/schedules/{sid}")).json()
            assert shown["runsMade"] == len(runs) and shown["ticksSkipped"] == 0
            assert shown["lastRun"]["id"] == runs[-1]["id"] and shown["lastRun"]["number"] == runs[-1]["number"]

            # Paused: no run, no tick, for more than two intervals.
            await nothing_new_for(2.5 * every_ms / 1000, api_b, sid, len(runs), bullmq_queue, len(ticks))

            resumed = await api_a.post(f"/api/schedules/{sid}/resume")
            assert resumed.status_code == 200 and resumed.json()["state"] == "active", resumed.text
            await wait_for(lambda: at_least(len(runs) + 2), timeout=30, interval=0.3, what="runs after resuming")

            assert (await api_a.delete(f"/api/schedules/{sid}")).status_code == 204
            assert not await bullmq_queue.isJobScheduler(f"schedule:{sid}")
            # Its runs stay, no longer linked: find them by their tick jobs.
            async def settled_after_delete() -> list[dict[str, Any]] | None:
                items = (await api_b.get("/api/runs", params={"limit": 500})).json()["items"]
                mine = [run for run in items if run["jobId"].startswith(f"repeat:schedule:{sid}:")]
                return mine if all(run["status"] in FINAL_RUN_STATUSES for run in mine) else None

            after_delete = await wait_for(settled_after_delete, timeout=60, interval=0.3, what="runs to end")
            assert all(run["scheduleId"] is None for run in after_delete)
            ticks_now = await tick_jobs(bullmq_queue, sid)
            deadline = time.monotonic() + 2.5 * every_ms / 1000
            while time.monotonic() < deadline:
                items = (await api_b.get("/api/runs", params={"limit": 500})).json()["items"]
                mine = [run for run in items if run["jobId"].startswith(f"repeat:schedule:{sid}:")]
                assert len(mine) == len(after_delete), "a run was made after the schedule was deleted"
                assert len(await tick_jobs(bullmq_queue, sid)) == len(ticks_now), "a tick after the delete"
                await asyncio.sleep(0.5)
            assert_one_run_per_tick(after_delete, ticks_now, every_ms)


async def test_cron_with_seconds_in_a_time_zone_produces_runs(
    api_client: httpx.AsyncClient, settings: Settings, site_url: str, start_worker: Callable[..., WorkerProcess],
    bullmq_queue: Queue,
) -> None:
    start_worker("cron-w1")
    await wait_for_workers(api_client, {"cron-w1"}, timeout=60)
    recording = await save_recording(api_client, quick_script(site_url, "every two seconds"))
    schedule = await create_schedule(api_client, {"recordingId": recording["id"], "cron": "*/2 * * * * *",
                                                  "timezone": "Asia/Kolkata", "options": FAST_RUN})
    sid = schedule["id"]
    next_run = datetime.fromisoformat(schedule["nextRunAt"])
    assert next_run.microsecond == 0 and next_run.second % 2 == 0, next_run

    async def two_passed() -> list[dict[str, Any]] | None:
        runs = await schedule_runs(api_client, sid)
        passed = [run for run in runs if run["status"] == "passed"]
        return runs if len(passed) >= 2 else None

    await wait_for(two_passed, timeout=60, interval=0.3, what="two passed runs of the cron schedule")
    await api_client.post(f"/api/schedules/{sid}/pause")
    ticks = await quiet(bullmq_queue, sid, api_client)
    runs = await schedule_runs(api_client, sid)
    # Every tick on an even second (Asia/Kolkata is UTC+05:30: its even seconds are UTC's).
    assert all(tick_ms(job) % 2000 == 0 for job in ticks), [tick_ms(job) for job in ticks]
    assert_one_run_per_tick(runs, ticks, 2000)


async def test_skip_if_running_skips_ticks_and_runs_never_overlap(
    api_client: httpx.AsyncClient, settings: Settings, site_url: str, start_worker: Callable[..., WorkerProcess],
    bullmq_queue: Queue,
) -> None:
    # Three runs at once (WORKER_CONCURRENCY=3): overlap is possible, only the schedule prevents it.
    start_worker("skip-w1")
    await wait_for_workers(api_client, {"skip-w1"}, timeout=60)
    recording = await save_recording(api_client, numbered_slow_script(site_url, 3))
    schedule = await create_schedule(api_client, {"recordingId": recording["id"], "everyMs": 1000,
                                                  "options": FAST_RUN})
    sid = schedule["id"]
    assert schedule["skipIfRunning"] is True

    async def skipped_enough() -> dict[str, Any] | None:
        shown: dict[str, Any] = (await api_client.get(f"/api/schedules/{sid}")).json()
        return shown if shown["ticksSkipped"] >= 3 and shown["runsMade"] >= 2 else None

    await wait_for(skipped_enough, timeout=90, interval=0.3, what="skipped ticks and two runs")
    await api_client.post(f"/api/schedules/{sid}/pause")
    ticks = await quiet(bullmq_queue, sid, api_client, timeout=90)
    runs = await schedule_runs(api_client, sid)
    shown = (await api_client.get(f"/api/schedules/{sid}")).json()
    numbers = {run["number"] for run in runs}
    seen = (f"runs: {[(r['number'], r['status'], r['startedAt'], r['finishedAt'], r['error']) for r in runs]}; "
            f"ticks: {[(job.id, job.returnvalue, job.failedReason) for job in ticks]}; schedule: {shown}")
    assert shown["runsMade"] == len(runs) >= 2 and shown["ticksSkipped"] >= 3, seen
    reason = shown["lastSkipReason"]
    assert reason.startswith("run #") and int(reason.split()[1][1:]) in numbers, seen
    assert "still queued or running" in reason, seen
    spans = sorted((datetime.fromisoformat(run["startedAt"]), datetime.fromisoformat(run["finishedAt"]))
                   for run in runs)
    for (_, finished), (started, _) in itertools.pairwise(spans):
        assert started >= finished, f"two runs of the schedule overlapped: {seen}"
    values = [job.returnvalue if isinstance(job.returnvalue, dict) else {} for job in ticks]
    skipped = [value for value in values if value.get("skipped") and "still queued or running"
               in value.get("reason", "")]
    assert len(skipped) == shown["ticksSkipped"], seen
    assert_one_run_per_tick(runs, ticks, 1000)

    # The same without skipIfRunning: ticks every second of a 3 s recording overlap.
    overlapping = await create_schedule(api_client, {"recordingId": recording["id"], "everyMs": 1000,
                                                     "options": FAST_RUN, "skipIfRunning": False})

    async def two_running() -> list[dict[str, Any]] | None:
        running = [run for run in await schedule_runs(api_client, overlapping["id"]) if run["status"] == "running"]
        return running if len(running) >= 2 else None

    await wait_for(two_running, timeout=60, interval=0.2, what="two runs of the schedule at once")
    await api_client.post(f"/api/schedules/{overlapping['id']}/pause")
    await quiet(bullmq_queue, overlapping["id"], api_client, timeout=90)
    assert (await api_client.get(f"/api/schedules/{overlapping['id']}")).json()["ticksSkipped"] == 0


async def test_a_deleted_recording_stops_its_schedule_and_the_worker_cleans_up_after_rows_deleted_behind_its_back(
    api_client: httpx.AsyncClient, settings: Settings, site_url: str, start_worker: Callable[..., WorkerProcess],
    bullmq_queue: Queue,
) -> None:
    start_worker("stop-w1")
    await wait_for_workers(api_client, {"stop-w1"}, timeout=60)
    by_api = await save_recording(api_client, quick_script(site_url, "deleted by the api"))
    by_sql = await save_recording(api_client, quick_script(site_url, "deleted by hand"))
    gone_row = await save_recording(api_client, quick_script(site_url, "schedule row deleted"))
    schedules = {name: await create_schedule(api_client, {"recordingId": recording["id"], "everyMs": 1000,
                                                          "options": FAST_RUN})
                 for name, recording in (("api", by_api), ("sql", by_sql), ("row", gone_row))}

    async def each_ran() -> bool:
        return all([await schedule_runs(api_client, s["id"]) for s in schedules.values()])

    await wait_for(each_ran, timeout=60, interval=0.3, what="a run of each schedule")

    # Through the API: stopped at once, with the reason, and BullMQ's scheduler gone.
    assert (await api_client.delete(f"/api/recordings/{by_api['id']}")).status_code == 204
    stopped = (await api_client.get(f"/api/schedules/{schedules['api']['id']}")).json()
    assert stopped["state"] == "stopped" and stopped["stoppedReason"] == "recording deleted by the api was deleted"
    assert stopped["nextRunAt"] is None
    assert not await bullmq_queue.isJobScheduler(f"schedule:{schedules['api']['id']}")

    # Behind the API's back: the worker's next tick finds the recording (or the schedule) gone and acts.
    connection = await asyncpg.connect(settings.database_url)
    try:
        await connection.execute("DELETE FROM recordings WHERE id = $1::uuid", by_sql["id"])
        await connection.execute("DELETE FROM schedules WHERE id = $1::uuid", schedules["row"]["id"])
    finally:
        await connection.close()

    async def stopped_by_worker() -> dict[str, Any] | None:
        shown: dict[str, Any] = (await api_client.get(f"/api/schedules/{schedules['sql']['id']}")).json()
        return shown if shown["state"] == "stopped" else None

    shown = await wait_for(stopped_by_worker, timeout=30, interval=0.2, what="the worker to stop the schedule")
    assert shown["stoppedReason"] == "recording deleted by hand was deleted" and shown["nextRunAt"] is None

    async def schedulers_gone() -> bool:
        return not any([await bullmq_queue.isJobScheduler(f"schedule:{schedules[name]['id']}")
                        for name in ("sql", "row")])

    await wait_for(schedulers_gone, timeout=30, interval=0.2, what="the worker to remove the BullMQ schedulers")
    for name in ("api", "sql"):
        await quiet(bullmq_queue, schedules[name]["id"], api_client)
        count = len(await schedule_runs(api_client, schedules[name]["id"]))
        ticks = len(await tick_jobs(bullmq_queue, schedules[name]["id"]))
        await nothing_new_for(2.5, api_client, schedules[name]["id"], count, bullmq_queue, ticks)
