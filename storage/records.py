"""Typed rows: what the storage package hands to the API and the worker.

Statuses arrive as the contract's enums (contract/runs.py); steps are the contract's `StepResult` itself
(storage/queries.sql names the columns as it does).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Self
from uuid import UUID

import asyncpg

from contract.options import Priority, RunOptions
from contract.runs import FINAL_RUN_STATUSES, AttemptStatus, FailureCategory, RunStatus


@functools.cache
def _field_names(record_class: type) -> frozenset[str]:
    return frozenset(field.name for field in fields(record_class))


class _FromRow:
    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Self:
        # The names once per class: computed per row they were a fifth of the API's CPU listing runs (py-spy).
        names = _field_names(cls)  # type: ignore[arg-type]
        return cls(**{key: value for key, value in row.items() if key in names})


def _category(value: str | None) -> FailureCategory | None:
    return FailureCategory(value) if value is not None else None


@dataclass(frozen=True)
class RunRecord(_FromRow):
    id: UUID
    queue: str
    number: int
    name: str
    script_format: str
    script: dict[str, Any]
    options: dict[str, Any]  # as stored (camelCase JSON); `replay_options()` validates it
    status: RunStatus
    attempts: int
    worker_name: str | None
    error: str | None
    error_category: FailureCategory | None
    idempotency_key: str | None
    retry_of: UUID | None
    recording_id: UUID | None
    import_warnings: list[dict[str, Any]]
    actions_executed: int | None
    duration_ms: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    queued_by: str | None = None  # the name of the API key that queued it (retries: that retried it)
    cancelled_by: str | None = None
    idempotency_body_hash: str | None = None  # sha256 of the request that used idempotency_key
    # Artifacts not stored: the run reached RUN_ARTIFACTS_MAX_BYTES ({attempt, kind, file, bytes} each).
    artifacts_skipped: list[dict[str, Any]] = field(default_factory=list)
    job_id: str | None = None  # set when the run was made for a job Reprise did not add (see `job`)
    schedule_id: UUID | None = None  # the schedule whose tick made it (None once that schedule is deleted)
    suite_run_id: UUID | None = None  # the suite run it is a child of
    flaky: bool = False  # passed on a retry after a failed attempt (set with its final status: migration 0018)
    quarantined: bool = False  # its recording was quarantined when it reached its final status

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", RunStatus(self.status))
        object.__setattr__(self, "error_category", _category(self.error_category))

    @property
    def job(self) -> str:
        """The id of the run's BullMQ job: the run's own id, unless a producer's job or a schedule's tick made it."""
        return self.job_id or str(self.id)

    @property
    def priority(self) -> Priority:
        return RunOptions.model_validate({"priority": self.options.get("priority")}).queue_priority

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_RUN_STATUSES

    def replay_options(self) -> RunOptions:
        """The stored options read back into the contract's model (pydantic ValidationError if a stored row
        no longer validates, e.g. a device Playwright dropped from its catalogue)."""
        return RunOptions.model_validate(self.options)


@dataclass(frozen=True)
class AttemptRecord(_FromRow):
    run_id: UUID
    attempt: int
    worker_name: str
    status: AttemptStatus
    error: str | None
    error_category: FailureCategory | None
    started_at: datetime
    finished_at: datetime | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", AttemptStatus(self.status))
        object.__setattr__(self, "error_category", _category(self.error_category))


@dataclass(frozen=True)
class ArtifactRecord(_FromRow):
    id: int
    run_id: UUID
    attempt: int
    kind: str
    step_index: int | None
    storage_key: str
    content_type: str
    size_bytes: int
    created_at: datetime
    removed_at: datetime | None = None  # its object was deleted (by retention); the row stays
    removed_by: str | None = None

    @property
    def removed(self) -> bool:
        return self.removed_at is not None


@dataclass(frozen=True)
class RetentionPassRecord(_FromRow):
    """One retention pass (storage.retention): who ran it, when, and what it removed (or, for a dry run,
    would have). `groups`: {"video": {"artifacts": n, "bytes": b}, ...}."""

    id: int
    queue: str
    worker: str
    job_id: str | None
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None
    artifacts_removed: int
    runs_removed: int
    bytes_freed: int
    groups: dict[str, dict[str, int]]
    error: str | None
