"""Run history and compare in-process (ASGI) on real Postgres: runs of saved recordings written through the
storage layer (tests/stored_history.py), on the API's queue and on another that shares the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from contract.runs import RunStatus, StepStatus
from contract.settings import Settings
from storage import RunRepository, create_pool

from stored_history import step, store_recording, store_recording_run
from stored_runs import age_run

PASSED, FAILED = StepStatus.PASSED, StepStatus.FAILED
NOT_FOUND = "#buy is not on the page (waited 5000 ms)"


@dataclass
class History:
    """One recording's runs, oldest first: an old pass (40 days ago), then a pass, a failure, a pass, an error
    after a retried attempt, a cancelled run; and one failure of the same recording on another queue."""

    recording: UUID
    other_recording: UUID
    old: UUID
    first_pass: UUID
    failure: UUID
    second_pass: UUID
    error: UUID
    cancelled: UUID
    of_other_recording: UUID
    of_no_recording: UUID
    on_other_queue: UUID


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.database_url)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def history(settings: Settings, pool: asyncpg.Pool) -> History:
    runs = RunRepository(pool, queue=settings.queue_name)
    other_queue = RunRepository(pool, queue=f"{settings.queue_name}-other")
    recording = await store_recording(pool, settings.queue_name, "checkout")
    other_recording = await store_recording(pool, settings.queue_name, "login")

    old = await store_recording_run(runs, recording, RunStatus.PASSED, [step(0, PASSED, 500)])
    await age_run(settings.database_url, old, 40)
    first_pass = await store_recording_run(runs, recording, RunStatus.PASSED, [
        step(0, PASSED, 100, type="navigate"), step(1, PASSED, 200, selector="#buy"), step(2, PASSED, 700)],
        duration_ms=1000)
    failure = await store_recording_run(runs, recording, RunStatus.FAILED, [
        step(0, PASSED, 130, type="navigate"), step(1, FAILED, 2500, selector="#buy", error=NOT_FOUND)],
        duration_ms=3000, error=f"step 2 (click): {NOT_FOUND}")
    second_pass = await store_recording_run(runs, recording, RunStatus.PASSED, [
        step(0, PASSED, 90, type="navigate"), step(1, PASSED, 210, selector="#buy"), step(2, PASSED, 900)],
        duration_ms=2000)
    # Its first attempt failed at step 1; the failing step shown is its latest attempt's (step 2).
    error = await store_recording_run(runs, recording, RunStatus.ERROR, [
        step(0, PASSED, 100, type="navigate"), step(1, PASSED, 200), step(2, FAILED, 3000, error="page crashed")],
        duration_ms=4000, error="page crashed", earlier_attempts=[[step(0, PASSED, 100, type="navigate"),
                                                                   step(1, FAILED, 50, error="first try")]])
    cancelled = await store_recording_run(runs, recording, RunStatus.CANCELLED)
    of_other_recording = await store_recording_run(runs, other_recording, RunStatus.PASSED, [step(0, PASSED, 10)])
    of_no_recording = await store_recording_run(runs, None, RunStatus.PASSED, [step(0, PASSED, 10)])
    on_other_queue = await store_recording_run(other_queue, recording, RunStatus.FAILED,
                                               [step(0, FAILED, 10, error="elsewhere")], duration_ms=99_999)
    return History(recording, other_recording, old, first_pass, failure, second_pass, error, cancelled,
                   of_other_recording, of_no_recording, on_other_queue)


async def get(client: httpx.AsyncClient, path: str, status: int = 200) -> dict[str, Any]:
    response = await client.get(path)
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_history_gives_pass_rate_median_failing_steps_and_counts_over_the_window(
    history: History, api_client: httpx.AsyncClient,
) -> None:
    body = await get(api_client, f"/api/recordings/{history.recording}/history")

    assert body["recordingId"] == str(history.recording) and body["name"] == "checkout"
    # The default window, 30 days: the old pass and the other queue's failure are not in it.
    assert body["window"]["days"] == 30
    window_from, window_to = (datetime.fromisoformat(body["window"][end]) for end in ("from", "to"))
    assert window_to - window_from == timedelta(days=30)
    assert abs((window_to - datetime.now(UTC)).total_seconds()) < 60
    assert [run["id"] for run in body["runs"]] == [str(run_id) for run_id in (
        history.cancelled, history.error, history.second_pass, history.failure, history.first_pass)]
    assert [run["status"] for run in body["runs"]] == ["cancelled", "error", "passed", "failed", "passed"]
    assert body["counts"] == {"queued": 0, "running": 0, "passed": 2, "failed": 1, "error": 1, "cancelled": 1}
    assert body["passRate"] == 0.5  # 2 passed of the 4 with a verdict (cancelled says nothing)
    assert body["medianDurationMs"] == 2500  # of 1000, 3000, 2000, 4000 (the cancelled run has no duration)

    runs = {run["id"]: run for run in body["runs"]}
    failure = runs[str(history.failure)]
    assert failure["failingStep"] == {"index": 1, "type": "click", "selector": "#buy", "error": NOT_FOUND}
    assert failure["durationMs"] == 3000 and failure["finishedAt"] is not None
    assert failure["url"].endswith(f"/api/runs/{history.failure}")
    assert runs[str(history.error)]["failingStep"] == {"index": 2, "type": "click", "selector": None,
                                                      "error": "page crashed"}
    assert runs[str(history.error)]["attempts"] == 2
    assert runs[str(history.first_pass)]["failingStep"] is None
    assert runs[str(history.cancelled)]["failingStep"] is None
    assert runs[str(history.cancelled)]["durationMs"] is None


async def test_history_window_and_limit(history: History, api_client: httpx.AsyncClient) -> None:
    wide = await get(api_client, f"/api/recordings/{history.recording}/history?days=60")
    assert wide["window"]["days"] == 60
    assert wide["runs"][-1]["id"] == str(history.old) and len(wide["runs"]) == 6
    assert wide["counts"]["passed"] == 3
    assert wide["passRate"] == 0.6  # 3 of 5
    assert wide["medianDurationMs"] == 2000  # of 500, 1000, 3000, 2000, 4000

    limited = await get(api_client, f"/api/recordings/{history.recording}/history?limit=2")
    assert [run["id"] for run in limited["runs"]] == [str(history.cancelled), str(history.error)]
    assert sum(limited["counts"].values()) == 5  # the aggregates cover the window, not the page
    assert limited["passRate"] == 0.5

    empty = await get(api_client, f"/api/recordings/{history.other_recording}/history?days=1")
    assert [run["id"] for run in empty["runs"]] == [str(history.of_other_recording)]
    assert empty["passRate"] == 1.0


async def test_a_recording_with_no_runs_has_no_pass_rate_or_median(
    settings: Settings, pool: asyncpg.Pool, api_client: httpx.AsyncClient,
) -> None:
    recording = await store_recording(pool, settings.queue_name, "never run")
    runs = RunRepository(pool, queue=settings.queue_name)
    body = await get(api_client, f"/api/recordings/{recording}/history")
    assert body["runs"] == [] and body["passRate"] is None and body["medianDurationMs"] is None
    assert set(body["counts"].values()) == {0}
    # Only a cancelled run: still no verdict, no duration.
    await store_recording_run(runs, recording, RunStatus.CANCELLED)
    body = await get(api_client, f"/api/recordings/{recording}/history")
    assert body["counts"]["cancelled"] == 1 and body["passRate"] is None and body["medianDurationMs"] is None


@pytest.mark.parametrize(("query", "field"), [
    ("limit=0", "limit"), ("limit=201", "limit"), ("limit=ten", "limit"),
    ("days=0", "days"), ("days=367", "days"), ("days=-1", "days"), ("days=1.5", "days"),
])
async def test_history_refuses_a_bad_parameter_naming_it(
    history: History, api_client: httpx.AsyncClient, query: str, field: str,
) -> None:
    body = await get(api_client, f"/api/recordings/{history.recording}/history?{query}", 422)
    assert [problem["field"] for problem in body["fields"]] == [field]


async def test_history_of_an_unknown_recording_is_404(api_client: httpx.AsyncClient) -> None:
    body = await get(api_client, f"/api/recordings/{uuid4()}/history", 404)
    assert body["error"] == "not_found"
    assert (await get(api_client, "/api/recordings/not-an-id/history", 422))["fields"][0]["field"] == "recording_id"


async def test_compare_gives_each_steps_statuses_durations_delta_and_the_first_difference(
    history: History, api_client: httpx.AsyncClient,
) -> None:
    body = await get(api_client, f"/api/runs/compare?a={history.first_pass}&b={history.failure}")

    assert body["recordingId"] == str(history.recording)
    assert body["a"]["id"] == str(history.first_pass) and body["a"]["status"] == "passed"
    assert body["b"]["id"] == str(history.failure) and body["b"]["status"] == "failed"
    assert body["firstDifference"] == 1
    steps = body["steps"]
    assert [s["index"] for s in steps] == [0, 1, 2]
    assert [s["differs"] for s in steps] == [False, True, True]
    assert steps[0]["type"] == "navigate"
    assert steps[0]["a"]["durationMs"] == 100 and steps[0]["b"]["durationMs"] == 130
    assert steps[0]["durationDeltaMs"] == 30
    assert steps[1]["selector"] == "#buy"
    assert steps[1]["a"] == {"status": "passed", "durationMs": 200, "error": None, "category": None,
                             "selector": "#buy"}
    assert steps[1]["b"]["status"] == "failed" and steps[1]["b"]["error"] == NOT_FOUND
    assert steps[1]["durationDeltaMs"] == 2300
    # The failed run never reached step 3: it is on one side only.
    assert steps[2]["a"]["status"] == "passed" and steps[2]["b"] is None and steps[2]["durationDeltaMs"] is None

    # Two passes differ in durations only: no step differs.
    same = await get(api_client, f"/api/runs/compare?a={history.first_pass}&b={history.second_pass}")
    assert same["firstDifference"] is None and not any(s["differs"] for s in same["steps"])
    assert [s["durationDeltaMs"] for s in same["steps"]] == [-10, 10, 200]

    # The latest attempt's steps: the error run's first attempt failed at step 1, its last at step 2.
    retried = await get(api_client, f"/api/runs/compare?a={history.first_pass}&b={history.error}")
    assert retried["firstDifference"] == 2
    assert [s["b"]["status"] for s in retried["steps"]] == ["passed", "passed", "failed"]

    # A cancelled run has no steps: every step of the other is on one side only.
    cancelled = await get(api_client, f"/api/runs/compare?a={history.cancelled}&b={history.first_pass}")
    assert cancelled["firstDifference"] == 0
    assert all(s["a"] is None and s["differs"] for s in cancelled["steps"])


async def test_compare_refuses_runs_of_different_recordings_or_of_none_naming_the_field(
    history: History, api_client: httpx.AsyncClient,
) -> None:
    body = await get(api_client, f"/api/runs/compare?a={history.first_pass}&b={history.of_other_recording}", 422)
    assert body["fields"][0]["field"] == "b" and "another recording" in body["message"]
    body = await get(api_client, f"/api/runs/compare?a={history.of_no_recording}&b={history.first_pass}", 422)
    assert body["fields"][0]["field"] == "a" and "not made from a saved recording" in body["message"]
    body = await get(api_client, f"/api/runs/compare?a={history.first_pass}&b={history.of_no_recording}", 422)
    assert body["fields"][0]["field"] == "b"
    body = await get(api_client, f"/api/runs/compare?a=nope&b={history.first_pass}", 422)
    assert body["fields"][0]["field"] == "a"
    body = await get(api_client, f"/api/runs/compare?a={history.first_pass}", 422)
    assert body["fields"][0]["field"] == "b"


async def test_compare_of_an_unknown_run_is_404(history: History, api_client: httpx.AsyncClient) -> None:
    body = await get(api_client, f"/api/runs/compare?a={history.first_pass}&b={uuid4()}", 404)
    assert body["error"] == "not_found"
    await get(api_client, f"/api/runs/compare?a={uuid4()}&b={history.first_pass}", 404)
    # Another queue's run is unknown here, as everywhere.
    await get(api_client, f"/api/runs/compare?a={history.first_pass}&b={history.on_other_queue}", 404)
    # And GET /api/runs/{id} still reads runs (compare is matched first, ids after).
    assert (await get(api_client, f"/api/runs/{history.first_pass}"))["recordingId"] == str(history.recording)
