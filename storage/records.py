"""Typed rows: what the storage package hands to the API and the worker."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal, Self
from uuid import UUID

import asyncpg

RunStatus = Literal["queued", "running", "passed", "failed", "error", "cancelled"]
FINAL_STATUSES: frozenset[str] = frozenset({"passed", "failed", "error", "cancelled"})


class _FromRow:
    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Self:
        names = {field.name for field in fields(cls)}  # type: ignore[arg-type]
        return cls(**{key: value for key, value in row.items() if key in names})


@dataclass(frozen=True)
class RunRecord(_FromRow):
    id: UUID
    number: int
    name: str
    script_format: str
    script: dict[str, Any]
    options: dict[str, Any]
    status: RunStatus
    attempts: int
    worker_name: str | None
    error: str | None
    error_category: str | None
    idempotency_key: str | None
    retry_of: UUID | None
    recording_id: UUID | None
    import_warnings: list[dict[str, Any]]
    actions_executed: int | None
    duration_ms: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class AttemptRecord(_FromRow):
    run_id: UUID
    attempt: int
    worker_name: str
    status: str
    error: str | None
    error_category: str | None
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class StepRecord(_FromRow):
    run_id: UUID
    attempt: int
    step_index: int
    step_type: str
    status: str
    duration_ms: int
    started_offset_ms: int
    selector: str | None
    error: str | None
    error_category: str | None


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
