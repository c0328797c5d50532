"""worker.outcomes.decide: which attempt outcomes are final and which are retried."""

from __future__ import annotations

from typing import Any

import pytest

from worker.outcomes import Decision, decide, is_infrastructure_failure


def outcome(status: str, category: str | None = None, error: str | None = None, **overrides: Any) -> Decision:
    arguments: dict[str, Any] = {
        "status": status, "category": category, "error": error, "run_retries": 0, "previous_attempts": {},
        "job_attempts_made": 0, "job_attempts": 3, "max_attempts": 3,
    }
    arguments.update(overrides)
    return decide(**arguments)


@pytest.mark.parametrize("status", ["passed", "cancelled"])
def test_passed_and_cancelled_are_final(status: str) -> None:
    assert outcome(status) == Decision(retry=False)


def test_a_failed_test_is_a_result_not_retried() -> None:
    assert outcome("failed", "assertion_failed", "step 2 (assertText) [assertion_failed]: ...") == Decision(False)


def test_a_failed_test_is_retried_while_the_run_has_retries_left() -> None:
    assert outcome("failed", "selector_not_found", run_retries=2).retry
    assert outcome("failed", "selector_not_found", run_retries=2, previous_attempts={"failed": 1},
                   job_attempts_made=1, job_attempts=5).retry
    assert not outcome("failed", "selector_not_found", run_retries=2, previous_attempts={"failed": 2},
                       job_attempts_made=2, job_attempts=5).retry


def test_infrastructure_errors_are_retried_up_to_max_attempts_then_dead_lettered() -> None:
    first = outcome("error", "browser_crashed", "the page crashed")
    assert first == Decision(retry=True, attempt_status="error")
    last = outcome("error", "browser_crashed", previous_attempts={"error": 2}, job_attempts_made=2)
    assert last == Decision(retry=False, dead_letter=True)


def test_a_network_error_loading_a_page_is_infrastructure_but_ends_as_the_test_result() -> None:
    error = "step 1 (navigate) [navigation_error]: net::ERR_CONNECTION_REFUSED at http://127.0.0.1:1/"
    assert is_infrastructure_failure("failed", "navigation_error", error)
    assert not is_infrastructure_failure("failed", "navigation_error", "the page answered 404")
    assert not is_infrastructure_failure("failed", "navigation_error", "failed: net::ERR_UNSAFE_PORT at ...")
    assert outcome("failed", "navigation_error", error).retry
    assert outcome("failed", "navigation_error", error, previous_attempts={"error": 2},
                   job_attempts_made=2) == Decision(retry=False, dead_letter=False)


def test_no_retry_when_bullmq_has_no_attempt_left() -> None:
    # A producer that set no `attempts` (BullMQ's default 1): the worker cannot retry.
    assert not outcome("error", "browser_crashed", job_attempts=1).retry
    assert not outcome("failed", "timeout", run_retries=3, job_attempts=1).retry
