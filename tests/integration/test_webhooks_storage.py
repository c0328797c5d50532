"""The webhook outbox on a real Postgres (migration 0016): which deliveries the triggers write when a run or a suite
run becomes final, whoever ends it, and how the workers' pump claims them. Runs are written as the worker, the API's
cancel and the orphan sweep write them (storage.RunRepository); the suite rows as 0015's contract describes them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID, uuid4

import asyncpg
import pytest

from contract.runs import FailureCategory, RunStatus
from contract.webhooks import WebhookEvent, WebhookFormat, WebhookScope
from storage import (
    NewRun,
    NewSubscription,
    RecordingRepository,
    RunRepository,
    ScopeTargetNotFound,
    WebhookRepository,
    create_pool,
)

from stored_runs import finished_run

ALL_RUN_EVENTS = [WebhookEvent.RUN_FINISHED, WebhookEvent.RUN_FAILED]


@dataclass
class Db:
    pool: asyncpg.Pool
    runs: RunRepository
    webhooks: WebhookRepository
    recordings: RecordingRepository


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Db]:
    pool = await create_pool(database_url)
    try:
        yield Db(pool, RunRepository(pool, queue="q1"), WebhookRepository(pool, queue="q1"),
                 RecordingRepository(pool, queue="q1"))
    finally:
        await pool.close()


async def subscribe(webhooks: WebhookRepository, name: str, events: list[WebhookEvent], *,
                    scope: WebhookScope = WebhookScope.ALL, suite_id: UUID | None = None,
                    recording_id: UUID | None = None, active: bool = True) -> UUID:
    created = await webhooks.create(NewSubscription(
        name=name, url="https://hooks.example.com/reprise", events=events, scope=scope, suite_id=suite_id,
        recording_id=recording_id, format=WebhookFormat.JSON, secret="whsec_test", active=active))
    return created.id


async def deliveries_of(pool: asyncpg.Pool, run_id: UUID | None = None,
                        suite_run_id: UUID | None = None) -> set[tuple[UUID, str]]:
    rows = await pool.fetch("SELECT subscription_id, event::text FROM webhook_deliveries "
                            "WHERE run_id = $1 OR suite_run_id = $2", run_id, suite_run_id)
    return {(row["subscription_id"], row["event"]) for row in rows}


async def recording(db: Db, name: str) -> UUID:
    return (await db.recordings.create(name=name, script_format="native", script={"steps": []}, step_count=0)).id


async def test_a_failed_run_is_sent_to_each_subscription_whose_scope_and_events_take_it(db: Db) -> None:
    mine, other = await recording(db, "mine"), await recording(db, "other")
    everything = await subscribe(db.webhooks, "all", ALL_RUN_EVENTS)
    failures_of_mine = await subscribe(db.webhooks, "mine", [WebhookEvent.RUN_FAILED],
                                       scope=WebhookScope.RECORDING, recording_id=mine)
    of_other = await subscribe(db.webhooks, "other", ALL_RUN_EVENTS, scope=WebhookScope.RECORDING,
                               recording_id=other)
    await subscribe(db.webhooks, "off", ALL_RUN_EVENTS, active=False)
    await subscribe(db.webhooks, "suites only", [WebhookEvent.SUITE_FINISHED])
    await subscribe(WebhookRepository(db.pool, queue="q2"), "another queue", ALL_RUN_EVENTS)

    failed = await finished_run(db.runs, RunStatus.FAILED, recording_id=mine)
    assert await deliveries_of(db.pool, failed) == {
        (everything, "run.finished"), (everything, "run.failed"), (failures_of_mine, "run.failed")}

    passed = await finished_run(db.runs, RunStatus.PASSED, recording_id=mine)
    assert await deliveries_of(db.pool, passed) == {(everything, "run.finished")}, "no run.failed for a passed run"

    errored = await finished_run(db.runs, RunStatus.ERROR, recording_id=other)
    assert await deliveries_of(db.pool, errored) == {
        (everything, "run.finished"), (everything, "run.failed"), (of_other, "run.finished"),
        (of_other, "run.failed")}


async def test_runs_ended_by_the_api_or_the_sweep_are_sent_too_and_a_rolled_back_end_is_not(db: Db) -> None:
    everything = await subscribe(db.webhooks, "all", ALL_RUN_EVENTS)
    queued, _ = await db.runs.create(NewRun(name="cancelled", script_format="native", script={}, options={}))
    await db.runs.cancel(queued.id, "not wanted", by="ci")
    assert await deliveries_of(db.pool, queued.id) == {(everything, "run.finished")}

    orphan, _ = await db.runs.create(NewRun(name="orphan", script_format="native", script={}, options={}))
    await db.runs.start_attempt(orphan.id, "w1", None)
    await db.runs.end_orphan(orphan.id, "its job vanished", FailureCategory.LOST)
    assert await deliveries_of(db.pool, orphan.id) == {(everything, "run.finished"), (everything, "run.failed")}

    kept, _ = await db.runs.create(NewRun(name="rolled back", script_format="native", script={}, options={}))
    async with db.pool.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute("UPDATE runs SET status = 'cancelled' WHERE id = $1", kept.id)
        assert await connection.fetchval("SELECT count(*) FROM webhook_deliveries WHERE run_id = $1", kept.id) == 1
        await transaction.rollback()
    assert await deliveries_of(db.pool, kept.id) == set()


async def test_suite_runs_send_suite_finished_once_and_their_children_match_the_suite_scope(db: Db) -> None:
    suite_id, other_suite = uuid4(), uuid4()
    await db.pool.execute("INSERT INTO suites (id, name) VALUES ($1, 'smoke'), ($2, 'other')", suite_id, other_suite)
    suite_run_id = uuid4()
    await db.pool.execute("INSERT INTO suite_runs (id, suite_id, suite_name, queue, status) "
                          "VALUES ($1, $2, 'smoke', 'q1', 'running')", suite_run_id, suite_id)
    everything = await subscribe(db.webhooks, "all", [WebhookEvent.SUITE_FINISHED, WebhookEvent.RUN_FAILED])
    smoke = await subscribe(db.webhooks, "smoke", [WebhookEvent.SUITE_FINISHED, WebhookEvent.RUN_FINISHED],
                            scope=WebhookScope.SUITE, suite_id=suite_id)
    other = await subscribe(db.webhooks, "other", [WebhookEvent.SUITE_FINISHED, WebhookEvent.RUN_FINISHED],
                            scope=WebhookScope.SUITE, suite_id=other_suite)

    child = await finished_run(db.runs, RunStatus.FAILED, suite_run_id=suite_run_id, pool=db.pool)
    assert await deliveries_of(db.pool, child) == {(everything, "run.failed"), (smoke, "run.finished")}
    loose = await finished_run(db.runs, RunStatus.PASSED)
    assert await deliveries_of(db.pool, loose) == set(), "a run of no suite is not the suite's"

    await db.pool.execute("UPDATE suite_runs SET status = 'failed', failed = 1, finished_at = now() WHERE id = $1",
                          suite_run_id)
    assert await deliveries_of(db.pool, suite_run_id=suite_run_id) == {
        (everything, "suite.finished"), (smoke, "suite.finished")}
    assert other not in {subscription for subscription, _ in await deliveries_of(db.pool, suite_run_id=suite_run_id)}
    await db.pool.execute("UPDATE suite_runs SET passed = 0 WHERE id = $1", suite_run_id)
    assert len(await deliveries_of(db.pool, suite_run_id=suite_run_id)) == 2, "final once, sent once"

    facts = await db.webhooks.suite_run_facts(suite_run_id)
    assert facts is not None and facts.status == "failed" and facts.failed == 1
    assert [run.id for run in facts.runs] == [child] and facts.runs[0].failing_step is not None


async def test_the_scope_must_name_a_suite_or_recording_that_exists(db: Db) -> None:
    with pytest.raises(ScopeTargetNotFound) as missing_suite:
        await subscribe(db.webhooks, "x", ALL_RUN_EVENTS, scope=WebhookScope.SUITE, suite_id=uuid4())
    assert missing_suite.value.kind == "suite"
    with pytest.raises(ScopeTargetNotFound) as missing_recording:
        await subscribe(db.webhooks, "x", ALL_RUN_EVENTS, scope=WebhookScope.RECORDING, recording_id=uuid4())
    assert missing_recording.value.kind == "recording"


async def test_deleting_a_recording_deletes_its_subscriptions(db: Db) -> None:
    mine = await recording(db, "mine")
    subscription = await subscribe(db.webhooks, "mine", ALL_RUN_EVENTS, scope=WebhookScope.RECORDING,
                                   recording_id=mine)
    await db.pool.execute("DELETE FROM recordings WHERE id = $1", mine)
    assert await db.pool.fetchval("SELECT count(*) FROM webhook_subscriptions WHERE id = $1", subscription) == 0


async def test_the_outbox_is_claimed_once_then_again_only_when_its_job_may_be_lost(db: Db) -> None:
    await subscribe(db.webhooks, "all", ALL_RUN_EVENTS)
    run_id = await finished_run(db.runs, RunStatus.FAILED)
    other_queue = WebhookRepository(db.pool, queue="q2")
    assert await other_queue.claim_outbox(again_after_s=60) == []
    first = await db.webhooks.claim_outbox(again_after_s=60)
    assert len(first) == 2
    assert await db.webhooks.claim_outbox(again_after_s=60) == [], "claimed: not again within the minute"
    assert sorted(await db.webhooks.claim_outbox(again_after_s=0)) == sorted(first), "re-added when stale"

    sending = await db.webhooks.start_attempt(first[0])
    assert sending is not None and sending.attempts == 1 and sending.secret == "whsec_test"
    # Its worker dies before the answer; the job comes back (stalled) and a second attempt starts.
    again = await db.webhooks.start_attempt(first[0])
    assert again is not None and again.attempts == 2
    attempts = await db.pool.fetch("SELECT attempt, status_code, error FROM webhook_delivery_attempts "
                                   "WHERE delivery_id = $1 ORDER BY attempt", first[0])
    assert [(row["attempt"], row["status_code"]) for row in attempts] == [(1, None), (2, None)]
    assert attempts[0]["error"].startswith("interrupted") and attempts[1]["error"] is None
    facts = await db.webhooks.run_facts(run_id)
    assert facts is not None and facts.failing_step is not None
    assert (facts.failing_step.index, facts.failing_step.selector) == (1, "#missing")
    assert facts.screenshot_artifact_id is not None and facts.duration_ms == 1234
