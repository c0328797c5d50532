"""Runs: queue one (validated, recorded, enqueued), read them, cancel, copy for a retry."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

import structlog

from api.errors import IdempotencyKeyReused, InvalidBatch, ServiceUnavailable
from contract.network import BlockedUrl, NetworkPolicy
from contract.options import DEFAULT_PRIORITY, Priority, RunOptions
from contract.requests import RunRequest
from contract.results import StepResult
from jobs.queue import RunJob, RunQueue
from runner.formats import InvalidScript
from runner.formats.admission import admit
from storage import (
    ArtifactRecord,
    AttemptRecord,
    IdempotencyConflict,
    NewRun,
    RunFilters,
    RunNotFound,
    RunRecord,
    RunRepository,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RunView:
    """One run with everything `GET /api/runs/{id}` shows: the latest attempt's steps, every attempt, and
    every artifact."""

    run: RunRecord
    steps: list[StepResult]
    attempts: list[AttemptRecord]
    artifacts: list[ArtifactRecord]


def _request_hash(script: dict[str, Any], name: str | None, options: dict[str, Any],
                  recording_id: UUID | None) -> str:
    """What an Idempotency-Key stands for: the request as validated, canonically spelled."""
    canonical = json.dumps({"script": script, "name": name, "options": options,
                            "recording": str(recording_id) if recording_id else None},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def batch_item_key(idempotency_key: str, index: int) -> str:
    """The idempotency key a batch's run `index` is stored under: the batch's key, then where the run is."""
    return f"{idempotency_key}/runs[{index}]"


def batch_hash(item_hashes: list[str]) -> str:
    """What a batch's Idempotency-Key stands for: its runs, in order (each `_request_hash`)."""
    return hashlib.sha256("\n".join(item_hashes).encode()).hexdigest()


def admission_problem(error: InvalidScript | BlockedUrl, where: str) -> tuple[str, str, str]:
    """One refused run of several (a batch's, a suite's): its error code, the field named from `where` (`runs[3]`,
    `recordings[1]`), the message."""
    if isinstance(error, InvalidScript):
        return "invalid_script", f"{where}.script" + (f".{error.field}" if error.field else ""), error.message
    return "blocked_url", f"{where}.{error.field}", error.message


class RunService:
    def __init__(self, runs: RunRepository, queue: RunQueue, network: NetworkPolicy | None = None, *,
                 idempotency_ttl_s: float = 86_400.0) -> None:
        self._runs = runs
        self._queue = queue
        self._network = network if network is not None else NetworkPolicy()
        self._idempotency_ttl_s = idempotency_ttl_s

    async def create(self, options: RunOptions, script_data: dict[str, Any], name: str | None, *,
                     idempotency_key: str | None = None, recording_id: UUID | None = None,
                     queued_by: str | None = None, default_priority: Priority = DEFAULT_PRIORITY,
                     ) -> tuple[RunRecord, bool]:
        """Validate the recording (InvalidScript names the field), record the run and queue it (with its options'
        priority, else `default_priority`). With an idempotency key already used, the first run and False."""
        script = admit(script_data, options, self._network)
        admitted = NewRun.admitted(script, script_data, options, name, default_priority=default_priority,
                                   recording_id=recording_id, queued_by=queued_by)
        new_run = replace(
            admitted, idempotency_key=idempotency_key, idempotency_ttl_s=self._idempotency_ttl_s,
            idempotency_body_hash=_request_hash(script_data, name, admitted.options, recording_id)
            if idempotency_key else None)
        run, created = await self._create_and_enqueue(new_run)
        if not created and run.idempotency_body_hash not in (None, new_run.idempotency_body_hash):
            raise IdempotencyKeyReused(f"Idempotency-Key {idempotency_key!r} was used with another request body "
                                       f"(run {run.id}); use a new key for a different run")
        return run, created

    async def create_batch(self, requests: list[RunRequest], *, idempotency_key: str | None = None,
                           queued_by: str | None = None) -> tuple[list[RunRecord], bool]:
        """Validate every run (InvalidBatch names each invalid one, `runs[i]...`, and nothing is stored), record
        them with one insert and queue them with one `addBulk`. With an idempotency key this batch already used:
        the first batch's runs and False (IdempotencyKeyReused when it was used with another batch)."""
        admitted: list[NewRun] = []
        problems: list[tuple[str, str]] = []
        codes: list[str] = []
        for index, request in enumerate(requests):
            try:
                script = admit(request.script, request, self._network)
            except (InvalidScript, BlockedUrl) as error:
                code, field, message = admission_problem(error, f"runs[{index}]")
                codes.append(code)
                problems.append((field, message))
                continue
            admitted.append(NewRun.admitted(script, request.script, request, request.name, queued_by=queued_by))
        if problems:
            raise InvalidBatch(codes[0], problems)
        body_hash = None
        if idempotency_key:
            body_hash = batch_hash([_request_hash(run.script, request.name, run.options, None)
                                    for run, request in zip(admitted, requests, strict=True)])
            admitted = [replace(run, idempotency_key=batch_item_key(idempotency_key, index),
                                idempotency_ttl_s=self._idempotency_ttl_s) for index, run in enumerate(admitted)]
        try:
            runs, created = await self._runs.create_batch(admitted, idempotency_body_hash=body_hash)
        except IdempotencyConflict as error:
            raise IdempotencyKeyReused(f"Idempotency-Key {idempotency_key!r} was used with another batch; use a new "
                                       f"key for a different batch") from error
        if created:
            await self._enqueue_batch(runs, [RunJob(run.id, request.retries, request.queue_priority)
                                             for run, request in zip(runs, requests, strict=True)])
            log.info("runs queued", runs=len(runs), first=runs[0].number, last=runs[-1].number, by=queued_by)
        return runs, created

    async def _enqueue_batch(self, runs: list[RunRecord], jobs: list[RunJob]) -> None:
        """One `addBulk` for the batch; if Redis refuses, every run still queued is marked `error` with the reason
        (as `_enqueue` does for one), and 503. A crash between the insert and here leaves runs queued with no job:
        the workers' orphan sweep adds their jobs again."""
        try:
            await self._queue.enqueue_batch(jobs)
        except Exception as error:
            reason = f"could not enqueue the run: {error}"
            log.error("batch enqueue failed", runs=len(runs), error=str(error))
            await self._runs.fail_unstarted_batch([run.id for run in runs], reason)
            raise ServiceUnavailable("redis", str(error)) from error

    async def copy(self, original: RunRecord, *, queued_by: str | None = None) -> RunRecord:
        """A new run with `original`'s recording and options, linked back to it (`retryOf`), queued (by whoever
        asked for the retry)."""
        new_run = NewRun(
            name=original.name,
            script_format=original.script_format,
            script=original.script,
            options=original.options,
            retry_of=original.id,
            recording_id=original.recording_id,
            import_warnings=original.import_warnings,
            queued_by=queued_by,
        )
        run, _ = await self._create_and_enqueue(new_run)
        return run

    async def _create_and_enqueue(self, new_run: NewRun) -> tuple[RunRecord, bool]:
        run, created = await self._runs.create(new_run)
        if created:
            await self._enqueue(run)
            log.info("run queued", runId=str(run.id), number=run.number, name=run.name, by=run.queued_by)
        return run, created

    async def _enqueue(self, run: RunRecord) -> None:
        """Add the job; if Redis refuses, the run is marked `error` with the reason rather than left queued."""
        try:
            options = run.replay_options()
            await self._queue.enqueue(run.id, options.retries, options.queue_priority, run.job_id)
        except Exception as error:
            reason = f"could not enqueue the run: {error}"
            log.error("enqueue failed", runId=str(run.id), error=str(error))
            await self._runs.fail_unstarted(run.id, reason)
            raise ServiceUnavailable("redis", str(error)) from error

    async def get(self, run_id: UUID) -> RunRecord:
        return await self._runs.get(run_id)

    async def by_job(self, job_id: str) -> RunRecord | None:
        return await self._runs.by_job(job_id)

    async def view(self, run_id: UUID) -> RunView:
        run = await self._runs.get(run_id)
        steps = await self._runs.steps(run_id, run.attempts) if run.attempts else []
        return RunView(run=run, steps=steps, attempts=await self._runs.attempts(run_id),
                       artifacts=await self._runs.artifacts(run_id))

    async def page(self, *, limit: int, offset: int, filters: RunFilters,
                   before: int | None) -> tuple[list[RunRecord], int | None]:
        return await self._runs.list_page(limit=limit, offset=offset, filters=filters, before=before)

    async def attempt_steps(self, run_id: UUID, attempt: int) -> list[StepResult]:
        run = await self._runs.get(run_id)
        if attempt > run.attempts:
            raise RunNotFound(f"run {run_id} has no attempt {attempt} (it has {run.attempts})")
        return await self._runs.steps(run_id, attempt)

    async def cancel(self, run_id: UUID, *, by: str | None = None) -> RunRecord:
        """Cancel a queued run (its job is removed) or a running one (the worker that holds it is told to
        stop); InvalidTransition when it already ended."""
        run = await self._runs.cancel(run_id, "cancelled by request", by=by)
        removed = await self._queue.remove(run.job)
        if not removed:
            await self._queue.request_cancel(run_id)
        log.info("run cancelled", runId=str(run_id), removedFromQueue=removed, by=by)
        return run

    async def throughput(self, *, window_s: int, bucket_s: int) -> list[dict[str, Any]]:
        return await self._runs.throughput(window_s=window_s, bucket_s=bucket_s)
