"""One job -> one attempt of its run, in five steps: replay -> outcome -> decision -> persist -> report.

    process(job)   load the run and prepare it (options, secrets, script), start the attempt
      replay       ActiveReplays.run: the replay in Chromium, bounded, cancellable  -> ReplayEnd
                   then its files into the artifact store (uploads retried for STORAGE_RETRY_SECONDS);
                   the scratch folder goes either way
      outcome      outcomes.judge: what the attempt's end means                      -> Outcome
      decision     outcomes.decide: final, retried, dead-lettered or handed back     -> Decision
      persist      the steps, the stored artifacts and the guarded status writes (storage)
      report       the answer BullMQ gets: a return value, or RetryRun / UnrecoverableError / DelayedError

The processor knows nothing of HTTP. Every status write is guarded in SQL, so a late writer (an attempt
whose run was cancelled meanwhile, or taken over by another worker) changes nothing.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import structlog
from bullmq import Job
from bullmq.custom_errors import DelayedError, UnrecoverableError
from pydantic import ValidationError

from contract.flaky import QuarantinePolicy
from contract.options import RunOptions
from contract.results import RunResult, StepResult
from contract.runs import FailureCategory, RunStatus
from contract.visual import VisualBaselines
from runner.formats import InvalidScript, Script, prepare_script
from runner.formats.steps import Screenshot
from runner.formats.variables import resolve_secrets
from storage import (
    ArtifactNotFound,
    ArtifactStore,
    ArtifactStoreError,
    ArtifactWrite,
    AttemptOutcome,
    BaselineRepository,
    FlakyRepository,
    RunNotFound,
    RunRecord,
    RunRepository,
    artifact_key,
)
from storage.retry import is_transient_store_error, retry_while
from worker.intake import InvalidJob, JobIntake, SkippedTick, validation_problem
from worker.outcomes import Decision, JobAction, Outcome, ReplayEnd, decide, judge
from worker.progress import StepProgress
from worker.replays import ActiveReplays

log = structlog.get_logger(__name__)


class RetryRun(Exception):
    """Raised to BullMQ so that it retries the job with backoff (the attempt is recorded already)."""


@dataclass
class WorkerStats:
    """Runs this worker process took to their end: the final status its attempt wrote, or found written meanwhile
    (a cancel), by status."""

    processed: int = 0
    failed: int = 0  # every final status but passed
    by_status: Counter[str] = field(default_factory=Counter)  # final status -> runs


@dataclass
class KeptArtifacts:
    artifacts: list[ArtifactWrite] = field(default_factory=list)  # in the store, to be listed with the attempt
    failure: str | None = None  # why one could not be stored
    skipped: list[dict[str, Any]] = field(default_factory=list)  # over the run's byte cap: not stored


@dataclass(frozen=True)
class PreparedRun:
    run: RunRecord
    script: Script
    options: RunOptions
    secret_values: tuple[str, ...]
    visual: VisualBaselines | None = None  # for a script with compared screenshots only


def run_summary(run: RunRecord, api_base_url: str | None, *, attempt: int | None = None) -> dict[str, Any]:
    """A finished job's return value: what a producer awaiting it (`job.waitUntilFinished`) learns of its run."""
    return {
        "runId": str(run.id),
        "number": run.number,
        "status": run.status.value,
        "error": run.error,
        "errorCategory": run.error_category.value if run.error_category else None,
        "durationMs": run.duration_ms,
        "actionsExecuted": run.actions_executed,
        "attempt": attempt if attempt is not None else run.attempts,
        "url": f"{api_base_url.rstrip('/')}/api/runs/{run.id}" if api_base_url else None,
    }


class RunProcessor:
    def __init__(self, *, runs: RunRepository, artifacts: ArtifactStore, replays: ActiveReplays, worker_name: str,
                 work_dir: Path, intake: JobIntake, max_attempts: int = 3, storage_retry_s: float = 120.0,
                 max_run_artifact_bytes: int | None = None, api_base_url: str | None = None,
                 baselines: BaselineRepository | None = None, flaky: FlakyRepository | None = None,
                 quarantine: QuarantinePolicy | None = None) -> None:
        self._runs = runs
        self._baselines = baselines
        self._flaky = flaky
        self._quarantine = quarantine or QuarantinePolicy(flips=0)
        self._intake = intake
        self._api_base_url = api_base_url
        self._max_run_artifact_bytes = max_run_artifact_bytes
        self._artifacts = artifacts
        self._storage_retry_s = storage_retry_s
        self.replays = replays
        self._worker_name = worker_name
        self._work_dir = work_dir
        self._max_attempts = max_attempts
        self.stats = WorkerStats()

    async def process(self, job: Job, token: str, signal: Any = None) -> dict[str, Any]:
        """BullMQ's processor: the job names its run (`{"runId": ...}`), or is a run request from another
        producer or a schedule's tick (worker.intake)."""
        structlog.contextvars.bind_contextvars(jobId=job.id)
        try:
            try:
                run_for = await self._intake.run_for(job)
            except InvalidJob as error:
                log.warning("job refused: not a run", error=str(error))
                raise UnrecoverableError(str(error)) from error
            if isinstance(run_for, SkippedTick):
                log.info("schedule tick skipped", scheduleId=run_for.schedule_id, reason=run_for.reason)
                return {"skipped": True, "scheduleId": run_for.schedule_id, "reason": run_for.reason}
            structlog.contextvars.bind_contextvars(runId=str(run_for))
            return await self._process(job, run_for, token)
        finally:
            structlog.contextvars.unbind_contextvars("jobId", "runId", "attempt")

    async def _process(self, job: Job, run_id: UUID, token: str) -> dict[str, Any]:
        try:
            run = await self._runs.get(run_id)
        except RunNotFound as error:
            raise UnrecoverableError(str(error)) from error
        if run.is_final:
            log.info("run already final, nothing to do", status=run.status)
            return {**run_summary(run, self._api_base_url), "skipped": True}
        prepared = await self._prepare(run)
        prepared = PreparedRun(run, prepared.script, prepared.options, prepared.secret_values,
                               await self._visual(run, prepared.script))
        attempt = await self._runs.start_attempt(run_id, self._worker_name, token)
        if attempt is None:
            log.info("run no longer startable (cancelled or finished)")
            return {**run_summary(await self._runs.get(run_id), self._api_base_url), "skipped": True}
        structlog.contextvars.bind_contextvars(attempt=attempt)
        log.info("run started", name=run.name, status=RunStatus.RUNNING)
        output_dir = self._work_dir / str(run_id) / f"attempt-{attempt}"
        output_dir.mkdir(parents=True, exist_ok=True)

        end = await self._replay(prepared, attempt, output_dir, job)
        try:
            kept = await self._keep_artifacts(run_id, attempt, end.result)
        finally:
            shutil.rmtree(output_dir, ignore_errors=True)
        outcome = judge(end, self._worker_name, storage_failure=kept.failure)
        decision = decide(
            outcome,
            ending=end.ending,
            run_retries=prepared.options.retries,
            previous_attempts=await self._runs.attempt_counts(run_id),
            job_attempts_made=int(job.attemptsMade or 0),
            job_attempts=int(job.opts.get("attempts") or 1),
            max_attempts=self._max_attempts,
        )
        final = await self._persist(run_id, attempt, end, kept.artifacts, outcome, decision)
        if final is not None and final.is_final and final.recording_id is not None:
            await self._check_quarantine(final.recording_id)
        return await self._report(job, token, run_id, attempt, end, outcome, decision, final)

    async def _prepare(self, run: RunRecord) -> PreparedRun:
        """The replay options, the secrets' values and the script with its variables and secrets filled in;
        a run that cannot be replayed here ends `error` (UnrecoverableError: retrying would not help)."""
        try:
            options = run.replay_options()
        except ValidationError as error:
            # Stored by an API that validated them, so only a device this release does not know, a browser
            # this worker lacks, or a row written by hand gets here.
            reason = f"invalid run options: {validation_problem(error)}"
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
        return PreparedRun(run, script, options, tuple(secrets.values()))

    async def _visual(self, run: RunRecord, script: Script) -> VisualBaselines | None:
        """The saved recording's approved baselines (their bytes, read from the artifact store) when the script
        compares screenshots; None when it does not. The replay compares them: it never reads a database."""
        if not any(isinstance(step, Screenshot) and step.compare for step in script.steps):
            return None
        if run.recording_id is None or self._baselines is None:
            return VisualBaselines(recording=False)
        images: dict[tuple[int, str], bytes] = {}
        for baseline in await self._baselines.of_recording(run.recording_id):
            try:
                images[baseline.step_index, baseline.viewport_key] = await retry_while(
                    partial(self._read_bytes, baseline.storage_key), transient=is_transient_store_error,
                    for_seconds=self._storage_retry_s, what=f"read {baseline.storage_key}",
                    event="artifact store unavailable, retrying")
            except ArtifactNotFound:
                log.warning("baseline image missing from the store", key=baseline.storage_key,
                            step=baseline.step_index)
        return VisualBaselines(recording=True, images=images)

    async def _read_bytes(self, key: str) -> bytes:
        content = await self._artifacts.read(key)
        return b"".join([chunk async for chunk in content.chunks])

    async def _replay(self, prepared: PreparedRun, attempt: int, output_dir: Path, job: Job) -> ReplayEnd:
        run_id = prepared.run.id
        total = len(prepared.script.steps)

        async def write_step(step: StepResult) -> None:
            await self._runs.record_step(run_id, attempt, step)
            # BullMQ's progress, for QueueEvents listeners and Bull Board.
            await job.updateProgress({"runId": str(run_id), "attempt": attempt, "step": step.index + 1,
                                      "steps": total, "type": step.type, "status": step.status})

        progress = StepProgress(write_step)
        try:
            end = await self.replays.run(run_id, prepared.script, prepared.options, output_dir,
                                         secret_values=prepared.secret_values, on_step=progress.report,
                                         visual=prepared.visual)
        except BaseException:
            progress.abandon()
            raise
        await progress.drain()
        return end

    async def _keep_artifacts(self, run_id: UUID, attempt: int, result: RunResult) -> KeptArtifacts:
        """Put the replay's files into the artifact store, each retried while the store is unreachable; after
        one fails for good the rest are not tried (they would wait out the same outage). An artifact that would
        take the run's artifacts past RUN_ARTIFACTS_MAX_BYTES is skipped (and noted with the run); the run goes on
        to its verdict as if it had not been made."""
        kept = KeptArtifacts()
        cap = self._max_run_artifact_bytes
        used = await self._runs.artifact_bytes(run_id) if cap is not None and result.artifacts else 0
        for artifact in result.artifacts:
            if not artifact.path.is_file():
                log.warning("artifact file missing", path=str(artifact.path), kind=artifact.kind)
                continue
            if kept.failure is not None:
                continue
            size = artifact.path.stat().st_size
            if cap is not None and used + size > cap:
                kept.skipped.append({"attempt": attempt, "kind": artifact.kind, "file": artifact.path.name,
                                     "bytes": size})
                log.warning("artifact skipped: the run reached its artifact cap", kind=artifact.kind, bytes=size,
                            usedBytes=used, capBytes=cap)
                continue
            key = artifact_key(artifact.kind, run_id, attempt, artifact.path.name)
            try:
                saved = await retry_while(
                    partial(self._artifacts.put, artifact.path, key, artifact.content_type),
                    transient=is_transient_store_error, for_seconds=self._storage_retry_s, what=f"store {key}",
                    event="artifact store unavailable, retrying")
            except ArtifactStoreError as error:
                kept.failure = f"could not store the {artifact.kind} ({artifact.path.name}): {error}"
                log.error("artifact not stored", kind=artifact.kind, error=str(error))
                continue
            kept.artifacts.append(ArtifactWrite(kind=artifact.kind, step_index=artifact.step_index,
                                                storage_key=saved.storage_key, content_type=artifact.content_type,
                                                size_bytes=saved.size_bytes))
            used += saved.size_bytes
        if kept.skipped:
            await self._runs.note_skipped_artifacts(run_id, kept.skipped)
        return kept

    async def _persist(self, run_id: UUID, attempt: int, end: ReplayEnd, artifacts: list[ArtifactWrite],
                       outcome: Outcome, decision: Decision) -> RunRecord | None:
        """Write the attempt (its steps and the artifacts now in the store) and the run's status; None when the
        run was no longer this attempt's to finish."""
        return await self._runs.finish(run_id, attempt, AttemptOutcome(
            status=outcome.status,
            error=outcome.error,
            category=outcome.category if outcome.status != RunStatus.CANCELLED else None,
            steps=end.result.steps,
            artifacts=artifacts,
            actions_executed=end.result.actions_executed,
            duration_ms=end.duration_ms,
            requeue=decision.requeue,
            attempt_status=decision.attempt_status,
        ))

    async def _check_quarantine(self, recording_id: UUID) -> None:
        """A run of a saved recording reached its final status: quarantine the recording when its flips over its last
        runs reach FLAKY_QUARANTINE_FLIPS (contract/flaky.py). Best effort: a failure here changes nothing of the run,
        and the recording's next final run checks again."""
        if self._flaky is None or not self._quarantine.automatic:
            return
        try:
            reason = await self._flaky.quarantine_if_flaky(recording_id, self._quarantine)
        except Exception as error:
            log.warning("flakiness not checked", recordingId=str(recording_id), error=repr(error))
            return
        if reason is not None:
            log.warning("recording quarantined automatically", recordingId=str(recording_id), reason=reason)

    async def _report(self, job: Job, token: str, run_id: UUID, attempt: int, end: ReplayEnd, outcome: Outcome,
                      decision: Decision, final: RunRecord | None) -> dict[str, Any]:
        """BullMQ's answer: the job's return value, or the exception that retries, dead-letters or hands it back."""
        if decision.action == JobAction.HAND_BACK:
            log.warning("run handed back to the queue", attemptStatus=decision.attempt_status)
            await job.moveToDelayed(int(time.time() * 1000), token)
            raise DelayedError("handed back to the queue at shutdown")
        if decision.action == JobAction.RETRY and final is not None:
            log.info("attempt failed, run will be retried", status=outcome.status, error=outcome.error,
                     category=outcome.category, attemptsMade=job.attemptsMade)
            raise RetryRun(outcome.error or outcome.status)
        finished = final if final is not None else await self._runs.get(run_id)
        final_status = finished.status
        self.stats.processed += 1
        self.stats.by_status[final_status.value] += 1
        if final_status != RunStatus.PASSED:
            self.stats.failed += 1
        log.info("run finished", status=final_status, actionsExecuted=end.result.actions_executed,
                 duration=end.duration_ms, error=outcome.error, category=outcome.category)
        if decision.action == JobAction.DEAD_LETTER and final is not None:
            raise UnrecoverableError(outcome.error or "infrastructure error")
        return run_summary(finished, self._api_base_url, attempt=attempt)
