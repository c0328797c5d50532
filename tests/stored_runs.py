"""Finished runs with artifacts really in a store, written as the worker writes them (store.put, then the
attempt's rows), and aged in the database: what the retention and storage-stats tests start from."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from contract.results import StepResult
from contract.runs import FailureCategory, RunStatus, StepStatus
from storage import ArtifactRecord, ArtifactStore, ArtifactWrite, AttemptOutcome, NewRun, RunRepository, artifact_key

CONTENT_TYPES = {"video": "video/webm", "screenshot": "image/png", "trace": "application/zip",
                 "html": "text/html", "console": "text/plain", "har": "application/json"}
NAMES = {"video": "video.webm", "trace": "trace.zip", "html": "page.html", "console": "console.log",
         "har": "network.har"}


@dataclass(frozen=True)
class StoredRun:
    id: UUID
    status: RunStatus
    artifacts: list[ArtifactRecord]

    def of_kind(self, kind: str) -> list[ArtifactRecord]:
        return [artifact for artifact in self.artifacts if artifact.kind == kind]


async def store_run(runs: RunRepository, store: ArtifactStore, scratch: Path, status: RunStatus,
                    artifacts: list[tuple[str, int]], *, name: str = "stored") -> StoredRun:
    """A run that ended `status` (queued: an attempt that was retried) with one attempt whose artifacts,
    (kind, size in bytes) each, are in the store. Screenshots are numbered as steps 0, 1, ..."""
    run, _ = await runs.create(NewRun(name=name, script_format="native", script={}, options={}))
    attempt = await runs.start_attempt(run.id, "test-worker", None)
    assert attempt == 1
    writes = []
    step = 0
    for kind, size in artifacts:
        file_name = f"step-{step}.png" if kind == "screenshot" else NAMES[kind]
        source = scratch / f"{uuid4().hex}-{file_name}"
        source.write_bytes(os.urandom(size))
        saved = await store.put(source, artifact_key(kind, run.id, attempt, file_name), CONTENT_TYPES[kind])
        writes.append(ArtifactWrite(kind=kind, step_index=step if kind == "screenshot" else None,
                                    storage_key=saved.storage_key, content_type=CONTENT_TYPES[kind],
                                    size_bytes=saved.size_bytes))
        step += kind == "screenshot"
    requeue = status == RunStatus.QUEUED
    await runs.finish(run.id, attempt, AttemptOutcome(
        status=RunStatus.ERROR if requeue else status, error=None if status == RunStatus.PASSED else "it broke",
        category=None, steps=[], artifacts=writes, actions_executed=0, duration_ms=10, requeue=requeue))
    return StoredRun(run.id, status, await runs.artifacts(run.id))


async def age_run(database_url: str, run_id: UUID, days: float) -> None:
    """As if the run finished (and stored its artifacts) `days` ago."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "UPDATE runs SET finished_at = now() - make_interval(secs => $2), "
            "created_at = created_at - make_interval(secs => $2) WHERE id = $1 AND finished_at IS NOT NULL",
            run_id, days * 86_400)
        await connection.execute(
            "UPDATE run_artifacts SET created_at = created_at - make_interval(secs => $2) WHERE run_id = $1",
            run_id, days * 86_400)
    finally:
        await connection.close()


async def passes(database_url: str, queue: str) -> list[dict[str, Any]]:
    """The queue's retention_passes rows, oldest first."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT * FROM retention_passes WHERE queue = $1 ORDER BY id", queue)
    finally:
        await connection.close()
    return [dict(row) for row in rows]


async def finished_run(runs: RunRepository, status: RunStatus, *, recording_id: UUID | None = None,
                       suite_run_id: UUID | None = None, pool: asyncpg.Pool | None = None) -> UUID:
    """A run that ended `status` as a worker ends it: one attempt of two steps (the second failed, on `#missing`,
    unless it passed), a screenshot of step 1 (no file behind it), 1234 ms, worker `w1`."""
    run, _ = await runs.create(NewRun(name=f"a {status} run", script_format="native", script={}, options={},
                                      recording_id=recording_id))
    if suite_run_id is not None:
        assert pool is not None
        await pool.execute("UPDATE runs SET suite_run_id = $1 WHERE id = $2", suite_run_id, run.id)
    attempt = await runs.start_attempt(run.id, "w1", None)
    assert attempt == 1
    failed = status != RunStatus.PASSED
    steps = [StepResult(index=0, type="navigate", status=StepStatus.PASSED, duration_ms=5),
             StepResult(index=1, type="click", status=StepStatus.FAILED if failed else StepStatus.PASSED,
                        duration_ms=7, selector="#missing", error="no element #missing" if failed else None)]
    await runs.finish(run.id, attempt, AttemptOutcome(
        status=status, error="no element #missing" if failed else None,
        category=FailureCategory.SELECTOR_NOT_FOUND if failed else None, steps=steps,
        artifacts=[ArtifactWrite(kind="screenshot", step_index=1, storage_key=f"screenshots/{run.id}/s.png",
                                 content_type="image/png", size_bytes=10)],
        actions_executed=2, duration_ms=1234))
    return run.id
