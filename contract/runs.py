"""The run contract: every status a run, an attempt and a step can have, which are final, and which changes
of a run's status are allowed. Defined here once; the database mirrors it (migration 0006: ENUM types, and
a trigger that refuses any status change missing from its `run_status_transitions` table), a test holds
the two together, and the API serves it (`GET /api/contract`) to the dashboard.

    queued ──> running ──> passed | failed | error | cancelled
      │  ^        │
      │  └────────┘  (an attempt that is retried sends the run back to the queue)
      └──> error | cancelled  (never started: could not be queued, invalid stored script, cancelled)
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    CANCELLED = "cancelled"


FINAL_RUN_STATUSES: frozenset[RunStatus] = frozenset(
    {RunStatus.PASSED, RunStatus.FAILED, RunStatus.ERROR, RunStatus.CANCELLED}
)

# Changes of a run's status; final statuses change no more. An update that keeps the status (a stalled job
# started again while `running`, an orphan queued again while `queued`) is not a change.
RUN_TRANSITIONS: Mapping[RunStatus, frozenset[RunStatus]] = {
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING, RunStatus.ERROR, RunStatus.CANCELLED}),
    RunStatus.RUNNING: frozenset(
        {RunStatus.QUEUED, RunStatus.PASSED, RunStatus.FAILED, RunStatus.ERROR, RunStatus.CANCELLED}
    ),
    **{status: frozenset() for status in FINAL_RUN_STATUSES},
}

class AttemptStatus(StrEnum):
    """One pickup of a run's job by a worker. `abandoned`: its worker stopped (killed, shut down, lost the
    job) before it finished; the run went on in another attempt or was ended by the orphan sweep."""

    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"


FINAL_ATTEMPT_STATUSES: frozenset[AttemptStatus] = frozenset(set(AttemptStatus) - {AttemptStatus.RUNNING})


class StepStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class FailureCategory(StrEnum):
    """Why a step, an attempt or a run did not pass, as people filter on it.

    A failed test carries one of the first five (or `invalid_script`); an infrastructure error carries
    `browser_crashed`; the worker and its orphan sweep add `stalled` (the job stalled too often),
    `lost` (its job vanished or completed without a result) and `infrastructure` (its job failed for good);
    `storage` says an artifact could not be stored (the store unreachable past its retries); `blocked` says the
    page tried to reach an address the network policy refuses (contract.network), a failed test, not retried;
    `visual_diff` says a compared `screenshot` differs from its approved baseline past its threshold (a failed test).
    """

    SELECTOR_NOT_FOUND = "selector_not_found"
    TIMEOUT = "timeout"
    ASSERTION_FAILED = "assertion_failed"
    NAVIGATION_ERROR = "navigation_error"
    SCRIPT_ERROR = "script_error"
    BROWSER_CRASHED = "browser_crashed"
    INVALID_SCRIPT = "invalid_script"
    STALLED = "stalled"
    LOST = "lost"
    INFRASTRUCTURE = "infrastructure"
    STORAGE = "storage"
    BLOCKED = "blocked"
    VISUAL_DIFF = "visual_diff"


def contract_document() -> dict[str, Any]:
    """The contract as JSON, for clients that must not hard-code it (the dashboard)."""
    return {
        "runStatuses": [status.value for status in RunStatus],
        "finalRunStatuses": [status.value for status in RunStatus if status in FINAL_RUN_STATUSES],
        "runTransitions": {status.value: sorted(target.value for target in targets)
                           for status, targets in RUN_TRANSITIONS.items()},
        "attemptStatuses": [status.value for status in AttemptStatus],
        "stepStatuses": [status.value for status in StepStatus],
        "failureCategories": [category.value for category in FailureCategory],
    }
