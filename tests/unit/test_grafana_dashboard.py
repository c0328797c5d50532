"""deploy/grafana/reprise.json is a valid dashboard on a datasource variable, and every query names only metrics
Reprise serves: the sample names are taken from the API's and the worker's own collectors, rendered and parsed
as Prometheus would."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from prometheus_client import generate_latest

from api.http_metrics import HttpMetrics
from api.services.metrics import MetricsSnapshot, SnapshotCollector
from contract.runs import RunStatus
from runner.replay import ChromiumLauncher
from storage import DurationBucket, FinishedRuns, RunMetrics
from worker.browser_health import BrowserSupervisor
from worker.metrics import WorkerMetrics, worker_registry
from worker.processor import WorkerStats
from worker.replays import ActiveReplays

from scrapes import samples_of
from services import REPO_ROOT

DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "reprise.json"
# Metric names are the identifiers of Reprise's own families; labels, functions and keywords are not.
METRIC_NAME = re.compile(r"\b(?:bullmq|reprise|process)_[a-z0-9_]+\b")


def api_sample_names() -> set[str]:
    http = HttpMetrics()
    http.observe("GET", "/api/runs/{run_id}", 200, 0.01)
    runs = RunMetrics(queue="q", finished=[FinishedRuns(RunStatus.PASSED, "none", 1)],
                      durations=[DurationBucket(1.0, 1, 0.5), DurationBucket(float("inf"), 0, 0.0)])
    snapshot = MetricsSnapshot(queue="q", job_counts={"waiting": 1},
                               workers=[{"name": "w", "state": "running"}], runs=runs)
    text = generate_latest(SnapshotCollector(snapshot, [http.registry])).decode()
    return {sample.name for sample in samples_of(text)}


def worker_sample_names() -> set[str]:
    async def never_called(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no replay here")

    metrics = WorkerMetrics(worker="w", queue="q", concurrency=2, stats=WorkerStats(),
                            replays=ActiveReplays(never_called), browser=BrowserSupervisor(ChromiumLauncher()))
    return {sample.name for sample in samples_of(generate_latest(worker_registry(metrics)).decode())}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def test_the_dashboard_is_valid_json_on_a_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert dashboard["uid"] == "reprise" and dashboard["title"] == "Reprise"
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids)), Counter(ids)
    queried = [panel for panel in panels(dashboard) if panel["type"] != "row"]
    assert len(queried) >= 10
    for panel in queried:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


def test_every_query_names_metrics_reprise_serves() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    served = api_sample_names() | worker_sample_names()
    assert {"bullmq_queue_waiting", "reprise_runs_finished_total", "reprise_run_duration_seconds_bucket",
            "reprise_http_request_duration_seconds_bucket", "reprise_worker_active_runs",
            "reprise_worker_chromium_crashes_total", "reprise_worker_resident_memory_bytes"} <= served
    exprs = [target["expr"] for panel in panels(dashboard) for target in panel.get("targets", [])]
    exprs += [dashboard["templating"]["list"][1]["definition"]]
    used: set[str] = set()
    for expr in exprs:
        names = set(METRIC_NAME.findall(expr))
        assert names, f"no Reprise metric in {expr!r}"
        assert names <= served, f"{sorted(names - served)} in {expr!r} are not served"
        used |= names
    # The panels the issue asks for: queue depth, runs by status, duration quantiles, API latency, worker
    # active runs, Chromium crashes, memory.
    assert {"bullmq_queue_waiting", "reprise_runs_finished_total", "reprise_run_duration_seconds_bucket",
            "reprise_http_request_duration_seconds_bucket", "reprise_worker_active_runs",
            "reprise_worker_chromium_crashes_total", "reprise_worker_resident_memory_bytes"} <= used
    assert any("histogram_quantile(0.95" in expr for expr in exprs)
    assert any("histogram_quantile(0.5" in expr for expr in exprs)
