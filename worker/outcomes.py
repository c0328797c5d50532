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

from collections.abc import Mapping
from dataclasses import dataclass

from contract.runs import AttemptStatus

# Attempt statuses that count against each budget (stored per attempt in run_attempts).
INFRASTRUCTURE_ATTEMPT = AttemptStatus.ERROR
TEST_FAILURE_ATTEMPT = AttemptStatus.FAILED


@dataclass(frozen=True)
class Decision:
    retry: bool
    dead_letter: bool = False
    # How the attempt is recorded when it is retried ("error" or "failed").
    attempt_status: str | None = None


# Chromium's net errors for a page that could not be reached at all (not the test's fault, may pass later).
# Refused ports (ERR_UNSAFE_PORT), bad certificates and blocked URLs are not here: retrying cannot help.
NETWORK_ERRORS = frozenset({
    "ERR_CONNECTION_REFUSED", "ERR_CONNECTION_RESET", "ERR_CONNECTION_CLOSED", "ERR_CONNECTION_ABORTED",
    "ERR_CONNECTION_TIMED_OUT", "ERR_TIMED_OUT", "ERR_NAME_NOT_RESOLVED", "ERR_NAME_RESOLUTION_FAILED",
    "ERR_ADDRESS_UNREACHABLE", "ERR_INTERNET_DISCONNECTED", "ERR_NETWORK_CHANGED", "ERR_EMPTY_RESPONSE",
    "ERR_TUNNEL_CONNECTION_FAILED", "ERR_PROXY_CONNECTION_FAILED",
})


def is_infrastructure_failure(status: str, category: str | None, error: str | None) -> bool:
    if status == "error" or category == "browser_crashed":
        return True
    if category != "navigation_error" or error is None:
        return False
    return any(f"net::{code}" in error for code in NETWORK_ERRORS)


def decide(
    *,
    status: str,
    category: str | None,
    error: str | None,
    run_retries: int,
    previous_attempts: Mapping[AttemptStatus, int],
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
