"""`GET /metrics`: what the API tells Prometheus, read at scrape time.

Global truths, the same from every API process and replica of a queue (aggregate with `max by (queue)`, never
`sum`, or N replicas count N times):

    bullmq_queue_waiting|active|delayed|failed|completed|paused|prioritized{queue}   gauges, from Redis
        (BullMQ's job counts; waiting: every job waiting to be taken, prioritized: those of them in BullMQ's
        priority set, as each of Reprise's are; completed and failed are the jobs still kept: removeOnComplete/
        removeOnFail)
    reprise_workers_live{queue, state}             gauge: workers with a live heartbeat, by running,
                                                   circuit_open, stopping
    reprise_runs_finished_total{queue, status, category}   counter: runs that reached a final status
        (category: the failure category, `none` without one; every pair of the contract is there from 0)
    reprise_run_duration_seconds{queue}            histogram: duration of finished runs' last replay
    reprise_metrics_source_up{queue, source}       gauge: 1 when `redis` / `postgres` answered this scrape; a
                                                   source that did not answer leaves its metrics out (never
                                                   stale numbers)

The run metrics are counters kept in Postgres by a trigger (migration 0008, storage.run_metrics), so they count
what the workers finish, survive API restarts and never go down when retention deletes runs.

Per process (sum the rates across processes and replicas): `reprise_http_request_duration_seconds` (see
api.http_metrics) and the `process_*` metrics of this API process.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from api.http_metrics import HttpMetrics
from contract.runs import FINAL_RUN_STATUSES, FailureCategory, RunStatus
from jobs.queue import JOB_COUNT_STATES, RunQueue
from jobs.registry import WorkerRegistry
from storage import NO_CATEGORY, RunMetrics, RunMetricsReader

log = structlog.get_logger(__name__)

T = TypeVar("T")
SOURCE_TIMEOUT_S = 3.0  # well inside Prometheus's default scrape timeout (10 s)
WORKER_STATES = ("running", "circuit_open", "stopping")


@dataclass(frozen=True)
class MetricsSnapshot:
    """What one scrape read; None where its source did not answer."""

    queue: str
    job_counts: dict[str, int] | None  # Redis
    workers: list[dict[str, Any]] | None  # Redis (heartbeats)
    runs: RunMetrics | None  # Postgres


def queue_families(queue: str, counts: dict[str, int]) -> Iterator[Metric]:
    for state in JOB_COUNT_STATES:
        family = GaugeMetricFamily(f"bullmq_queue_{state}", f"BullMQ jobs of the queue in state {state}",
                                   labels=["queue"])
        family.add_metric([queue], counts.get(state, 0))
        yield family


def worker_families(queue: str, workers: list[dict[str, Any]]) -> Iterator[Metric]:
    states = Counter(str(worker.get("state", "running")) for worker in workers)
    family = GaugeMetricFamily("reprise_workers_live", "Workers with a live heartbeat on the queue, by state",
                               labels=["queue", "state"])
    for state in sorted(set(WORKER_STATES) | set(states)):
        family.add_metric([queue, state], states.get(state, 0))
    yield family


def run_families(runs: RunMetrics) -> Iterator[Metric]:
    finished = CounterMetricFamily("reprise_runs_finished", "Runs that reached a final status, by status and "
                                   "failure category", labels=["queue", "status", "category"])
    # Every (final status, category) of the contract from zero on, so rate() counts a kind's first run too (a
    # counter series that first appears at 1 shows no increase); then any other the database holds.
    counted = {(row.status.value, row.category): row.runs for row in runs.finished}
    for status in (status for status in RunStatus if status in FINAL_RUN_STATUSES):
        for category in (NO_CATEGORY, *(category.value for category in FailureCategory)):
            finished.add_metric([runs.queue, status.value, category], counted.pop((status.value, category), 0))
    for (status_value, category), count in sorted(counted.items()):
        finished.add_metric([runs.queue, status_value, category], count)
    yield finished
    duration = HistogramMetricFamily("reprise_run_duration_seconds", "Duration of finished runs' last replay",
                                     labels=["queue"])
    duration.add_metric([runs.queue], [(floatToGoString(le), count) for le, count in runs.cumulative_buckets()],
                        runs.duration_sum)
    yield duration


def source_families(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    family = GaugeMetricFamily("reprise_metrics_source_up", "1 when the source answered this scrape",
                               labels=["queue", "source"])
    family.add_metric([snapshot.queue, "redis"], int(snapshot.job_counts is not None))
    family.add_metric([snapshot.queue, "postgres"], int(snapshot.runs is not None))
    yield family


class SnapshotCollector(Collector):
    """A custom collector over one scrape's snapshot, beside this process's own metrics."""

    def __init__(self, snapshot: MetricsSnapshot, process: Iterable[CollectorRegistry] = ()) -> None:
        self._snapshot = snapshot
        self._process = tuple(process)

    def collect(self) -> Iterator[Metric]:
        snapshot = self._snapshot
        if snapshot.job_counts is not None:
            yield from queue_families(snapshot.queue, snapshot.job_counts)
        if snapshot.workers is not None:
            yield from worker_families(snapshot.queue, snapshot.workers)
        if snapshot.runs is not None:
            yield from run_families(snapshot.runs)
        yield from source_families(snapshot)
        for registry in self._process:
            yield from registry.collect()


async def _read(source: str, read: Awaitable[T]) -> T | None:
    try:
        async with asyncio.timeout(SOURCE_TIMEOUT_S):
            return await read
    except Exception as error:
        log.warning("metrics source did not answer", source=source, error=f"{type(error).__name__}: {error}")
        return None


class MetricsService:
    def __init__(self, queue: RunQueue, workers: WorkerRegistry, runs: RunMetricsReader, http: HttpMetrics) -> None:
        self._queue = queue
        self._workers = workers
        self._runs = runs
        self._http = http

    async def snapshot(self) -> MetricsSnapshot:
        counts, workers, runs = await asyncio.gather(
            _read("redis", self._queue.counts()),
            _read("redis", self._workers.live_workers()),
            _read("postgres", self._runs.read()),
        )
        return MetricsSnapshot(queue=self._queue.name, job_counts=counts, workers=workers, runs=runs)

    async def exposition(self, accept: str) -> tuple[bytes, str]:
        """The scrape's body and content type (Prometheus text, or OpenMetrics when `accept` asks for it)."""
        encode, content_type = choose_encoder(accept)
        return encode(SnapshotCollector(await self.snapshot(), [self._http.registry])), content_type
