"""One queue's run counters: runs finished by status and failure category, and the run duration histogram.

They are kept in Postgres by a trigger on `runs` (migration 0008) when a run reaches a final status, so they
count what every worker finished, read the same from every API process, and never go down (retention deleting
runs leaves them). A read is a handful of rows, in one snapshot so the two agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import asyncpg

from contract.runs import RunStatus
from storage.queries import load_queries

# The category of finished runs without a failure category (passed, most cancelled), as migration 0008 writes it.
NO_CATEGORY = "none"


@dataclass(frozen=True)
class FinishedRuns:
    status: RunStatus
    category: str  # a FailureCategory value, or NO_CATEGORY
    runs: int


@dataclass(frozen=True)
class DurationBucket:
    le: float  # upper bound in seconds, inclusive; the last is +Inf
    runs: int  # runs in this bucket only (not cumulative)
    seconds: float  # their durations added up


@dataclass(frozen=True)
class RunMetrics:
    queue: str
    finished: list[FinishedRuns]
    durations: list[DurationBucket]  # every bucket, by bound

    @property
    def duration_count(self) -> int:
        return sum(bucket.runs for bucket in self.durations)

    @property
    def duration_sum(self) -> float:
        return sum(bucket.seconds for bucket in self.durations)

    def cumulative_buckets(self) -> list[tuple[float, int]]:
        """(upper bound, runs at or below it), as Prometheus histograms count, ending with +Inf."""
        total = 0
        buckets = []
        for bucket in self.durations:
            total += bucket.runs
            buckets.append((bucket.le, total))
        if not buckets or not math.isinf(buckets[-1][0]):
            buckets.append((math.inf, total))
        return buckets


class RunMetricsReader:
    def __init__(self, pool: asyncpg.Pool, *, queue: str) -> None:
        self._pool = pool
        self._sql = load_queries()
        self.queue = queue

    async def read(self) -> RunMetrics:
        async with self._pool.acquire() as connection, connection.transaction(isolation="repeatable_read",
                                                                              readonly=True):
            finished = await connection.fetch(self._sql["runs_finished_totals"], self.queue)
            durations = await connection.fetch(self._sql["run_duration_buckets"], self.queue)
        return RunMetrics(
            queue=self.queue,
            finished=[FinishedRuns(RunStatus(row["status"]), row["category"], int(row["runs"])) for row in finished],
            durations=[DurationBucket(float(row["le"]), int(row["runs"]), float(row["seconds"])) for row in durations],
        )
