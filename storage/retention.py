"""Retention passes: a `RetentionPolicy` (contract/retention.py) carried out on one queue's runs.

A pass removes, batch by batch:
1. final runs past RETENTION_RUNS_DAYS: every object of theirs still in the store, and their rows (attempts,
   steps and artifact rows go with them);
2. then, rule by rule, expired artifacts: their objects go, their rows stay, marked removed (`removed_at`,
   `removed_by` = 'retention'), so a run still lists what it had.

Each batch is one transaction: claim rows (FOR UPDATE SKIP LOCKED: rows another pass holds are skipped, so
two passes at once never take the same one), mark or delete them, delete their objects, record the pass's
progress, commit. The rows change before the objects go, so a database conflict (a deadlock between two
passes, retried) rolls back before anything left the store; a store that fails rolls the batch back and its
rows stay for the next pass (deleting an object again is harmless: the store's delete is idempotent). The
pass then stops, recording why. Each pass is a `retention_passes` row whose counts are written in each
batch's own transaction, so they count exactly what was committed. A dry run counts and deletes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

from contract.retention import ArtifactGroup, ArtifactRule, RetentionPolicy, group_of
from contract.runs import FINAL_RUN_STATUSES, RunStatus
from storage.artifacts import ArtifactStore
from storage.queries import load_queries

log = structlog.get_logger(__name__)

REMOVED_BY = "retention"
BATCH_SIZE = 500
DEADLOCK_RETRIES = 3


def _statuses(statuses: tuple[RunStatus, ...] | frozenset[RunStatus]) -> list[str]:
    return sorted(status.value for status in statuses)


def _group(kind: str) -> ArtifactGroup:
    # A kind this release does not know lives with the debug files (the store's `files` area).
    return group_of(kind) or ArtifactGroup.DEBUG


@dataclass
class Tally:
    artifacts: int = 0
    bytes: int = 0


@dataclass
class RetentionReport:
    """What a pass removed (a dry run: would remove), by artifact group, and the runs removed whole (their
    artifacts count in their groups too)."""

    pass_id: int
    queue: str
    worker: str
    dry_run: bool
    groups: dict[ArtifactGroup, Tally] = field(default_factory=lambda: {group: Tally() for group in ArtifactGroup})
    runs_removed: int = 0
    error: str | None = None

    @property
    def artifacts_removed(self) -> int:
        return sum(tally.artifacts for tally in self.groups.values())

    @property
    def bytes_freed(self) -> int:
        return sum(tally.bytes for tally in self.groups.values())

    def groups_json(self) -> dict[str, dict[str, int]]:
        return {group.value: {"artifacts": tally.artifacts, "bytes": tally.bytes}
                for group, tally in self.groups.items()}

    def summary(self) -> dict[str, Any]:
        """JSON-ready: the BullMQ job's return value, the log line."""
        return {"passId": self.pass_id, "queue": self.queue, "dryRun": self.dry_run,
                "artifactsRemoved": self.artifacts_removed, "runsRemoved": self.runs_removed,
                "bytesFreed": self.bytes_freed, "groups": self.groups_json(), "error": self.error}


@dataclass
class _Batch:
    objects: list[asyncpg.Record]  # kind, storage_key, size_bytes of each object going
    runs: int = 0

    def applied_to(self, report: RetentionReport) -> RetentionReport:
        groups = {group: Tally(tally.artifacts, tally.bytes) for group, tally in report.groups.items()}
        for row in self.objects:
            tally = groups[_group(row["kind"])]
            tally.artifacts += 1
            tally.bytes += int(row["size_bytes"])
        return RetentionReport(report.pass_id, report.queue, report.worker, report.dry_run, groups,
                               report.runs_removed + self.runs)


# A pooled connection (asyncpg's PoolConnectionProxy behaves as a Connection).
Connection = asyncpg.Connection | PoolConnectionProxy
Claim = Callable[[Connection], Awaitable[_Batch | None]]


class Retention:
    """Retention of one queue's runs and artifacts, by `policy`, in `store`."""

    def __init__(self, pool: asyncpg.Pool, store: ArtifactStore, *, queue: str, policy: RetentionPolicy,
                 batch_size: int = BATCH_SIZE) -> None:
        self._pool = pool
        self._store = store
        self._sql = load_queries()
        self.queue = queue
        self.policy = policy
        self._batch_size = batch_size

    async def run_pass(self, *, worker: str, dry_run: bool = False, job_id: str | None = None) -> RetentionReport:
        """One pass now. Raises what stopped it (ArtifactStoreError, a database error) after recording it."""
        row = await self._pool.fetchrow(self._sql["insert_retention_pass"], self.queue, worker, job_id, dry_run)
        assert row is not None
        report = RetentionReport(pass_id=int(row["id"]), queue=self.queue, worker=worker, dry_run=dry_run)
        try:
            if dry_run:
                report = await self._preview(report)
            else:
                report = await self._remove(report)
        except BaseException as error:  # cancelled too: the record says the pass did not end by itself
            report.error = f"{type(error).__name__}: {error}"
            with suppress(Exception):
                await self._finish(report)
            raise
        await self._finish(report)
        return report

    async def _finish(self, report: RetentionReport) -> None:
        await self._pool.execute(self._sql["finish_retention_pass"], report.pass_id, report.error)

    # ---- removing ---------------------------------------------------------------------------------------

    async def _remove(self, report: RetentionReport) -> RetentionReport:
        if self.policy.runs_days is not None:
            seconds = self.policy.runs_days * 86_400
            while after := await self._batch(report, partial(self._claim_runs, seconds=seconds)):
                report = after
        for rule in self.policy.artifact_rules:
            while after := await self._batch(report, partial(self._claim_artifacts, rule=rule)):
                report = after
        return report

    async def _batch(self, report: RetentionReport, claim: Claim) -> RetentionReport | None:
        """One batch in one transaction; the report with it, or None when nothing is left to claim."""
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                async with self._pool.acquire() as connection, connection.transaction():
                    batch = await claim(connection)
                    if batch is None:
                        return None
                    after = batch.applied_to(report)
                    await self._store.delete([row["storage_key"] for row in batch.objects])
                    await connection.execute(self._sql["record_retention_progress"], after.pass_id,
                                             after.artifacts_removed, after.runs_removed, after.bytes_freed,
                                             after.groups_json())
                return after
            except asyncpg.DeadlockDetectedError:
                # Two passes removing runs that point at each other (retry_of); nothing left the store yet.
                if attempt == DEADLOCK_RETRIES:
                    raise
                log.warning("retention batch deadlocked, trying again", queue=self.queue, attempt=attempt + 1)
                await asyncio.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _claim_runs(self, connection: Connection, seconds: float) -> _Batch | None:
        rows = await connection.fetch(self._sql["claim_expired_runs"], self.queue, _statuses(FINAL_RUN_STATUSES),
                                      seconds, self._batch_size)
        if not rows:
            return None
        run_ids = [row["id"] for row in rows]
        objects = await connection.fetch(self._sql["lock_run_artifacts"], run_ids)
        await connection.execute(self._sql["delete_runs"], self.queue, run_ids)
        return _Batch(list(objects), runs=len(run_ids))

    async def _claim_artifacts(self, connection: Connection, rule: ArtifactRule) -> _Batch | None:
        rows = await connection.fetch(self._sql["claim_expired_artifacts"], self.queue, _statuses(rule.statuses),
                                      rule.seconds, list(rule.kinds), self._batch_size)
        if not rows:
            return None
        await connection.execute(self._sql["mark_artifacts_removed"], [row["id"] for row in rows], REMOVED_BY)
        return _Batch(list(rows))

    # ---- counting (dry run) -----------------------------------------------------------------------------

    async def _preview(self, report: RetentionReport) -> RetentionReport:
        runs_seconds = self.policy.runs_days * 86_400 if self.policy.runs_days is not None else None
        finals = _statuses(FINAL_RUN_STATUSES)
        async with self._pool.acquire() as connection:
            async with connection.transaction(isolation="repeatable_read", readonly=True):  # one snapshot
                if runs_seconds is not None:
                    report.runs_removed = int(await connection.fetchval(
                        self._sql["preview_expired_runs"], self.queue, finals, runs_seconds))
                    for row in await connection.fetch(self._sql["preview_expired_run_artifacts"], self.queue,
                                                      finals, runs_seconds):
                        tally = report.groups[_group(row["kind"])]
                        tally.artifacts += int(row["artifacts"])
                        tally.bytes += int(row["bytes"])
                for rule in self.policy.artifact_rules:
                    counted = await connection.fetchrow(self._sql["preview_expired_artifacts"], self.queue,
                                                        _statuses(rule.statuses), rule.seconds, list(rule.kinds),
                                                        runs_seconds)
                    assert counted is not None  # an aggregate: always one row
                    tally = report.groups[rule.group]
                    tally.artifacts += int(counted["artifacts"])
                    tally.bytes += int(counted["bytes"])
            await connection.execute(self._sql["record_retention_progress"], report.pass_id,
                                     report.artifacts_removed, report.runs_removed, report.bytes_freed,
                                     report.groups_json())
        return report
