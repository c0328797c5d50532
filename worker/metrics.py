"""One worker process's metrics and health, served on METRICS_PORT by worker.metrics_server.

Metrics (Prometheus), all of this worker process (sum them across workers; `instance` tells them apart, and
`reprise_worker_info` names them):

    reprise_worker_info{worker, queue, concurrency, host}        1
    reprise_worker_concurrency                                   runs it may replay at once
    reprise_worker_active_runs                                   runs it is replaying now
    reprise_worker_runs_finished_total{status}                   runs it took to a final status, since it started
    reprise_worker_chromium_launches_total                       Chromium launches (the first one included)
    reprise_worker_chromium_recycles_total                       Chromiums replaced after BROWSER_RECYCLE_RUNS runs
                                                                 or BROWSER_RECYCLE_MB (launches include them)
    reprise_worker_chromium_crashes_total                        Chromium disconnects it did not ask for
    reprise_worker_chromium_consecutive_launch_failures          failed launches in a row (the circuit opens at
                                                                 BROWSER_CIRCUIT_FAILURES)
    reprise_worker_chromium_state{state}                         1 for the supervisor's state (starting, ok,
                                                                 relaunching, circuit_open, stopped), else 0
    reprise_worker_resident_memory_bytes{process}                `worker` (this process) and `browser` (the
                                                                 processes it started: Playwright's driver and
                                                                 Chromium's; see worker.process_memory)
    process_*                                                    this process's CPU, memory, open files

The numbers are those the worker already keeps (RunProcessor.stats, ActiveReplays, BrowserSupervisor), read at
scrape time. Health (`/healthz`): 200 while the worker runs and claims jobs, 503 while its circuit is open
(Chromium cannot launch: it claims nothing) or it is stopping.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from contract.runs import FINAL_RUN_STATUSES, RunStatus
from worker.browser_health import STATES as CHROMIUM_STATES
from worker.browser_health import BrowserSupervisor
from worker.process_memory import TreeMemory, tree_memory
from worker.processor import WorkerStats
from worker.replays import ActiveReplays

# What a worker is doing, as its heartbeat and /healthz say it.
RUNNING = "running"
CIRCUIT_OPEN = "circuit_open"
STOPPING = "stopping"


@dataclass(frozen=True)
class Health:
    status_code: int
    body: dict[str, Any]


def judge_health(*, worker: str, queue: str, state: str, chromium: str, active_runs: int) -> Health:
    """200 while the worker runs and claims jobs; 503 while it claims none (circuit open) or is stopping."""
    healthy = state == RUNNING
    return Health(200 if healthy else 503, {"status": "ok" if healthy else "unavailable", "worker": worker,
                                            "queue": queue, "state": state, "chromium": chromium,
                                            "activeRuns": active_runs})


class WorkerMetrics(Collector):
    def __init__(self, *, worker: str, queue: str, concurrency: int, stats: WorkerStats, replays: ActiveReplays,
                 browser: BrowserSupervisor, memory: Callable[[], TreeMemory] = tree_memory) -> None:
        self._worker = worker
        self._queue = queue
        self._concurrency = concurrency
        self._stats = stats
        self._replays = replays
        self._browser = browser
        self._memory = memory
        self._host = socket.gethostname()

    def collect(self) -> Iterator[Metric]:
        info = InfoMetricFamily("reprise_worker", "This worker process")
        info.add_metric([], {"worker": self._worker, "queue": self._queue, "concurrency": str(self._concurrency),
                             "host": self._host})
        yield info
        yield GaugeMetricFamily("reprise_worker_concurrency", "Runs this worker may replay at once",
                                value=self._concurrency)
        yield GaugeMetricFamily("reprise_worker_active_runs", "Runs this worker is replaying now",
                                value=self._replays.count)
        finished = CounterMetricFamily("reprise_worker_runs_finished", "Runs this worker took to a final status "
                                       "since it started, by status", labels=["status"])
        for status in (status for status in RunStatus if status in FINAL_RUN_STATUSES):
            finished.add_metric([status.value], self._stats.by_status.get(status.value, 0))
        yield finished
        browser = self._browser
        yield CounterMetricFamily("reprise_worker_chromium_launches", "Chromium launches of this worker",
                                  value=browser.launches)
        yield CounterMetricFamily("reprise_worker_chromium_recycles", "Chromiums this worker replaced by a fresh "
                                  "one (BROWSER_RECYCLE_RUNS, BROWSER_RECYCLE_MB)", value=browser.recycles)
        yield CounterMetricFamily("reprise_worker_chromium_crashes", "Chromium disconnects this worker did not "
                                  "ask for (crashed, killed, out of memory)", value=browser.crashes)
        yield GaugeMetricFamily("reprise_worker_chromium_consecutive_launch_failures",
                                "Failed Chromium launches in a row", value=browser.consecutive_failures)
        state = GaugeMetricFamily("reprise_worker_chromium_state", "1 for the state of this worker's Chromium "
                                  "supervisor (circuit_open: it claims no jobs)", labels=["state"])
        for name in CHROMIUM_STATES:
            state.add_metric([name], int(browser.state == name))
        yield state
        memory = self._memory()
        resident = GaugeMetricFamily("reprise_worker_resident_memory_bytes", "Resident memory of this worker "
                                     "process and of the processes it started (Playwright, Chromium)",
                                     labels=["process"])
        resident.add_metric(["worker"], memory.own_bytes)
        resident.add_metric(["browser"], memory.children_bytes)
        yield resident


def worker_registry(metrics: WorkerMetrics) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(metrics)
    ProcessCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry, accept: str) -> tuple[bytes, str]:
    """The scrape's body and content type (Prometheus text, or OpenMetrics when `accept` asks for it)."""
    encode, content_type = choose_encoder(accept)
    return encode(registry), content_type
