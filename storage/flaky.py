"""Flaky runs and quarantined recordings (migration 0018): each saved recording's last runs on one queue read for its
flakiness (contract/flaky.py computes it), and the quarantine written by hand or automatically.

A run's own `flaky` and `quarantined` marks are set by the database when its status becomes final (the trigger of
migration 0018), so every writer agrees; nothing here writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from contract.flaky import AUTOMATIC, Flakiness, QuarantinePolicy, ScoredRun, flakiness, target_of
from contract.runs import RunStatus
from runner.formats import InvalidScript, parse_bounded
from runner.formats.rebase import recorded_origin
from storage.errors import RecordingNotFound
from storage.queries import load_queries

RECORDED_ORIGIN = "(recorded origin)"  # the target of runs without a base URL, when the recording has no origin


@dataclass(frozen=True)
class WindowRun:
    """One of a recording's last passed or failed runs."""

    id: UUID
    number: int
    status: RunStatus
    flaky: bool
    quarantined: bool
    target: str


@dataclass(frozen=True)
class Quarantine:
    at: datetime
    reason: str | None
    by: str | None


@dataclass(frozen=True)
class RecordingFlakiness:
    recording_id: UUID
    name: str
    flakiness: Flakiness
    runs: list[WindowRun] = field(default_factory=list)  # newest first
    quarantine: Quarantine | None = None


def quarantine_of(row: Any) -> Quarantine | None:
    """The quarantine columns of a recordings row (None: not quarantined)."""
    if row["quarantined_at"] is None:
        return None
    return Quarantine(row["quarantined_at"], row["quarantine_reason"], row["quarantined_by"])


def origin_of(script: object) -> str:
    """The recording's own origin: where its runs without a base URL go."""
    try:
        origin = recorded_origin(parse_bounded(script))
    except (InvalidScript, ValueError, TypeError):
        origin = None
    return target_of(f"{origin[0]}://{origin[1]}") if origin is not None else RECORDED_ORIGIN


class FlakyRepository:
    """Flakiness of the recordings' runs on this repository's queue; quarantine (recordings are every queue's)."""

    def __init__(self, pool: asyncpg.Pool, *, queue: str) -> None:
        self._pool = pool
        self._sql = load_queries()
        self.queue = queue

    async def _window(self, connection: Any, window_runs: int,
                      recording_id: UUID | None) -> dict[UUID, list[WindowRun]]:
        rows = await connection.fetch(self._sql["flaky_window_runs"], self.queue, window_runs, recording_id)
        by_recording: dict[UUID, list[asyncpg.Record]] = {}
        for row in rows:
            by_recording.setdefault(row["recording_id"], []).append(row)
        found: dict[UUID, list[WindowRun]] = {}
        for recording, recording_rows in by_recording.items():
            origin: str | None = None
            if any(row["base_url"] is None for row in recording_rows) and any(row["base_url"] for row in
                                                                              recording_rows):
                # Runs with and without a base URL: those without go to the recording's own origin.
                origin = origin_of(await connection.fetchval(self._sql["recording_script"], recording))
            found[recording] = [WindowRun(row["id"], row["number"], RunStatus(row["status"]), row["flaky"],
                                          row["quarantined"],
                                          target_of(row["base_url"]) if row["base_url"] else origin or RECORDED_ORIGIN)
                                for row in recording_rows]
        return found

    @staticmethod
    def _score(runs: Sequence[WindowRun]) -> Flakiness:
        return flakiness([ScoredRun(run.status, run.flaky, run.target) for run in reversed(runs)])

    async def of_recording(self, recording_id: UUID, window_runs: int) -> Flakiness:
        async with self._pool.acquire() as connection:
            runs = (await self._window(connection, window_runs, recording_id)).get(recording_id, [])
        return self._score(runs)

    async def ranking(self, window_runs: int) -> list[RecordingFlakiness]:
        """Every recording with a passed or failed run on the queue, and every quarantined one: the most flaky
        first (then the quarantined, then by name)."""
        async with self._pool.acquire() as connection, connection.transaction(isolation="repeatable_read",
                                                                              readonly=True):
            recordings = await connection.fetch(self._sql["flaky_recordings"], self.queue)
            windows = await self._window(connection, window_runs, None)
        ranked = [RecordingFlakiness(row["id"], row["name"], self._score(windows.get(row["id"], [])),
                                     windows.get(row["id"], []), quarantine_of(row)) for row in recordings]
        ranked.sort(key=lambda item: (-item.flakiness.score, -item.flakiness.instabilities,
                                      item.quarantine is None, item.name, str(item.recording_id)))
        return ranked

    async def quarantine(self, recording_id: UUID, reason: str | None, by: str | None) -> None:
        if await self._pool.fetchval(self._sql["quarantine_recording"], recording_id, reason, by) is None:
            raise RecordingNotFound(f"recording {recording_id} not found")

    async def unquarantine(self, recording_id: UUID) -> None:
        if await self._pool.fetchval(self._sql["unquarantine_recording"], recording_id) is None:
            raise RecordingNotFound(f"recording {recording_id} not found")

    async def quarantine_if_flaky(self, recording_id: UUID, policy: QuarantinePolicy) -> str | None:
        """After a run of the recording reached its final status: quarantine the recording when its flakiness over
        the policy's window calls for it (and it is not quarantined already). The reason when it did, else None."""
        if not policy.automatic:
            return None
        reason = policy.reason(await self.of_recording(recording_id, policy.window_runs))
        if reason is None:
            return None
        done = await self._pool.fetchval(self._sql["quarantine_recording_automatically"], recording_id, reason,
                                         AUTOMATIC)
        return reason if done is not None else None
