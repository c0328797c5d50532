"""Run rows in Postgres: create, read, and the guarded status transitions (contract/runs.py).

A final status is never overwritten: every transition is a guarded UPDATE (see queries.sql), and a writer
that lost the race learns it from the empty result. A repository is bound to one queue: it reads and
writes that queue's runs only.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

import asyncpg

from contract.options import DEFAULT_PRIORITY, Priority, RunOptions
from contract.results import StepResult
from contract.runs import AttemptStatus, FailureCategory, RunStatus
from runner.formats import Script
from storage.errors import IdempotencyConflict, InvalidTransition, RunNotFound
from storage.queries import load_queries
from storage.records import ArtifactRecord, AttemptRecord, RunRecord
from storage.retry import retry_database

T = TypeVar("T")


@dataclass(frozen=True)
class NewRun:
    name: str
    script_format: str
    script: dict[str, Any]
    options: dict[str, Any]  # RunOptions.stored()
    idempotency_key: str | None = None
    idempotency_body_hash: str | None = None  # what the key was used with (a request's sha256)
    idempotency_ttl_s: float = 86_400.0
    retry_of: UUID | None = None
    recording_id: UUID | None = None
    import_warnings: list[dict[str, Any]] = field(default_factory=list)
    queued_by: str | None = None  # the API key's name (None: AUTH=none, or not queued through the API)
    job_id: str | None = None  # the BullMQ job that asked for it, when not added by Reprise (then its id is the run's)
    schedule_id: UUID | None = None  # the schedule whose tick made it

    @classmethod
    def admitted(cls, script: Script, script_data: dict[str, Any], options: RunOptions, name: str | None, *,
                 default_priority: Priority = DEFAULT_PRIORITY, recording_id: UUID | None = None,
                 queued_by: str | None = None, job_id: str | None = None,
                 schedule_id: UUID | None = None) -> NewRun:
        """The run of a request that passed `runner.formats.admission.admit`: named as asked, else after its
        recording; its options as stored, with a priority (the request's, else `default_priority`)."""
        stored = options.model_copy(update={"priority": options.priority or default_priority}).stored()
        return cls(name=name or script.name, script_format=script.format, script=script_data, options=stored,
                   import_warnings=[note.to_json() for note in script.warnings], recording_id=recording_id,
                   queued_by=queued_by, job_id=job_id, schedule_id=schedule_id)


@dataclass(frozen=True)
class RunFilters:
    status: RunStatus | None = None
    name: str | None = None  # substring of the run's name, any case
    worker: str | None = None
    search: str | None = None  # substring of the name or the error, any case
    created_from: datetime | None = None
    created_to: datetime | None = None
    priority: Priority | None = None
    schedule_id: UUID | None = None  # made by this schedule's ticks
    flaky: bool | None = None  # passed after a failed attempt (or, False, not)


def _like(text: str | None) -> str | None:
    """`text` for `ILIKE '%' || text || '%'`: its own % and _ match themselves."""
    if not text:
        return None
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class ArtifactWrite:
    kind: str
    step_index: int | None
    storage_key: str
    content_type: str
    size_bytes: int


@dataclass(frozen=True)
class AttemptOutcome:
    """How an attempt ended, written at once by `RunRepository.finish`.

    `requeue`: the attempt is over but the run is not: it goes back to `queued` (its job is retried) and the
    attempt is recorded as `attempt_status`. Otherwise `status` is the run's final status (and the attempt's).
    """

    status: RunStatus
    error: str | None
    category: FailureCategory | None
    steps: Sequence[StepResult]
    artifacts: Sequence[ArtifactWrite]
    actions_executed: int
    duration_ms: int
    requeue: bool = False
    attempt_status: AttemptStatus | None = None

    @property
    def recorded_attempt_status(self) -> AttemptStatus:
        return self.attempt_status or AttemptStatus(self.status.value)


def insert_run_args(queue: str, new_run: NewRun) -> tuple[Any, ...]:
    """The parameters of the `insert_run` query (a new run id each call)."""
    return (queue, uuid4(), new_run.name, new_run.script_format, new_run.script, new_run.options,
            new_run.idempotency_key, new_run.retry_of, new_run.import_warnings, new_run.recording_id,
            new_run.queued_by, new_run.idempotency_body_hash, new_run.idempotency_ttl_s, new_run.job_id,
            new_run.schedule_id)


def _step_args(run_id: UUID, attempt: int, step: StepResult) -> tuple[Any, ...]:
    return (run_id, attempt, step.index, step.type, step.status, step.duration_ms, step.started_offset_ms,
            step.selector, step.error, step.category, step.warning)


class RunRepository:
    """One queue's runs. `retry_for_s` > 0 (the worker): calls retry while Postgres is unreachable, for up to
    that long; the API answers 503 at once instead."""

    def __init__(self, pool: asyncpg.Pool, *, queue: str, retry_for_s: float = 0.0) -> None:
        self._pool = pool
        self._sql = load_queries()
        self.queue = queue
        self._retry_for_s = retry_for_s

    async def _retrying(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        if self._retry_for_s <= 0:
            return await call()
        return await retry_database(call, for_seconds=self._retry_for_s, what=what)

    async def create(self, new_run: NewRun) -> tuple[RunRecord, bool]:
        """Insert a run; with an idempotency key already used on this queue (and not expired), or a job that already
        has its run here, return that run. (run, created)."""
        if new_run.idempotency_key is not None:
            await self._pool.execute(self._sql["release_expired_idempotency_key"], self.queue,
                                     new_run.idempotency_key)
        row = await self._pool.fetchrow(self._sql["insert_run"], *insert_run_args(self.queue, new_run))
        if row is not None:
            return RunRecord.from_row(row), True
        if new_run.job_id is not None and (by_job := await self.by_job(new_run.job_id)) is not None:
            return by_job, False
        existing = await self._pool.fetchrow(self._sql["get_run_by_idempotency_key"], self.queue,
                                             new_run.idempotency_key)
        if existing is None:  # deleted between the two statements
            raise RunNotFound(f"run with idempotency key {new_run.idempotency_key!r} vanished")
        return RunRecord.from_row(existing), False

    async def create_batch(self, new_runs: Sequence[NewRun], *, idempotency_body_hash: str | None = None,
                           ) -> tuple[list[RunRecord], bool]:
        """Insert the runs with one statement in one transaction, numbered in order: (the runs in order, True).

        The runs share `queued_by`, `idempotency_ttl_s` and, when they carry idempotency keys (all or none), the
        whole batch's `idempotency_body_hash`. When every key already has its run here: (those runs, False). When
        only some do, or the earlier runs were queued with another body, IdempotencyConflict and nothing is
        inserted."""
        if not new_runs:
            return [], True
        first = new_runs[0]
        keys = [run.idempotency_key for run in new_runs]
        keyed = [key for key in keys if key is not None]
        ids = [uuid4() for _ in new_runs]
        columns = (ids, [run.name for run in new_runs], [run.script_format for run in new_runs],
                   [json.dumps(run.script) for run in new_runs], [json.dumps(run.options) for run in new_runs], keys,
                   [json.dumps(run.import_warnings) for run in new_runs])  # as text: see insert_runs
        async with self._pool.acquire() as connection, connection.transaction():
            if keyed:
                await connection.execute(self._sql["release_expired_idempotency_keys"], self.queue, keyed)
            rows = await connection.fetch(self._sql["insert_runs"], self.queue, *columns, first.queued_by,
                                          idempotency_body_hash, first.idempotency_ttl_s)
            if len(rows) == len(new_runs):
                by_id = {row["id"]: RunRecord.from_row(row) for row in rows}
                return [by_id[run_id] for run_id in ids], True
            existing = {row["idempotency_key"]: RunRecord.from_row(row) for row in await connection.fetch(
                self._sql["get_runs_by_idempotency_keys"], self.queue, keyed)}
            earlier = [existing.get(key) for key in keys]
            if rows or None in earlier or any(run is not None and run.idempotency_body_hash != idempotency_body_hash
                                              for run in earlier):
                # Raising rolls back whatever this statement inserted.
                raise IdempotencyConflict("the idempotency key was used with another batch")
            return [run for run in earlier if run is not None], False

    async def by_job(self, job_id: str) -> RunRecord | None:
        """The run a producer's job or a schedule's tick made on this queue, if any."""
        row = await self._pool.fetchrow(self._sql["get_run_by_job"], self.queue, job_id)
        return RunRecord.from_row(row) if row is not None else None

    async def get(self, run_id: UUID) -> RunRecord:
        row = await self._retrying("get run", lambda: self._pool.fetchrow(self._sql["get_run"], self.queue, run_id))
        if row is None:
            raise RunNotFound(f"run {run_id} not found")
        return RunRecord.from_row(row)

    async def list_page(self, *, limit: int, offset: int = 0, filters: RunFilters | None = None,
                        before: int | None = None) -> tuple[list[RunRecord], int | None]:
        """A page of runs, newest first, and the total that match (None when paging by `before`: counting a
        million rows for every page is what keyset paging avoids)."""
        chosen = filters or RunFilters()
        where = (self.queue, chosen.status, _like(chosen.name), chosen.worker, _like(chosen.search),
                 chosen.created_from, chosen.created_to, chosen.priority, chosen.schedule_id)
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(self._sql["list_runs"], *where, before, limit, offset, chosen.flaky)
            total = None if before is not None else await connection.fetchval(self._sql["count_runs"], *where,
                                                                               chosen.flaky)
        return [RunRecord.from_row(row) for row in rows], (int(total) if total is not None else None)

    async def throughput(self, *, window_s: int, bucket_s: int) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(self._sql["throughput"], self.queue, window_s, bucket_s)
        return [dict(row) for row in rows]

    async def start_attempt(self, run_id: UUID, worker_name: str, job_token: str | None) -> int | None:
        """Mark the run running for a new attempt; None when the run is final (cancelled, finished)."""
        return await self._retrying("start attempt", lambda: self._start_attempt(run_id, worker_name, job_token))

    async def _start_attempt(self, run_id: UUID, worker_name: str, job_token: str | None) -> int | None:
        async with self._pool.acquire() as connection, connection.transaction():
            attempt = await connection.fetchval(self._sql["start_attempt"], self.queue, run_id, worker_name)
            if attempt is None:
                if await connection.fetchval(self._sql["get_run_status"], self.queue, run_id) is None:
                    raise RunNotFound(f"run {run_id} not found")
                return None
            await connection.execute(self._sql["abandon_open_attempts"], run_id, attempt)
            await connection.execute(self._sql["insert_attempt"], run_id, attempt, worker_name, job_token)
            return int(attempt)

    async def record_step(self, run_id: UUID, attempt: int, step: StepResult) -> None:
        """Live progress of one step; `finish` writes every step again."""
        await self._pool.execute(self._sql["upsert_step"], *_step_args(run_id, attempt, step))

    async def finish(self, run_id: UUID, attempt: int, outcome: AttemptOutcome) -> RunRecord | None:
        """Write the attempt's steps, artifacts and outcome at once. Returns None when the run was no longer
        this attempt's to finish (cancelled meanwhile, or a newer attempt owns it): its steps and artifacts
        are still kept, under this attempt."""
        return await self._retrying("finish attempt", lambda: self._finish(run_id, attempt, outcome))

    async def _finish(self, run_id: UUID, attempt: int, outcome: AttemptOutcome) -> RunRecord | None:
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.executemany(self._sql["upsert_step"],
                                         [_step_args(run_id, attempt, step) for step in outcome.steps])
            await connection.executemany(
                self._sql["insert_artifact"],
                [
                    (run_id, attempt, a.kind, a.step_index, a.storage_key, a.content_type, a.size_bytes)
                    for a in outcome.artifacts
                ],
            )
            if outcome.requeue:
                row = await connection.fetchrow(self._sql["requeue_run"], self.queue, run_id, attempt,
                                                outcome.error, outcome.category)
            else:
                row = await connection.fetchrow(self._sql["finish_run"], self.queue, run_id, attempt,
                                                outcome.status, outcome.error, outcome.actions_executed,
                                                outcome.duration_ms, outcome.category)
            if row is not None:
                attempt_status = outcome.recorded_attempt_status
            else:
                current = await connection.fetchval(self._sql["get_run_status"], self.queue, run_id)
                attempt_status = (AttemptStatus.CANCELLED if current == RunStatus.CANCELLED
                                  else AttemptStatus.ABANDONED)
            await connection.execute(self._sql["finish_attempt"], run_id, attempt, attempt_status, outcome.error,
                                     outcome.category)
        return RunRecord.from_row(row) if row is not None else None

    async def fail_unstarted(self, run_id: UUID, reason: str,
                             category: FailureCategory | None = None) -> RunRecord | None:
        row = await self._retrying(
            "fail run",
            lambda: self._pool.fetchrow(self._sql["fail_unstarted_run"], self.queue, run_id, reason, category))
        return RunRecord.from_row(row) if row is not None else None

    async def fail_unstarted_batch(self, run_ids: Sequence[UUID], reason: str,
                                   category: FailureCategory | None = None) -> list[UUID]:
        """`fail_unstarted` for many runs in one statement; the ids of those it ended."""
        rows = await self._retrying("fail runs", lambda: self._pool.fetch(
            self._sql["fail_unstarted_runs"], self.queue, list(run_ids), reason, category))
        return [row["id"] for row in rows]

    async def end_orphan(self, run_id: UUID, reason: str, category: FailureCategory) -> RunRecord | None:
        """A queued/running run nobody will finish: `error` with the reason; open attempts `abandoned`."""
        async def end() -> asyncpg.Record | None:
            async with self._pool.acquire() as connection, connection.transaction():
                await connection.execute(self._sql["abandon_run_attempts"], run_id, reason)
                return await connection.fetchrow(self._sql["fail_unstarted_run"], self.queue, run_id, reason,
                                                 category)

        row = await self._retrying("end orphan", end)
        return RunRecord.from_row(row) if row is not None else None

    async def requeue_orphan(self, run_id: UUID, reason: str) -> RunRecord | None:
        """A run whose job vanished goes back to `queued` (the caller adds a new job); open attempts end."""
        async def requeue() -> asyncpg.Record | None:
            async with self._pool.acquire() as connection, connection.transaction():
                await connection.execute(self._sql["abandon_run_attempts"], run_id, reason)
                return await connection.fetchrow(self._sql["requeue_orphan_run"], self.queue, run_id, reason)

        row = await self._retrying("requeue orphan", requeue)
        return RunRecord.from_row(row) if row is not None else None

    async def unfinished(self, *, quiet_for_s: float, limit: int = 500) -> list[RunRecord]:
        """This queue's queued or running runs with no new attempt for `quiet_for_s` seconds, oldest first."""
        rows = await self._retrying(
            "list unfinished",
            lambda: self._pool.fetch(self._sql["list_unfinished_runs"], self.queue, quiet_for_s, limit))
        return [RunRecord.from_row(row) for row in rows]

    async def attempt_counts(self, run_id: UUID) -> dict[AttemptStatus, int]:
        """How many of the run's attempts ended in each status (passed, failed, error, abandoned, ...)."""
        rows = await self._retrying(
            "count attempts", lambda: self._pool.fetch(self._sql["count_attempts_by_status"], run_id)
        )
        return {AttemptStatus(row["status"]): int(row["attempts"]) for row in rows}

    async def cancel(self, run_id: UUID, reason: str | None = None, *, by: str | None = None) -> RunRecord:
        row = await self._pool.fetchrow(self._sql["cancel_run"], self.queue, run_id, reason, by)
        if row is None:
            run = await self.get(run_id)
            raise InvalidTransition(f"run {run_id} is already {run.status}; only queued or running runs cancel")
        return RunRecord.from_row(row)

    async def steps(self, run_id: UUID, attempt: int) -> list[StepResult]:
        rows = await self._pool.fetch(self._sql["list_steps"], run_id, attempt)
        return [StepResult.model_validate(dict(row)) for row in rows]

    async def attempts(self, run_id: UUID) -> list[AttemptRecord]:
        rows = await self._pool.fetch(self._sql["list_attempts"], run_id)
        return [AttemptRecord.from_row(row) for row in rows]

    async def artifacts(self, run_id: UUID) -> list[ArtifactRecord]:
        rows = await self._pool.fetch(self._sql["list_artifacts"], run_id)
        return [ArtifactRecord.from_row(row) for row in rows]

    async def artifact_bytes(self, run_id: UUID) -> int:
        """What the run's artifacts (every attempt's) take in the store."""
        value = await self._retrying("sum artifact sizes", lambda: self._pool.fetchval(
            self._sql["run_artifact_bytes"], run_id))
        return int(value or 0)

    async def note_skipped_artifacts(self, run_id: UUID, skipped: list[dict[str, Any]]) -> None:
        """Record artifacts a worker did not store (the run's byte cap), for the run to show."""
        await self._retrying("note skipped artifacts", lambda: self._pool.execute(
            self._sql["note_skipped_artifacts"], self.queue, run_id, skipped))

    async def artifact(self, run_id: UUID, artifact_id: int) -> ArtifactRecord | None:
        row = await self._pool.fetchrow(self._sql["get_artifact"], run_id, artifact_id)
        return ArtifactRecord.from_row(row) if row is not None else None
