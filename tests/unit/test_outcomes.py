"""worker.outcomes: how an attempt's end is judged, and which outcomes are final, retried, dead-lettered or
handed back (decisions as values, no worker needed)."""

from __future__ import annotations

from typing import Any

import pytest

from contract.results import RunResult
from contract.runs import AttemptStatus, FailureCategory, RunStatus
from worker.outcomes import (
    Decision,
    Ending,
    JobAction,
    Outcome,
    ReplayEnd,
    decide,
    is_infrastructure_failure,
    judge,
)

ERROR, FAILED = AttemptStatus.ERROR, AttemptStatus.FAILED


def decision(status: RunStatus, category: FailureCategory | None = None, error: str | None = None,
             **overrides: Any) -> Decision:
    arguments: dict[str, Any] = {
        "run_retries": 0, "previous_attempts": {}, "job_attempts_made": 0, "job_attempts": 3, "max_attempts": 3,
    }
    arguments.update(overrides)
    return decide(Outcome(status, error, category), **arguments)


@pytest.mark.parametrize("status", [RunStatus.PASSED, RunStatus.CANCELLED])
def test_passed_and_cancelled_are_final(status: RunStatus) -> None:
    assert decision(status) == Decision(JobAction.COMPLETE, AttemptStatus(status.value))


def test_a_failed_test_is_a_result_not_retried() -> None:
    assert decision(RunStatus.FAILED, FailureCategory.ASSERTION_FAILED, "step 2 (assertText) ...") == Decision(
        JobAction.COMPLETE, FAILED)


def test_a_failed_test_is_retried_while_the_run_has_retries_left() -> None:
    selector = FailureCategory.SELECTOR_NOT_FOUND
    assert decision(RunStatus.FAILED, selector, run_retries=2) == Decision(JobAction.RETRY, FAILED)
    assert decision(RunStatus.FAILED, selector, run_retries=2, previous_attempts={FAILED: 1},
                    job_attempts_made=1, job_attempts=5).action == JobAction.RETRY
    assert decision(RunStatus.FAILED, selector, run_retries=2, previous_attempts={FAILED: 2},
                    job_attempts_made=2, job_attempts=5).action == JobAction.COMPLETE


def test_infrastructure_errors_are_retried_up_to_max_attempts_then_dead_lettered() -> None:
    crashed = FailureCategory.BROWSER_CRASHED
    assert decision(RunStatus.ERROR, crashed, "the page crashed") == Decision(JobAction.RETRY, ERROR)
    last = decision(RunStatus.ERROR, crashed, previous_attempts={ERROR: 2}, job_attempts_made=2)
    assert last == Decision(JobAction.DEAD_LETTER, ERROR)


def test_a_network_error_loading_a_page_is_infrastructure_but_ends_as_the_test_result() -> None:
    navigation = FailureCategory.NAVIGATION_ERROR
    error = "step 1 (navigate) [navigation_error]: net::ERR_CONNECTION_REFUSED at http://127.0.0.1:1/"
    assert is_infrastructure_failure(Outcome(RunStatus.FAILED, error, navigation))
    assert not is_infrastructure_failure(Outcome(RunStatus.FAILED, "the page answered 404", navigation))
    assert not is_infrastructure_failure(Outcome(RunStatus.FAILED, "failed: net::ERR_UNSAFE_PORT at ...",
                                                 navigation))
    assert decision(RunStatus.FAILED, navigation, error).action == JobAction.RETRY
    assert decision(RunStatus.FAILED, navigation, error, previous_attempts={ERROR: 2},
                    job_attempts_made=2) == Decision(JobAction.COMPLETE, FAILED)


def test_no_retry_when_bullmq_has_no_attempt_left() -> None:
    # A producer that set no `attempts` (BullMQ's default 1): the worker cannot retry.
    assert decision(RunStatus.ERROR, FailureCategory.BROWSER_CRASHED, job_attempts=1).action == JobAction.DEAD_LETTER
    assert decision(RunStatus.FAILED, FailureCategory.TIMEOUT, run_retries=3, job_attempts=1).action == \
        JobAction.COMPLETE


def test_a_handed_back_attempt_is_abandoned_and_its_job_returns_whatever_the_budgets() -> None:
    handed = decision(RunStatus.ERROR, ending=Ending.HANDED_BACK, previous_attempts={ERROR: 5}, job_attempts=1)
    assert handed == Decision(JobAction.HAND_BACK, AttemptStatus.ABANDONED) and handed.requeue


def end(ending: Ending, result: RunResult) -> ReplayEnd:
    return ReplayEnd(ending=ending, result=result, duration_ms=1)


def test_judge_reads_how_the_replay_ended() -> None:
    finished = RunResult(status=RunStatus.FAILED, error="step 2 (click) [timeout]: ...",
                         category=FailureCategory.TIMEOUT)
    assert judge(end(Ending.FINISHED, finished), "w1") == Outcome(RunStatus.FAILED, finished.error,
                                                                  FailureCategory.TIMEOUT)
    stopped = RunResult(status=RunStatus.FAILED, error="cancelled by request at step 2")
    assert judge(end(Ending.CANCELLED, stopped), "w1") == Outcome(RunStatus.CANCELLED, "cancelled by request at step 2")
    assert judge(end(Ending.TIMED_OUT, RunResult(status=RunStatus.FAILED)), "w1") == Outcome(
        RunStatus.FAILED, "run exceeded its timeout and was aborted by the worker", FailureCategory.TIMEOUT)
    assert judge(end(Ending.HANDED_BACK, RunResult(status=RunStatus.ERROR)), "w1") == Outcome(
        RunStatus.ERROR, "worker w1 shut down before the run finished; the run went back to the queue")


def test_an_artifact_that_could_not_be_stored_outweighs_the_replay_and_is_not_replayed_again() -> None:
    passed = RunResult(status=RunStatus.PASSED)
    outcome = judge(end(Ending.FINISHED, passed), "w1", storage_failure="could not store the video (video.webm): x")
    assert outcome == Outcome(RunStatus.ERROR, "could not store the video (video.webm): x (the replay itself: passed)",
                              FailureCategory.STORAGE)
    assert decide(outcome, run_retries=3, previous_attempts={}, job_attempts_made=0, job_attempts=5,
                  max_attempts=3) == Decision(JobAction.DEAD_LETTER, ERROR)
