"""Flaky tests, as values: a saved recording's flakiness over its last runs, and when a recording is quarantined
automatically. No I/O here: storage/flaky.py reads the runs, the API and the worker act on what this decides.

The score of a recording over its last N runs on a queue (`GET /api/flaky?runs=N`, the recording's history):

    runs        its last N runs that passed or failed, oldest first (error and cancelled runs say nothing of the test
                and are left out; they do not take a place in the window)
    flips       consecutive runs against the same target whose statuses differ (passed -> failed or failed -> passed);
                the target is the run's `baseUrl`, or the recording's own origin when it has none, so a failure on
                staging followed by a pass on production is not a flip
    flaky runs  runs that passed on a retry after a failed attempt (`flaky: true`): a flip inside one run
    score       min(1, (flips + flaky runs) / (runs - 1)); 0 with fewer than 2 runs

0 is a recording whose verdict never changes; 1 one that changes at every run (or needs a retry every time).

Automatic quarantine (FLAKY_QUARANTINE_FLIPS = K, FLAKY_WINDOW_RUNS = N): when a run of a saved recording reaches its
final status and flips + flaky runs over the last N runs reach K, the recording is quarantined with the reason
"automatic: K flips in the last N runs". K = 0: never.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from contract.runs import RunStatus

SCORED_STATUSES = (RunStatus.PASSED, RunStatus.FAILED)
AUTOMATIC = "automatic"  # quarantined_by of an automatic quarantine
MAX_WINDOW_RUNS = 500


def target_of(url: str) -> str:
    """What runs are compared on: a base URL or an origin, its scheme and host in lower case, no trailing slash."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


@dataclass(frozen=True)
class ScoredRun:
    """One final run as the score reads it."""

    status: RunStatus
    flaky: bool
    target: str  # the run's base URL, or the recording's origin (see `target_of`)


@dataclass(frozen=True)
class Flakiness:
    runs: int  # passed and failed runs read
    flips: int
    flaky_runs: int
    score: float

    @property
    def instabilities(self) -> int:
        """What automatic quarantine counts: flips between runs, and flips inside one (flaky runs)."""
        return self.flips + self.flaky_runs


def flakiness(runs: Sequence[ScoredRun]) -> Flakiness:
    """`runs` oldest first; only passed and failed ones count."""
    scored = [run for run in runs if run.status in SCORED_STATUSES]
    last: dict[str, RunStatus] = {}
    flips = 0
    for run in scored:
        previous = last.get(run.target)
        if previous is not None and previous != run.status:
            flips += 1
        last[run.target] = run.status
    flaky_runs = sum(1 for run in scored if run.flaky)
    score = 0.0 if len(scored) < 2 else min(1.0, (flips + flaky_runs) / (len(scored) - 1))
    return Flakiness(runs=len(scored), flips=flips, flaky_runs=flaky_runs, score=round(score, 4))


@dataclass(frozen=True)
class QuarantinePolicy:
    """FLAKY_QUARANTINE_FLIPS and FLAKY_WINDOW_RUNS."""

    flips: int = 3  # 0: never automatic
    window_runs: int = 20

    @property
    def automatic(self) -> bool:
        return self.flips > 0

    def reason(self, found: Flakiness) -> str | None:
        """The automatic quarantine's reason when the recording's flakiness over the window calls for it, else None."""
        if not self.automatic or found.instabilities < self.flips:
            return None
        count = found.instabilities
        return f"automatic: {count} flip{'s' if count != 1 else ''} in the last {self.window_runs} runs"
