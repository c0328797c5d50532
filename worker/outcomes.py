"""What an attempt's end means, as values: `judge` turns how the replay ended into the attempt's outcome,
`decide` turns the outcome into what happens to the run and its BullMQ job. No I/O here: the processor
carries the decision out (procrastinate's RetryDecision habit), and every rule is unit-tested.

- Passed or cancelled: final.
- Infrastructure failure (the browser or page crashed, a network error loading a page, anything the runner
  reports as `error`): retried with backoff while fewer than JOB_MAX_ATTEMPTS attempts ended this way; then
  final, and an `error` run's job goes to BullMQ's failed set (the dead letter list).
- A failed test (assertion, selector, timeout): a result, final, unless the run asked for `retries: N`
  (flaky tests): then retried while at most N attempts failed.
- Handed back (the worker shut down before the replay finished): the attempt is `abandoned`, the job goes
  back to the queue, another worker replays the run.
- An artifact that could not be stored (the store unreachable for STORAGE_RETRY_SECONDS): `error`
  [storage], final (its uploads were the retries), the job dead-lettered so it can be queued again later.
A retry also needs BullMQ to have an attempt left for the job (`opts.attempts`, which the API sets to
JOB_MAX_ATTEMPTS + retries; a producer that sets none gets no retries).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from contract.results import RunResult
from contract.runs import AttemptStatus, FailureCategory, RunStatus

# Attempt statuses that count against each budget (stored per attempt in run_attempts).
INFRASTRUCTURE_ATTEMPT = AttemptStatus.ERROR
TEST_FAILURE_ATTEMPT = AttemptStatus.FAILED

# Chromium's net errors for a page that could not be reached at all (not the test's fault, may pass later).
# Refused ports (ERR_UNSAFE_PORT), bad certificates and blocked URLs are not here: retrying cannot help.
NETWORK_ERRORS = frozenset({
    "ERR_CONNECTION_REFUSED", "ERR_CONNECTION_RESET", "ERR_CONNECTION_CLOSED", "ERR_CONNECTION_ABORTED",
    "ERR_CONNECTION_TIMED_OUT", "ERR_TIMED_OUT", "ERR_NAME_NOT_RESOLVED", "ERR_NAME_RESOLUTION_FAILED",
    "ERR_ADDRESS_UNREACHABLE", "ERR_INTERNET_DISCONNECTED", "ERR_NETWORK_CHANGED", "ERR_EMPTY_RESPONSE",
    "ERR_TUNNEL_CONNECTION_FAILED", "ERR_PROXY_CONNECTION_FAILED",
})


class Ending(StrEnum):
    """How a replay ended, as the worker saw it."""

    FINISHED = "finished"  # the runner returned its result
    CANCELLED = "cancelled"  # stopped on request (`POST /api/runs/{id}/cancel`)
    HANDED_BACK = "handed_back"  # the worker shut down before it finished
    TIMED_OUT = "timed_out"  # it outlived the run's timeout plus the worker's margin


@dataclass(frozen=True)
class ReplayEnd:
    ending: Ending
    result: RunResult  # what the runner reported (steps and artifacts so far, when it did not finish)
    duration_ms: int


@dataclass(frozen=True)
class Outcome:
    """The attempt's result: the run's status if the attempt is final."""

    status: RunStatus
    error: str | None = None
    category: FailureCategory | None = None


class JobAction(StrEnum):
    COMPLETE = "complete"  # the run has its final status; the job completes
    RETRY = "retry"  # the run goes back to `queued`; BullMQ retries the job with backoff
    DEAD_LETTER = "dead_letter"  # final `error`: the job fails for good (the dead letter list)
    HAND_BACK = "hand_back"  # the run goes back to `queued`; the job returns to the queue at once


@dataclass(frozen=True)
class Decision:
    action: JobAction
    attempt_status: AttemptStatus  # how this attempt is recorded

    @property
    def requeue(self) -> bool:
        return self.action in (JobAction.RETRY, JobAction.HAND_BACK)


def judge(end: ReplayEnd, worker_name: str, *, storage_failure: str | None = None) -> Outcome:
    """`storage_failure`: why an artifact of the replay could not be stored; it outweighs the replay's verdict
    (a result whose video is lost is not one to trust at 7am)."""
    if storage_failure is not None:
        verdict = judge(end, worker_name)
        return Outcome(RunStatus.ERROR, f"{storage_failure} (the replay itself: {verdict.status})",
                       FailureCategory.STORAGE)
    result = end.result
    if end.ending == Ending.CANCELLED:
        return Outcome(RunStatus.CANCELLED, result.error or "cancelled by request")
    if end.ending == Ending.HANDED_BACK:
        return Outcome(RunStatus.ERROR, f"worker {worker_name} shut down before the run finished; the run went "
                                        "back to the queue")
    if end.ending == Ending.TIMED_OUT:
        return Outcome(RunStatus.FAILED, "run exceeded its timeout and was aborted by the worker",
                       FailureCategory.TIMEOUT)
    return Outcome(result.status, result.error, result.category)


def is_infrastructure_failure(outcome: Outcome) -> bool:
    if outcome.status == RunStatus.ERROR or outcome.category == FailureCategory.BROWSER_CRASHED:
        return True
    if outcome.category != FailureCategory.NAVIGATION_ERROR or outcome.error is None:
        return False
    return any(f"net::{code}" in outcome.error for code in NETWORK_ERRORS)


def decide(
    outcome: Outcome,
    *,
    ending: Ending = Ending.FINISHED,
    run_retries: int,
    previous_attempts: Mapping[AttemptStatus, int],
    job_attempts_made: int,
    job_attempts: int,
    max_attempts: int,
) -> Decision:
    if ending == Ending.HANDED_BACK:
        return Decision(JobAction.HAND_BACK, AttemptStatus.ABANDONED)
    as_recorded = AttemptStatus(outcome.status.value)
    if outcome.status in (RunStatus.PASSED, RunStatus.CANCELLED):
        return Decision(JobAction.COMPLETE, as_recorded)
    if outcome.category == FailureCategory.STORAGE:
        return Decision(JobAction.DEAD_LETTER, as_recorded)
    job_can_retry = job_attempts_made + 1 < job_attempts
    if is_infrastructure_failure(outcome):
        infrastructure_failures = previous_attempts.get(INFRASTRUCTURE_ATTEMPT, 0) + 1
        if infrastructure_failures < max_attempts and job_can_retry:
            return Decision(JobAction.RETRY, INFRASTRUCTURE_ATTEMPT)
        return Decision(JobAction.DEAD_LETTER if outcome.status == RunStatus.ERROR else JobAction.COMPLETE,
                        as_recorded)
    test_failures = previous_attempts.get(TEST_FAILURE_ATTEMPT, 0) + 1
    if test_failures <= run_retries and job_can_retry:
        return Decision(JobAction.RETRY, TEST_FAILURE_ATTEMPT)
    return Decision(JobAction.COMPLETE, as_recorded)
