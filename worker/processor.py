"""One job -> one replay: mark the run running, replay it, store steps and artifacts, mark the result.

The processor knows nothing of HTTP. A run cancelled through the API is stopped by closing its browser
context (see `cancel`); every status write is guarded in SQL, so a late writer changes nothing. Whether a
failed attempt is final or retried is `worker.outcomes.decide`.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import structlog
from bullmq import Job
from bullmq.custom_errors import DelayedError, UnrecoverableError
from pydantic import ValidationError

from contract.options import RunOptions
from contract.results import RunResult, StepResult
from contract.runs import FailureCategory, RunStatus
from runner.formats import InvalidScript, Script, prepare_script
from runner.formats.variables import resolve_secrets
from storage import ArtifactStore, ArtifactWrite, RunNotFound, RunRecord, RunRepository, StepWrite, artifact_key
from worker.outcomes import Decision, decide

log = structlog.get_logger(__name__)

# The runner bounds a run by its own timeout; this margin covers browser start and artifact writes.
HARD_TIMEOUT_MARGIN_S = 60
CANCEL_FORCE_AFTER_S = 5.0

ReplayFunction = Callable[..., Awaitable[RunResult]]


class RetryRun(Exception):
    """Raised to BullMQ so that it retries the job with backoff (the attempt is recorded already)."""


@dataclass
class WorkerStats:
    processed: int = 0
    failed: int = 0


def _step_write(step: StepResult) -> StepWrite:
    return StepWrite(
        index=step.index,
        type=step.type,
        status=step.status,
        duration_ms=step.duration_ms,
        started_offset_ms=step.started_offset_ms,
        selector=step.selector,
        error=step.error,
        category=step.category,
    )


def _options_problem(error: ValidationError) -> str:
    """A stored options object pydantic refused, in one line: `device: unknown device 'X' (...)`."""
    problems = []
    for problem in error.errors(include_url=False):
        field = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        problems.append(f"{field}: {message}" if field else message)
    return "; ".join(problems)


class RunProcessor:
    def __init__(
        self,
        *,
        runs: RunRepository,
        artifacts: ArtifactStore,
        replay: ReplayFunction,
        worker_name: str,
        work_dir: Path,
        max_attempts: int = 3,
    ) -> None:
        self._runs = runs
        self._artifacts = artifacts
        self._replay = replay
        self._worker_name = worker_name
        self._work_dir = work_dir
        self._max_attempts = max_attempts
        self._active: dict[UUID, asyncio.Future[RunResult]] = {}
        self._cancel_requested: set[UUID] = set()
        self._handed_back: set[UUID] = set()
        self._stops: dict[UUID, asyncio.Event] = {}
        self.stats = WorkerStats()

    @property
    def active_count(self) -> int:
        return len(self._active)

    def cancel(self, run_id: UUID) -> bool:
        """Stop a run this worker is replaying (its browser context is closed, what it made so far is kept);
        False when it is not here. A replay that does not stop within CANCEL_FORCE_AFTER_S is cancelled."""
        task = self._active.get(run_id)
        stop = self._stops.get(run_id)
        if task is None or task.done() or stop is None:
            return False
        self._cancel_requested.add(run_id)
        stop.set()
        asyncio.get_running_loop().call_later(CANCEL_FORCE_AFTER_S, task.cancel)
        return True

    def hand_back_all(self) -> int:
        """Abort every active replay and return its job to the queue (shutdown after the grace period)."""
        handed = 0
        for run_id, task in list(self._active.items()):
            if not task.done():
                self._handed_back.add(run_id)
                task.cancel()
                handed += 1
        return handed

    @property
    def active_run_ids(self) -> list[str]:
        return sorted(str(run_id) for run_id in self._active)

    async def process(self, job: Job, token: str, signal: Any = None) -> dict[str, Any]:
        raw_run_id = (job.data or {}).get("runId")
        try:
            run_id = UUID(str(raw_run_id))
        except ValueError as error:
            raise UnrecoverableError(f"job {job.id} has no valid runId in its data: {raw_run_id!r}") from error
        structlog.contextvars.bind_contextvars(jobId=job.id, runId=str(run_id))
        try:
            return await self._process(job, run_id, token)
        finally:
            structlog.contextvars.unbind_contextvars("jobId", "runId")

    async def _process(self, job: Job, run_id: UUID, token: str) -> dict[str, Any]:
        try:
            run = await self._runs.get(run_id)
        except RunNotFound as error:
            raise UnrecoverableError(str(error)) from error
        if run.is_final:
            log.info("run already final, nothing to do", status=run.status)
            return {"runId": str(run_id), "status": run.status, "skipped": True}
        script, options, secret_values = await self._prepare(run)

        attempt = await self._runs.start_attempt(run_id, self._worker_name, token)
        if attempt is None:
            log.info("run no longer startable (cancelled or finished)")
            return {"runId": str(run_id), "status": "cancelled", "skipped": True}
        structlog.contextvars.bind_contextvars(attempt=attempt)
        try:
            return await self._attempt(job, token, run, attempt, script, options, secret_values)
        finally:
            structlog.contextvars.unbind_contextvars("attempt")

    async def _attempt(self, job: Job, token: str, run: RunRecord, attempt: int, script: Script,
                       options: RunOptions, secret_values: tuple[str, ...]) -> dict[str, Any]:
        run_id = run.id
        log.info("run started", name=run.name, status="running")
        output_dir = self._work_dir / str(run_id) / f"attempt-{attempt}"
        output_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()

        async def on_step(step: StepResult) -> None:
            try:
                await self._runs.record_step(run_id, attempt, _step_write(step))
            except Exception as error:  # live progress only: finish() writes every step again
                log.warning("could not record step progress", step=step.index, error=repr(error))

        stop = asyncio.Event()
        replay = asyncio.ensure_future(self._replay(script, options, output_dir, secret_values=secret_values,
                                                    on_step=on_step, stop=stop))
        self._active[run_id] = replay
        self._stops[run_id] = stop
        handed_back = False
        try:
            result = await asyncio.wait_for(
                asyncio.shield(replay), options.timeout_ms / 1000 + HARD_TIMEOUT_MARGIN_S
            )
        except asyncio.CancelledError:
            if run_id in self._handed_back:
                handed_back = True
                result = RunResult(status=RunStatus.ERROR, error=f"worker {self._worker_name} shut down before the run "
                                                         "finished; the run went back to the queue")
                status = "error"
            elif run_id in self._cancel_requested:
                result = RunResult(status=RunStatus.FAILED, error="cancelled by request")
                status = "cancelled"
            else:
                replay.cancel()
                raise  # the worker itself is being stopped: the job comes back through stalled detection
        except TimeoutError:
            replay.cancel()
            result = RunResult(status=RunStatus.FAILED, error="run exceeded its timeout and was aborted by the worker",
                               category=FailureCategory.TIMEOUT)
            status = "failed"
        else:
            status = "cancelled" if run_id in self._cancel_requested else result.status
        finally:
            self._active.pop(run_id, None)
            self._stops.pop(run_id, None)
            self._cancel_requested.discard(run_id)
            self._handed_back.discard(run_id)

        duration_ms = int((time.monotonic() - started) * 1000)
        if handed_back:
            decision = Decision(retry=True, attempt_status="abandoned")
        else:
            decision = decide(
                status=status,
                category=result.category,
                error=result.error,
                run_retries=options.retries,
                previous_attempts=await self._runs.attempt_counts(run_id),
                job_attempts_made=int(job.attemptsMade or 0),
                job_attempts=int(job.opts.get("attempts") or 1),
                max_attempts=self._max_attempts,
            )
        artifacts = await self._store_artifacts(run_id, attempt, output_dir, result)
        final = await self._runs.finish(
            run_id,
            attempt,
            status=status,
            error=result.error,
            category=result.category if status != "cancelled" else None,
            steps=[_step_write(step) for step in result.steps],
            artifacts=artifacts,
            actions_executed=result.actions_executed,
            duration_ms=duration_ms,
            requeue=decision.retry,
            attempt_status=decision.attempt_status,
        )
        shutil.rmtree(output_dir, ignore_errors=True)
        if handed_back:
            log.warning("run handed back to the queue", attemptStatus="abandoned")
            await job.moveToDelayed(int(time.time() * 1000), token)
            raise DelayedError("handed back to the queue at shutdown")
        if decision.retry and final is not None:
            log.info("attempt failed, run will be retried", status=status, error=result.error,
                     category=result.category, attemptsMade=job.attemptsMade)
            raise RetryRun(result.error or status)
        final_status = final.status if final is not None else (await self._runs.get(run_id)).status
        self.stats.processed += 1
        if final_status != "passed":
            self.stats.failed += 1
        log.info(
            "run finished",
            status=final_status,
            actionsExecuted=result.actions_executed,
            duration=duration_ms,
            error=result.error,
            category=result.category,
        )
        if decision.dead_letter and final is not None:
            raise UnrecoverableError(result.error or "infrastructure error")
        return {
            "runId": str(run_id),
            "status": final_status,
            "attempt": attempt,
            "actionsExecuted": result.actions_executed,
            "durationMs": duration_ms,
        }

    async def _prepare(self, run: RunRecord) -> tuple[Script, RunOptions, tuple[str, ...]]:
        """The script with its variables and secrets filled in, the replay options and the secrets' values;
        a run that cannot be replayed here ends `error` (UnrecoverableError: retrying would not help)."""
        try:
            options = RunOptions.model_validate(run.options)
        except ValidationError as error:
            # Stored by an API that validated them, so only a device or time zone this release does not
            # know (or a row written by hand) gets here.
            reason = f"invalid run options: {_options_problem(error)}"
            await self._runs.fail_unstarted(run.id, reason)
            raise UnrecoverableError(reason) from error
        try:
            secrets = resolve_secrets(options.secrets)
        except LookupError as error:
            # Configuration of this worker, not the recording: say so, and don't replay half a script.
            reason = f"worker {self._worker_name} cannot run it: {error}"
            await self._runs.fail_unstarted(run.id, reason)
            raise UnrecoverableError(reason) from error
        try:
            script = prepare_script(run.script, options.variables, secrets)
        except InvalidScript as error:
            message = f"invalid script: {error}"  # prepare_script masked the secrets
            await self._runs.fail_unstarted(run.id, message, FailureCategory.INVALID_SCRIPT)
            raise UnrecoverableError(message) from error
        return script, options, tuple(secrets.values())

    async def _store_artifacts(
        self, run_id: UUID, attempt: int, output_dir: Path, result: RunResult
    ) -> list[ArtifactWrite]:
        stored: list[ArtifactWrite] = []
        for artifact in result.artifacts:
            if not artifact.path.is_file():
                log.warning("artifact file missing", path=str(artifact.path), kind=artifact.kind)
                continue
            key = artifact_key(artifact.kind, run_id, attempt, artifact.path.name)
            saved = await self._artifacts.save(artifact.path, key)
            stored.append(
                ArtifactWrite(
                    kind=artifact.kind,
                    step_index=artifact.step_index,
                    storage_key=saved.storage_key,
                    content_type=artifact.content_type,
                    size_bytes=saved.size_bytes,
                )
            )
        return stored
