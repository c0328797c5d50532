"""Storage statistics: what this queue's artifacts take in the store, by kind and run status, what was
stored per day over the last week, and the last retention pass."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from contract.runs import RunStatus
from storage import GrowthRecord, RetentionPassRecord, StorageUsage, UsageRecord

K = TypeVar("K")


@dataclass(frozen=True)
class StorageReport:
    queue: str
    usage: list[UsageRecord]  # by kind and run status, artifacts still in the store
    growth: list[GrowthRecord]
    last_pass: RetentionPassRecord | None

    def total(self) -> tuple[int, int]:
        """(artifacts, bytes)."""
        return sum(row.artifacts for row in self.usage), sum(row.bytes for row in self.usage)

    def by_kind(self) -> dict[str, tuple[int, int]]:
        return _sum_by(self.usage, lambda row: row.kind)

    def by_status(self) -> dict[RunStatus, tuple[int, int]]:
        return _sum_by(self.usage, lambda row: row.status)


def _sum_by(rows: list[UsageRecord], key: Callable[[UsageRecord], K]) -> dict[K, tuple[int, int]]:
    sums: dict[K, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        sums[key(row)][0] += row.artifacts
        sums[key(row)][1] += row.bytes
    return {name: (count, size) for name, (count, size) in sums.items()}


class StatsService:
    def __init__(self, usage: StorageUsage) -> None:
        self._usage = usage

    async def storage(self) -> StorageReport:
        return StorageReport(queue=self._usage.queue, usage=await self._usage.by_kind_and_status(),
                             growth=await self._usage.growth(), last_pass=await self._usage.last_pass())
