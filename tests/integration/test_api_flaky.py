"""Flaky runs, the flakiness score and quarantine on real Postgres: runs of saved recordings written through the
storage layer as the worker writes them (tests/stored_history.py), read through the API in-process (ASGI); and the
automatic quarantine carried out by the run processor in-process, with Chromium, against the fixture page that fails
every other load."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from bullmq import Job
from redis.asyncio import Redis

from contract.flaky import QuarantinePolicy
from contract.network import NetworkPolicy
from contract.runs import AttemptStatus, RunStatus, StepStatus
from contract.settings import Settings
from jobs.queue import RetryPolicy, RunQueue
from runner.replay import ChromiumLauncher
from storage import (
    AttemptOutcome,
    FlakyRepository,
    LocalArtifactStore,
    NewRun,
    RecordingRepository,
    RunRepository,
    SuiteRepository,
    create_pool,
)
from worker.browser_health import BrowserSupervisor
from worker.intake import JobIntake
from worker.main import replay_in
from worker.processor import RunProcessor
from worker.replays import ActiveReplays

from services import wait_for
from stored_history import step, store_recording

P, F = RunStatus.PASSED, RunStatus.FAILED


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.database_url)
    try:
        yield pool
    finally:
        await pool.close()


async def store_run(runs: RunRepository, recording_id: UUID | None, status: RunStatus, *, flaky: bool = False,
                    base_url: str | None = None, suite_run_id: UUID | None = None,
                    pool: asyncpg.Pool | None = None) -> UUID:
    """A run of the recording that ended `status`, as a worker ends it; `flaky`: a failed attempt first (retried),
    then the last one."""
    run, _ = await runs.create(NewRun(name="stored", script_format="native", script={},
                                      options={"baseUrl": base_url} if base_url else {}, recording_id=recording_id))
    if suite_run_id is not None:
        assert pool is not None
        await pool.execute("UPDATE runs SET suite_run_id = $1 WHERE id = $2", suite_run_id, run.id)
    if flaky:
        first = await runs.start_attempt(run.id, "w1", None)
        assert first == 1
        await runs.finish(run.id, first, AttemptOutcome(
            status=F, error="expected ok", category=None, steps=[step(0, StepStatus.FAILED, 10)], artifacts=[],
            actions_executed=1, duration_ms=10, requeue=True, attempt_status=AttemptStatus.FAILED))
    attempt = await runs.start_attempt(run.id, "w1", None)
    assert attempt is not None
    failed = status != P
    finished = await runs.finish(run.id, attempt, AttemptOutcome(
        status=status, error="expected ok" if failed else None, category=None,
        steps=[step(0, StepStatus.FAILED if failed else StepStatus.PASSED, 10)], artifacts=[], actions_executed=1,
        duration_ms=10))
    assert finished is not None and finished.status == status
    return run.id


async def store_runs(runs: RunRepository, recording_id: UUID, statuses: Sequence[RunStatus | str]) -> list[UUID]:
    """`statuses` oldest first; "flaky" is a run that passed on its retry."""
    return [await store_run(runs, recording_id, P if status == "flaky" else RunStatus(status),
                            flaky=status == "flaky") for status in statuses]


async def test_a_run_that_passed_after_a_failed_attempt_is_flaky_and_the_runs_list_filters_on_it(
    api_client: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool,
) -> None:
    runs = RunRepository(pool, queue=settings.queue_name)
    recording = await store_recording(pool, settings.queue_name, "checkout")
    flaky = await store_run(runs, recording, P, flaky=True)
    clean = await store_run(runs, recording, P)
    failed_twice = await store_run(runs, recording, F, flaky=True)  # failed, retried, failed again: not flaky

    body = (await api_client.get(f"/api/runs/{flaky}")).json()
    assert body["status"] == "passed" and body["flaky"] is True and body["quarantined"] is False
    assert [attempt["status"] for attempt in body["attemptHistory"]] == ["failed", "passed"]
    assert (await api_client.get(f"/api/runs/{clean}")).json()["flaky"] is False
    assert (await api_client.get(f"/api/runs/{failed_twice}")).json()["flaky"] is False
    listed = (await api_client.get("/api/runs", params={"flaky": "true"})).json()
    assert [item["id"] for item in listed["items"]] == [str(flaky)] and listed["total"] == 1
    assert listed["items"][0]["flaky"] is True
    others = (await api_client.get("/api/runs", params={"flaky": "false"})).json()
    assert {item["id"] for item in others["items"]} == {str(clean), str(failed_twice)}
    bad = await api_client.get("/api/runs", params={"flaky": "sometimes"})
    assert bad.status_code == 422 and "flaky" in bad.text


async def test_the_flaky_view_ranks_recordings_by_score_over_their_last_runs(
    api_client: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool,
) -> None:
    runs = RunRepository(pool, queue=settings.queue_name)
    other_queue = RunRepository(pool, queue=f"{settings.queue_name}-other")
    alternating = await store_recording(pool, settings.queue_name, "alternating")
    retried = await store_recording(pool, settings.queue_name, "needs retries")
    broke_once = await store_recording(pool, settings.queue_name, "broke once")
    stable = await store_recording(pool, settings.queue_name, "stable")
    single = await store_recording(pool, settings.queue_name, "single failure")
    await store_runs(runs, alternating, [F, P, F, P, F])  # 4 flips / 4
    await store_runs(runs, retried, [P, "flaky", P, "flaky", P])  # 2 flaky runs / 4
    # Old flips fall out of a short window: F P F P then P P P (runs=3 reads the last three passes only).
    await store_runs(runs, broke_once, [F, P, F, P, P, P, P])  # 3 flips / 6
    await store_runs(runs, stable, [P, P, P])
    await store_runs(runs, single, [F])  # fewer than 2 runs: 0
    await store_run(runs, stable, RunStatus.ERROR)  # error and cancelled runs are not read
    await store_runs(other_queue, stable, [F, P, F, P])  # another queue's runs are not this queue's

    body = (await api_client.get("/api/flaky")).json()

    scores = [(item["name"], item["flakiness"]["score"], item["flakiness"]["flips"], item["flakiness"]["flakyRuns"],
               item["flakiness"]["runs"]) for item in body["items"]]
    assert scores == [("alternating", 1.0, 4, 0, 5), ("broke once", 0.5, 3, 0, 7), ("needs retries", 0.5, 0, 2, 5),
                      ("single failure", 0.0, 0, 0, 1), ("stable", 0.0, 0, 0, 3)]
    assert body["total"] == 5 and all(item["flakiness"]["window"] == 20 for item in body["items"])
    first = body["items"][0]
    assert first["recordingId"] == str(alternating) and first["quarantine"] is None
    assert [run["status"] for run in first["lastRuns"]] == ["failed", "passed", "failed", "passed", "failed"]
    assert first["lastRuns"][0]["url"].endswith(f"/api/runs/{first['lastRuns'][0]['id']}")
    assert first["historyUrl"].endswith(f"/api/recordings/{alternating}/history")
    retried_item = next(item for item in body["items"] if item["name"] == "needs retries")
    assert [run["flaky"] for run in retried_item["lastRuns"]] == [False, True, False, True, False]

    short = (await api_client.get("/api/flaky", params={"runs": 3, "limit": 2})).json()
    assert [(item["name"], item["flakiness"]["score"]) for item in short["items"]] == [
        ("alternating", 1.0), ("needs retries", 0.5)]
    assert short["total"] == 5 and short["items"][0]["flakiness"]["window"] == 3
    last_three = (await api_client.get("/api/flaky", params={"runs": 3, "offset": 2})).json()["items"]
    assert ("broke once", 0.0) in [(item["name"], item["flakiness"]["score"]) for item in last_three]
    refused = await api_client.get("/api/flaky", params={"runs": 1})
    assert refused.status_code == 422 and "runs" in refused.text

    history = (await api_client.get(f"/api/recordings/{broke_once}/history")).json()
    assert history["flakiness"] == {"score": 0.5, "runs": 7, "flips": 3, "flakyRuns": 0, "window": 20}


async def test_flips_count_between_runs_of_the_same_base_url(
    api_client: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool,
) -> None:
    runs = RunRepository(pool, queue=settings.queue_name)
    two_sites = await store_recording(pool, settings.queue_name, "two sites")  # recorded on http://127.0.0.1:9
    staging, recorded = "http://staging.example", "http://127.0.0.1:9/"
    # Staging always fails, the recorded site always passes: interleaved, yet no run changed its verdict.
    for _ in range(3):
        await store_run(runs, two_sites, F, base_url=staging)
        await store_run(runs, two_sites, P)
    # A run with the recorded origin as its base URL goes to the same site as the runs without one: a flip.
    await store_run(runs, two_sites, F, base_url=recorded)

    [item] = (await api_client.get("/api/flaky")).json()["items"]

    assert item["flakiness"]["flips"] == 1 and item["flakiness"]["runs"] == 7
    assert {run["target"] for run in item["lastRuns"]} == {"http://staging.example", "http://127.0.0.1:9"}


async def test_quarantine_by_hand_marks_the_runs_that_end_meanwhile_and_release_rewrites_nothing(
    api_client: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool,
) -> None:
    runs = RunRepository(pool, queue=settings.queue_name)
    recording = await store_recording(pool, settings.queue_name, "checkout")
    before = await store_run(runs, recording, F)

    response = await api_client.post(f"/api/recordings/{recording}/quarantine",
                                     json={"reason": "flaky payment sandbox, ticket QA-12"})

    assert response.status_code == 200, response.text
    quarantine = response.json()["quarantine"]
    assert quarantine["reason"] == "flaky payment sandbox, ticket QA-12" and quarantine["by"].startswith("test-admin")
    during = await store_run(runs, recording, F)
    passed_during = await store_run(runs, recording, P)
    listed = (await api_client.get("/api/recordings")).json()["items"]
    assert listed[0]["quarantine"]["reason"] == "flaky payment sandbox, ticket QA-12"
    flaky_view = (await api_client.get("/api/flaky")).json()["items"]
    assert flaky_view[0]["quarantine"]["reason"] == "flaky payment sandbox, ticket QA-12"
    assert [run["quarantined"] for run in flaky_view[0]["lastRuns"]] == [True, True, False]
    again = await api_client.post(f"/api/recordings/{recording}/quarantine", json={"reason": "still"})
    assert again.json()["quarantine"]["reason"] == "still" and again.json()["quarantine"]["at"] == quarantine["at"]

    released = await api_client.delete(f"/api/recordings/{recording}/quarantine")

    assert released.status_code == 200 and released.json()["quarantine"] is None
    after = await store_run(runs, recording, F)
    marks = {run_id: (await api_client.get(f"/api/runs/{run_id}")).json()["quarantined"]
             for run_id in (before, during, passed_during, after)}
    assert marks == {before: False, during: True, passed_during: True, after: False}
    assert (await api_client.get(f"/api/recordings/{recording}")).json()["quarantine"] is None
    missing = uuid.uuid4()
    assert (await api_client.post(f"/api/recordings/{missing}/quarantine", json={})).status_code == 404
    assert (await api_client.delete(f"/api/recordings/{missing}/quarantine")).status_code == 404
    refused = await api_client.post(f"/api/recordings/{recording}/quarantine", json={"reason": "x", "until": 3})
    assert refused.status_code == 422 and "until" in refused.text


async def test_a_suite_run_counts_its_quarantined_failures_apart_and_passes(
    api_client: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool,
) -> None:
    runs = RunRepository(pool, queue=settings.queue_name)
    suites = SuiteRepository(pool, queue=settings.queue_name)
    fine = await store_recording(pool, settings.queue_name, "fine")
    shaky = await store_recording(pool, settings.queue_name, "shaky")
    suite = await suites.create(name="smoke", recording_ids=[fine, shaky], defaults={}, created_by=None)
    suite_run_id, _ = await suites.start_run(suite, [], options={}, queued_by=None)
    await api_client.post(f"/api/recordings/{shaky}/quarantine", json={"reason": "known flaky"})
    passed = await store_run(runs, fine, P, suite_run_id=suite_run_id, pool=pool)
    ignored = await store_run(runs, shaky, F, suite_run_id=suite_run_id, pool=pool)

    assert await suites.finish(suite_run_id) == "passed"

    body = (await api_client.get(f"/api/suite-runs/{suite_run_id}")).json()
    assert body["status"] == "passed"
    assert body["counts"] == {"passed": 1, "failed": 0, "error": 0, "cancelled": 0, "quarantined": 1}
    assert body["ignoredRuns"] == [str(ignored)]
    assert [(run["id"], run["quarantined"]) for run in body["runs"]] == [(str(passed), False), (str(ignored), True)]


async def test_automatic_quarantine_after_k_flips_in_the_window(settings: Settings, pool: asyncpg.Pool) -> None:
    runs = RunRepository(pool, queue=settings.queue_name)
    flaky = FlakyRepository(pool, queue=settings.queue_name)
    recordings = RecordingRepository(pool, queue=settings.queue_name)
    policy = QuarantinePolicy(flips=3, window_runs=5)
    recording = await store_recording(pool, settings.queue_name, "shaky")
    await store_runs(runs, recording, [P, F, P])  # 2 flips
    assert await flaky.quarantine_if_flaky(recording, policy) is None
    assert (await recordings.get(recording)).quarantined_at is None
    assert await flaky.quarantine_if_flaky(recording, QuarantinePolicy(flips=0)) is None  # 0: never
    await store_run(runs, recording, P, flaky=True)  # a flaky run counts as a flip: 3

    reason = await flaky.quarantine_if_flaky(recording, policy)

    assert reason == "automatic: 3 flips in the last 5 runs"
    stored = await recordings.get(recording)
    assert (stored.quarantine_reason, stored.quarantined_by) == (reason, "automatic")
    # Quarantined already: nothing changes (a quarantine by hand keeps its reason too).
    assert await flaky.quarantine_if_flaky(recording, policy) is None
    by_hand = await store_recording(pool, settings.queue_name, "by hand")
    await flaky.quarantine(by_hand, "looked at it", "alice")
    await store_runs(runs, by_hand, [P, F, P, F])
    assert await flaky.quarantine_if_flaky(by_hand, policy) is None
    assert (await recordings.get(by_hand)).quarantine_reason == "looked at it"
    # Flips older than the window do not count: F P F P then five passes.
    calmed = await store_recording(pool, settings.queue_name, "calmed down")
    await store_runs(runs, calmed, [F, P, F, P, P, P, P, P])
    assert await flaky.quarantine_if_flaky(calmed, policy) is None


async def test_the_processor_quarantines_a_recording_automatically_after_k_flips(
    settings: Settings, pool: asyncpg.Pool, chromium_path: str, site_url: str, tmp_path: Path,
) -> None:
    """Runs of a saved recording against the page that fails every other load, without retries: failed, passed,
    failed. With FLAKY_QUARANTINE_FLIPS=2 the third run's end quarantines the recording; the run that tipped it ended
    before the quarantine (not marked), the next one is marked."""
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    queue = RunQueue(settings.queue_name, settings.redis_url, redis, RetryPolicy(max_attempts=3, backoff_ms=100))
    supervisor = BrowserSupervisor(ChromiumLauncher(chromium_path))
    await supervisor.start()
    runs = RunRepository(pool, queue=settings.queue_name)
    processor = RunProcessor(
        runs=runs, artifacts=LocalArtifactStore(tmp_path / "v", tmp_path / "s", tmp_path / "f"),
        replays=ActiveReplays(replay_in({"chromium": supervisor}, 30)), worker_name="in-process",
        work_dir=tmp_path / "work", intake=JobIntake(runs, NetworkPolicy()),
        flaky=FlakyRepository(pool, queue=settings.queue_name), quarantine=QuarantinePolicy(flips=2, window_runs=20))
    script: dict[str, Any] = {"version": 1, "name": "every other load", "steps": [
        {"action": "navigate", "url": f"{site_url}/flaky/{uuid.uuid4().hex}"},
        {"action": "assertText", "selector": "#state", "text": "ok", "timeoutMs": 500},
    ]}
    recording = await RecordingRepository(pool, queue=settings.queue_name).create(
        name="every other load", script_format="native", script=script, step_count=2)
    try:
        statuses = []
        for _ in range(4):
            run, _ = await runs.create(NewRun(name=recording.name, script_format="native", script=script,
                                              options={"video": "off", "screenshots": "off", "trace": "off"},
                                              recording_id=recording.id))
            await queue.enqueue(run.id, 0)
            job = await Job.fromId(queue._queue, str(run.id))
            assert job is not None
            statuses.append((await processor.process(job, "token"))["status"])
            finished = await runs.get(run.id)
            quarantined_now = (await RecordingRepository(pool, queue=settings.queue_name).get(
                recording.id)).quarantine_reason
            statuses.append((finished.quarantined, quarantined_now))
    finally:
        await supervisor.close()
        await queue.close()
        await redis.aclose()

    reason = "automatic: 2 flips in the last 20 runs"
    assert statuses == ["failed", (False, None), "passed", (False, None), "failed", (False, reason),
                        "passed", (True, reason)]


async def test_the_run_event_says_flaky_and_quarantined(settings: Settings, pool: asyncpg.Pool) -> None:
    runs = RunRepository(pool, queue=settings.queue_name)
    recording = await store_recording(pool, settings.queue_name, "checkout")
    await FlakyRepository(pool, queue=settings.queue_name).quarantine(recording, "watching it", "alice")
    events: list[dict[str, Any]] = []
    listener = await asyncpg.connect(settings.database_url)
    try:
        await listener.add_listener("reprise_events", lambda *args: events.append(json.loads(args[3])))
        run_id = await store_run(runs, recording, P, flaky=True)

        async def final_event() -> list[dict[str, Any]] | None:
            found = [event for event in events if event.get("kind") == "run" and event["id"] == str(run_id)
                     and event["status"] == "passed"]
            return found or None

        final = await wait_for(final_event, timeout=10, what="the run's final event")
    finally:
        await listener.close()
    assert [(event["flaky"], event["quarantined"]) for event in final] == [(True, True)]
