"""What the orphan sweep decides for each job state, as values (no database, no Redis)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from contract.runs import FailureCategory, RunStatus
from storage import RunRecord
from worker.sweep import OrphanAction, OrphanVerdict, judge_orphan


def run(attempts: int = 1, retries: int = 0) -> RunRecord:
    return RunRecord(
        id=uuid4(), queue="q", number=1, name="r", script_format="native", script={}, options={"retries": retries},
        status=RunStatus.RUNNING, attempts=attempts, worker_name="w", error=None, error_category=None,
        idempotency_key=None, retry_of=None, recording_id=None, import_warnings=[], actions_executed=None,
        duration_ms=None, created_at=datetime.now(UTC), started_at=None, finished_at=None)


def judge(record: RunRecord, state: str, *, reason: str | None = None, replaying: bool = False) -> OrphanVerdict:
    return judge_orphan(record, job_state=state, failed_reason=reason, replaying=replaying, max_attempts=3,
                        found_by="worker-9")


@pytest.mark.parametrize("state", ["waiting", "wait", "delayed", "prioritized", "paused", "active"])
def test_live_jobs_are_left_to_bullmq(state: str) -> None:
    assert judge(run(), state).action == OrphanAction.LEAVE


def test_a_run_a_live_worker_replays_is_left_alone_whatever_its_job() -> None:
    assert judge(run(), "unknown", replaying=True).action == OrphanAction.LEAVE


def test_a_vanished_job_is_requeued_until_the_attempts_are_used_up() -> None:
    assert judge(run(attempts=2), "unknown") == OrphanVerdict(
        OrphanAction.REQUEUE, "its job vanished from the queue (found by worker-9); queued again")
    assert judge(run(attempts=3, retries=1), "unknown").action == OrphanAction.REQUEUE
    assert judge(run(attempts=4, retries=1), "unknown") == OrphanVerdict(
        OrphanAction.END, "its job vanished from the queue after 4 attempts", FailureCategory.LOST)


def test_failed_and_completed_jobs_end_the_run() -> None:
    assert judge(run(), "failed", reason="job stalled more than allowable limit") == OrphanVerdict(
        OrphanAction.END, "job failed: job stalled more than allowable limit", FailureCategory.STALLED)
    assert judge(run(), "failed", reason=None).category == FailureCategory.INFRASTRUCTURE
    assert judge(run(), "completed") == OrphanVerdict(
        OrphanAction.END, "its job completed without recording a result", FailureCategory.LOST)
