"""Run rows on a real Postgres: migrations, guarded transitions, steps and artifacts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest

from contract.results import StepResult
from contract.runs import AttemptStatus, FailureCategory, RunStatus, StepStatus
from storage import (
    ArtifactNotFound,
    ArtifactWrite,
    AttemptOutcome,
    InvalidTransition,
    LocalArtifactStore,
    NewRun,
    RunFilters,
    RunNotFound,
    RunRepository,
    apply_migrations,
    artifact_key,
    create_pool,
    migrate,
)

from services import REPO_ROOT

MIGRATIONS_DIR = REPO_ROOT / "storage" / "migrations"


@pytest.fixture
async def runs(database_url: str) -> AsyncIterator[RunRepository]:
    pool = await create_pool(database_url)
    yield RunRepository(pool, queue="test-runs")
    await pool.close()


def new_run(**overrides: object) -> NewRun:
    fields: dict[str, object] = {
        "name": "checkout flow",
        "script_format": "native",
        "script": {"version": 1, "steps": [{"action": "navigate", "url": "http://x"}]},
        "options": {"video": "on"},
    }
    fields.update(overrides)
    return NewRun(**fields)  # type: ignore[arg-type]


def step(index: int, status: StepStatus = StepStatus.PASSED) -> StepResult:
    return StepResult(index=index, type="click", status=status, duration_ms=10, started_offset_ms=index * 10,
                      selector="#b", error=None)


def outcome(status: RunStatus, **fields: object) -> AttemptOutcome:
    values: dict[str, object] = {"error": None, "category": None, "steps": [], "artifacts": [],
                                 "actions_executed": 0, "duration_ms": 0}
    values.update(fields)
    return AttemptOutcome(status=status, **values)  # type: ignore[arg-type]


async def test_migrations_are_idempotent_and_safe_concurrently(database_url: str) -> None:
    # The template already applied them: a second pass applies nothing, even from 4 processes at once.
    results = await asyncio.gather(*(migrate(database_url) for _ in range(4)))
    assert results == [[], [], [], []]
    connection = await asyncpg.connect(database_url)
    try:
        versions = await connection.fetch("SELECT version FROM schema_migrations ORDER BY version")
        on_disk = sorted(int(path.name.split("_", 1)[0]) for path in MIGRATIONS_DIR.glob("*.sql"))
        assert [row["version"] for row in versions] == on_disk and on_disk[:4] == [1, 2, 3, 4]
        assert await apply_migrations(connection) == []
    finally:
        await connection.close()


async def test_create_and_read_back(runs: RunRepository) -> None:
    run, created = await runs.create(new_run())
    assert created and run.status == "queued" and run.attempts == 0
    fetched = await runs.get(run.id)
    assert fetched.script == {"version": 1, "steps": [{"action": "navigate", "url": "http://x"}]}
    assert fetched.number == run.number
    with pytest.raises(RunNotFound):
        await runs.get(uuid4())


async def test_idempotency_key_returns_the_first_run(runs: RunRepository) -> None:
    first, created_first = await runs.create(new_run(idempotency_key="abc"))
    second, created_second = await runs.create(new_run(idempotency_key="abc", name="other"))
    assert created_first and not created_second
    assert second.id == first.id and second.name == "checkout flow"


async def test_full_lifecycle_records_steps_artifacts_and_result(runs: RunRepository) -> None:
    run, _ = await runs.create(new_run())
    attempt = await runs.start_attempt(run.id, "worker-1", "token-1")
    assert attempt == 1
    await runs.record_step(run.id, 1, step(0))
    final = await runs.finish(run.id, 1, outcome(
        RunStatus.FAILED, error="step 2 (click): boom", steps=[step(0), step(1, StepStatus.FAILED)],
        artifacts=[ArtifactWrite(kind="video", step_index=None, storage_key="videos/x/attempt-1/video.webm",
                                 content_type="video/webm", size_bytes=42)],
        actions_executed=2, duration_ms=1234, category=FailureCategory.SELECTOR_NOT_FOUND,
    ))
    assert final is not None and final.status == "failed" and final.error == "step 2 (click): boom"
    assert final.error_category == "selector_not_found"
    assert [s.status for s in await runs.steps(run.id, 1)] == ["passed", "failed"]
    [artifact] = await runs.artifacts(run.id)
    assert artifact.size_bytes == 42 and artifact.kind == "video"
    [history] = await runs.attempts(run.id)
    assert history.status == AttemptStatus.FAILED and history.worker_name == "worker-1"


async def test_final_status_is_never_overwritten(runs: RunRepository) -> None:
    run, _ = await runs.create(new_run())
    attempt = await runs.start_attempt(run.id, "w", None)
    assert attempt is not None
    await runs.cancel(run.id)
    late = await runs.finish(run.id, attempt, outcome(RunStatus.PASSED, actions_executed=1, duration_ms=1))
    assert late is None
    assert (await runs.get(run.id)).status == "cancelled"
    assert (await runs.attempts(run.id))[0].status == "cancelled"
    assert await runs.start_attempt(run.id, "w", None) is None
    with pytest.raises(InvalidTransition, match="already cancelled"):
        await runs.cancel(run.id)


async def test_a_stale_attempt_cannot_finish_the_run(runs: RunRepository) -> None:
    run, _ = await runs.create(new_run())
    first = await runs.start_attempt(run.id, "worker-a", None)
    second = await runs.start_attempt(run.id, "worker-b", None)  # stalled job handed to another worker
    assert (first, second) == (1, 2)
    assert await runs.finish(run.id, 1, outcome(RunStatus.PASSED)) is None
    done = await runs.finish(run.id, 2, outcome(RunStatus.PASSED))
    assert done is not None and done.status == "passed" and done.worker_name == "worker-b"
    history = await runs.attempts(run.id)
    assert [(a.attempt, a.worker_name, a.status) for a in history] == [
        (1, "worker-a", "abandoned"), (2, "worker-b", "passed")]


async def test_two_queues_on_one_database_do_not_see_each_other(runs: RunRepository, database_url: str) -> None:
    pool = await create_pool(database_url)
    other = RunRepository(pool, queue="other-queue")
    try:
        mine, _ = await runs.create(new_run(name="mine", idempotency_key="same-key"))
        theirs, created = await other.create(new_run(name="theirs", idempotency_key="same-key"))
        assert created and theirs.id != mine.id and theirs.queue == "other-queue"
        assert [r.name for r in (await runs.list_page(limit=10))[0]] == ["mine"]
        assert [r.name for r in (await other.list_page(limit=10))[0]] == ["theirs"]
        with pytest.raises(RunNotFound):
            await other.get(mine.id)
        with pytest.raises(RunNotFound):
            await other.start_attempt(mine.id, "w", None)
        assert [r.id for r in await other.unfinished(quiet_for_s=0)] == [theirs.id]
        assert await other.cancel(theirs.id) and (await runs.get(mine.id)).status == RunStatus.QUEUED
    finally:
        await pool.close()


async def test_list_is_newest_first_and_filters(runs: RunRepository) -> None:
    created = [(await runs.create(new_run(name=f"r{i}")))[0] for i in range(5)]
    await runs.cancel(created[1].id)
    page, total = await runs.list_page(limit=2, offset=0)
    assert total == 5 and [r.name for r in page] == ["r4", "r3"]
    only_cancelled = RunFilters(status=RunStatus.CANCELLED)
    cancelled, total_cancelled = await runs.list_page(filters=only_cancelled, limit=10, offset=0)
    assert total_cancelled == 1 and cancelled[0].id == created[1].id


async def test_local_artifact_store_moves_files_and_refuses_escapes(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "v", tmp_path / "s", tmp_path / "f")
    source = tmp_path / "video.webm"
    source.write_bytes(b"webm")
    run_id = uuid4()
    key = artifact_key("video", run_id, 1, "video.webm")
    saved = await store.put(source, key, "video/webm")
    assert saved.size_bytes == 4 and not source.exists()
    assert store.local_path(key) == (tmp_path / "v" / str(run_id) / "attempt-1" / "video.webm").resolve()
    trace = tmp_path / "trace.zip"
    trace.write_bytes(b"zip")
    trace_key = artifact_key("trace", run_id, 1, "trace.zip")
    assert trace_key.startswith("files/")
    await store.put(trace, trace_key, "application/zip")
    assert store.local_path(trace_key).parent == (tmp_path / "f" / str(run_id) / "attempt-1").resolve()
    for bad in ("videos/../../etc/passwd", "/etc/passwd", "other/x", "videos"):
        with pytest.raises(ArtifactNotFound):
            store.local_path(bad)
