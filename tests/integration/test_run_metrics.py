"""Run counters in Postgres (migration 0008, storage.run_metrics): kept by the trigger when a run reaches a final
status, per queue, never lowered by deleting runs, and counting the runs already final when the migration ran."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg
import pytest

from contract.runs import FailureCategory, RunStatus
from storage import NO_CATEGORY, AttemptOutcome, FinishedRuns, NewRun, RunMetricsReader, RunRepository, create_pool
from storage.migrations import apply_migrations, load_migrations

from services import _admin, _database_url


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url)
    yield pool
    await pool.close()


async def finished_run(runs: RunRepository, status: RunStatus, duration_ms: int,
                       category: FailureCategory | None = None, *, requeue_first: bool = False) -> UUID:
    run, _ = await runs.create(NewRun(name="m", script_format="native", script={}, options={}))
    if requeue_first:  # an attempt retried: running -> queued -> running is no final status
        attempt = await runs.start_attempt(run.id, "w", None)
        assert attempt is not None
        await runs.finish(run.id, attempt, AttemptOutcome(status=RunStatus.ERROR, error="crash", category=None,
                                                          steps=[], artifacts=[], actions_executed=0,
                                                          duration_ms=5, requeue=True))
    attempt = await runs.start_attempt(run.id, "w", None)
    assert attempt is not None
    await runs.finish(run.id, attempt, AttemptOutcome(status=status, error=None, category=category, steps=[],
                                                      artifacts=[], actions_executed=1, duration_ms=duration_ms))
    return run.id


def finished_counts(finished: list[FinishedRuns]) -> dict[tuple[str, str], int]:
    return {(row.status.value, row.category): row.runs for row in finished}


async def test_final_runs_are_counted_once_by_status_category_and_duration_bucket(
    pool: asyncpg.Pool, queue_name: str,
) -> None:
    runs = RunRepository(pool, queue=queue_name)
    reader = RunMetricsReader(pool, queue=queue_name)
    empty = await reader.read()
    assert empty.finished == [] and empty.duration_count == 0
    assert [bucket.le for bucket in empty.durations][:3] == [1.0, 2.0, 5.0] and math.isinf(empty.durations[-1].le)

    await finished_run(runs, RunStatus.PASSED, 800)
    await finished_run(runs, RunStatus.PASSED, 3_000, requeue_first=True)
    await finished_run(runs, RunStatus.FAILED, 12_000, FailureCategory.SELECTOR_NOT_FOUND)
    await finished_run(runs, RunStatus.ERROR, 4_000_000, FailureCategory.BROWSER_CRASHED)  # beyond 30 min
    queued, _ = await runs.create(NewRun(name="never ran", script_format="native", script={}, options={}))
    await runs.cancel(queued.id)  # final without a duration
    with pytest.raises(Exception, match="already cancelled"):
        await runs.cancel(queued.id)  # a second final write changes (and counts) nothing
    other = RunRepository(pool, queue=f"{queue_name}-other")
    await finished_run(other, RunStatus.PASSED, 500)

    metrics = await reader.read()

    assert finished_counts(metrics.finished) == {
        ("passed", NO_CATEGORY): 2, ("failed", "selector_not_found"): 1, ("error", "browser_crashed"): 1,
        ("cancelled", NO_CATEGORY): 1,
    }
    assert metrics.duration_count == 4  # the run cancelled while queued has no duration
    assert metrics.duration_sum == pytest.approx(0.8 + 3 + 12 + 4_000)
    cumulative = dict(metrics.cumulative_buckets())
    assert (cumulative[1.0], cumulative[2.0], cumulative[5.0], cumulative[10.0], cumulative[15.0]) == (1, 1, 2, 2, 3)
    assert cumulative[1800.0] == 3 and cumulative[math.inf] == 4
    assert finished_counts((await RunMetricsReader(pool, queue=f"{queue_name}-other").read()).finished) == {
        ("passed", NO_CATEGORY): 1}


async def test_deleting_runs_never_lowers_the_counters(pool: asyncpg.Pool, queue_name: str) -> None:
    runs = RunRepository(pool, queue=queue_name)
    reader = RunMetricsReader(pool, queue=queue_name)
    run_ids = [await finished_run(runs, RunStatus.PASSED, 2_500) for _ in range(3)]
    before = await reader.read()

    await pool.execute("DELETE FROM runs WHERE id = ANY($1::uuid[])", run_ids)  # as retention deletes runs

    after = await reader.read()
    assert await pool.fetchval("SELECT count(*) FROM runs WHERE queue = $1", queue_name) == 0
    assert after == before
    assert finished_counts(after.finished) == {("passed", NO_CATEGORY): 3} and after.duration_count == 3


async def test_the_migration_counts_the_runs_already_final(queue_name: str) -> None:
    name = f"reprise_t_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        connection = await asyncpg.connect(_database_url(name))
        try:
            before = [migration for migration in load_migrations() if migration.version < 8]
            async with connection.transaction():
                await connection.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, "
                                         "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
                for migration in before:
                    await connection.execute(migration.sql)
                    await connection.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                                             migration.version, migration.name)
            for status, category, duration_ms in [("passed", None, 1500), ("failed", "timeout", 45_000),
                                                  ("failed", "timeout", None), ("running", None, None)]:
                await connection.execute(
                    "INSERT INTO runs (queue, id, name, script_format, script, options, status, error_category,"
                    " duration_ms) VALUES ($1, $2, 'old', 'native', '{}', '{}', $3, $4, $5)",
                    queue_name, uuid.uuid4(), status, category, duration_ms)

            assert 8 in await apply_migrations(connection)
        finally:
            await connection.close()
        pool = await create_pool(_database_url(name))
        try:
            metrics = await RunMetricsReader(pool, queue=queue_name).read()
        finally:
            await pool.close()
        assert finished_counts(metrics.finished) == {("passed", NO_CATEGORY): 1, ("failed", "timeout"): 2}
        assert metrics.duration_count == 2 and metrics.duration_sum == pytest.approx(46.5)
        assert dict(metrics.cumulative_buckets())[2.0] == 1 and dict(metrics.cumulative_buckets())[60.0] == 2
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
