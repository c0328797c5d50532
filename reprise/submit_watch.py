"""Watching submitted runs until each is final, by polling the API (`GET /api/runs/{id}`, and for a suite run
`GET /api/suite-runs/{id}`), about once a second and never more than `MAX_REQUESTS_PER_S` on average (the API
limits each key's requests per minute).

A run is read in full (steps, artifacts) while it runs and once when it ends; a queued run of a suite is seen in
the suite run's own answer. `--timeout` over: the runs still going are cancelled (a suite run: the suite run),
read once more, and reported as timed out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from contract.runs import RunStatus
from reprise.submit_api import RemoteRun, ReproseApi, SuiteRun
from reprise.submit_progress import Progress, RunProgress
from reprise.submit_results import StepOutline, recording_outline

MAX_REQUESTS_PER_S = 10.0


class Watched(Protocol):
    """What is being waited for: one or more runs, or a suite run and its children."""

    def poll(self) -> int:
        """Read what changed; returns the number of requests it made."""
        ...

    @property
    def finished(self) -> bool: ...

    def progress(self) -> list[RunProgress]: ...

    def cancel(self) -> None: ...


@dataclass
class _Runs:
    """Runs known so far, in order, and which of them are read in full since they ended."""

    api: ReproseApi
    order: list[UUID] = field(default_factory=list)
    latest: dict[UUID, RemoteRun] = field(default_factory=dict)
    outlines: dict[UUID, StepOutline | None] = field(default_factory=dict)
    settled: set[UUID] = field(default_factory=set)

    def see(self, run: RemoteRun, *, detailed: bool) -> None:
        if run.id not in self.latest:
            self.order.append(run.id)
        if run.id in self.settled:
            return
        if detailed or run.id not in self.latest or not self.latest[run.id].steps:
            self.latest[run.id] = run
        else:  # a summary of a run being read in full: keep its steps, take its status
            self.latest[run.id] = self.latest[run.id].model_copy(update={"status": run.status})
        if detailed and run.final:
            self.settled.add(run.id)

    def refresh(self, run_id: UUID) -> None:
        self.see(self.api.run(run_id), detailed=True)

    def unsettled(self) -> list[UUID]:
        return [run_id for run_id in self.order if run_id not in self.settled]

    def progress(self) -> list[RunProgress]:
        return [RunProgress(self.latest[run_id], self.outlines.get(run_id)) for run_id in self.order]


class RunsWatch:
    """Runs queued one by one (files, a saved recording)."""

    def __init__(self, api: ReproseApi, runs: list[RemoteRun], outlines: dict[UUID, StepOutline | None]) -> None:
        self._runs = _Runs(api)
        self._runs.outlines.update(outlines)
        for run in runs:
            self._runs.see(run, detailed=False)

    def poll(self) -> int:
        pending = self._runs.unsettled()
        for run_id in pending:
            self._runs.refresh(run_id)
        return len(pending)

    @property
    def finished(self) -> bool:
        return not self._runs.unsettled()

    def progress(self) -> list[RunProgress]:
        return self._runs.progress()

    def cancel(self) -> None:
        for run_id in self._runs.unsettled():
            if not self._runs.latest[run_id].final:
                self._runs.api.cancel_run(run_id)


class SuiteWatch:
    """A suite run: its status and children from `GET /api/suite-runs/{id}`; the children that run (or ended)
    read in full; each child's steps from its saved recording (`GET /api/recordings/{id}`, once each)."""

    def __init__(self, api: ReproseApi, suite_run: SuiteRun) -> None:
        self._api = api
        self.suite_run = suite_run
        self._runs = _Runs(api)
        self._recordings: dict[UUID, StepOutline | None] = {}
        self._take(suite_run)

    def _take(self, suite_run: SuiteRun) -> int:
        self.suite_run = suite_run
        asked = 0
        for child in suite_run.runs:
            if child.id not in self._runs.outlines:
                outline = None
                if child.recording_id is not None:
                    if child.recording_id not in self._recordings:
                        recording = self._api.recording(child.recording_id)
                        asked += 1
                        self._recordings[child.recording_id] = (
                            recording_outline(recording.script, recording.step_count) if recording else None)
                    outline = self._recordings[child.recording_id]
                self._runs.outlines[child.id] = outline
            self._runs.see(child, detailed=False)
        return asked

    def poll(self) -> int:
        asked = 1 + self._take(self._api.suite_run(self.suite_run.id))
        for run_id in self._runs.unsettled():
            if self._runs.latest[run_id].status != RunStatus.QUEUED:
                self._runs.refresh(run_id)
                asked += 1
        return asked

    @property
    def finished(self) -> bool:
        return self.suite_run.final and not self._runs.unsettled()

    def progress(self) -> list[RunProgress]:
        return self._runs.progress()

    def cancel(self) -> None:
        if not self.suite_run.final:
            self._api.cancel_suite_run(self.suite_run.id)


@dataclass(frozen=True)
class WatchResult:
    runs: list[RunProgress]
    timed_out: frozenset[UUID] = frozenset()


def watch(watched: Watched, progress: Progress, *, timeout_s: float | None, poll_s: float,
          clock: Callable[[], float], sleep: Callable[[float], None]) -> WatchResult:
    """Poll until every run is final, showing each change; past `timeout_s`, cancel what is still going."""
    deadline = clock() + timeout_s if timeout_s is not None else None
    while True:
        asked = watched.poll()
        current = watched.progress()
        progress.update(current)
        if watched.finished:
            progress.close()
            return WatchResult(current)
        if deadline is not None and clock() >= deadline:
            going = frozenset(item.run.id for item in current if not item.run.final)
            watched.cancel()
            watched.poll()
            current = watched.progress()
            progress.update(current)
            progress.close()
            return WatchResult(current, going)
        pause = max(poll_s, asked / MAX_REQUESTS_PER_S)
        if deadline is not None:
            pause = max(min(pause, deadline - clock()), 0.0)
        sleep(pause)
