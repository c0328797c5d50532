"""What an attempt's outcome means for the run: final, or retried (and whether the job is dead-lettered).

- Passed or cancelled: final.
- Infrastructure failure (the browser or page crashed, a network error loading a page, anything the runner
  reports as `error`): retried with backoff while fewer than JOB_MAX_ATTEMPTS attempts ended this way; then
  final, and an `error` run's job goes to BullMQ's failed set (the dead letter list).
- A failed test (assertion, selector, timeout): a result, final, unless the run asked for `retries: N`
  (flaky tests): then retried while at most N attempts failed.
A retry also needs BullMQ to have an attempt left for the job (`opts.attempts`, which the API sets to
JOB_MAX_ATTEMPTS + retries; a producer that sets none gets no retries).
"""

from __future__ import annotations

from dataclasses import dataclass

# Attempt statuses that count against each budget (stored per attempt in run_attempts).
INFRASTRUCTURE_ATTEMPT = "error"
TEST_FAILURE_ATTEMPT = "failed"


@dataclass(frozen=True)
class Decision:
    retry: bool
    dead_letter: bool = False
    # How the attempt is recorded when it is retried ("error" or "failed").
    attempt_status: str | None = None


def is_infrastructure_failure(status: str, category: str | None, error: str | None) -> bool:
    if status == "error" or category == "browser_crashed":
        return True
    # The page could not be reached at all (connection refused, DNS, reset): not the test's fault.
    return category == "navigation_error" and error is not None and "net::ERR_" in error


def decide(
    *,
    status: str,
    category: str | None,
    error: str | None,
    run_retries: int,
    previous_attempts: dict[str, int],
    job_attempts_made: int,
    job_attempts: int,
    max_attempts: int,
) -> Decision:
    if status in ("passed", "cancelled"):
        return Decision(retry=False)
    job_can_retry = job_attempts_made + 1 < job_attempts
    if is_infrastructure_failure(status, category, error):
        infrastructure_failures = previous_attempts.get(INFRASTRUCTURE_ATTEMPT, 0) + 1
        if infrastructure_failures < max_attempts and job_can_retry:
            return Decision(retry=True, attempt_status=INFRASTRUCTURE_ATTEMPT)
        return Decision(retry=False, dead_letter=status == "error")
    test_failures = previous_attempts.get(TEST_FAILURE_ATTEMPT, 0) + 1
    if test_failures <= run_retries and job_can_retry:
        return Decision(retry=True, attempt_status=TEST_FAILURE_ATTEMPT)
    return Decision(retry=False)
