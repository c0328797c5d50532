"""Retention rules as a value: how long each group of artifacts is kept after its run finished, by the run's
outcome, and how long final runs are kept at all. Built from the settings (RETENTION_*_DAYS), decided here
without I/O; `storage.retention` carries a policy out (its SQL applies `artifact_rules` and `runs_days`, and
the integration tests hold it to `decide`).

    artifact groups   video (video), screenshots (screenshot, visual-actual, visual-baseline, visual-diff),
                      debug (trace, html, console, har)
    outcomes          passed (the run passed), failed (every other final status: failed, error, cancelled)
    a rule            (group, outcome) -> days after the run finished; unset = kept
    runs              RETENTION_RUNS_DAYS: a final run older than that goes, with every artifact of its own
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from contract.results import ArtifactKind
from contract.runs import FINAL_RUN_STATUSES, RunStatus
from contract.settings import Settings

SECONDS_PER_DAY = 86_400


class ArtifactGroup(StrEnum):
    VIDEO = "video"
    SCREENSHOTS = "screenshots"
    DEBUG = "debug"


GROUP_KINDS: Mapping[ArtifactGroup, tuple[ArtifactKind, ...]] = {
    ArtifactGroup.VIDEO: ("video",),
    ArtifactGroup.SCREENSHOTS: ("screenshot", "visual-actual", "visual-baseline", "visual-diff"),
    ArtifactGroup.DEBUG: ("trace", "html", "console", "har"),
}
_GROUP_OF_KIND: Mapping[str, ArtifactGroup] = {kind: group for group, kinds in GROUP_KINDS.items() for kind in kinds}


def group_of(kind: str) -> ArtifactGroup | None:
    """The group an artifact kind belongs to (None for a kind this release does not know: it is kept)."""
    return _GROUP_OF_KIND.get(kind)


class Outcome(StrEnum):
    """How a run ended, as retention sees it: passed, or anything else final."""

    PASSED = "passed"
    FAILED = "failed"

    @property
    def statuses(self) -> tuple[RunStatus, ...]:
        if self is Outcome.PASSED:
            return (RunStatus.PASSED,)
        return tuple(status for status in RunStatus if status in FINAL_RUN_STATUSES and status != RunStatus.PASSED)

    @classmethod
    def of(cls, status: RunStatus) -> Outcome | None:
        """None for a run that is not final (queued, running): retention never touches it."""
        if status not in FINAL_RUN_STATUSES:
            return None
        return cls.PASSED if status == RunStatus.PASSED else cls.FAILED


@dataclass(frozen=True)
class ArtifactRule:
    """Artifacts of `group` whose run ended with `outcome` go `days` after the run finished."""

    group: ArtifactGroup
    outcome: Outcome
    days: float

    @property
    def kinds(self) -> tuple[str, ...]:
        return GROUP_KINDS[self.group]

    @property
    def statuses(self) -> tuple[RunStatus, ...]:
        return self.outcome.statuses

    @property
    def seconds(self) -> float:
        return self.days * SECONDS_PER_DAY


class Verdict(StrEnum):
    KEEP = "keep"
    REMOVE_ARTIFACT = "remove-artifact"  # the object goes; its row stays, marked removed
    REMOVE_RUN = "remove-run"  # the run goes, its rows and every object of its own


@dataclass(frozen=True)
class RetentionPolicy:
    artifact_rules: tuple[ArtifactRule, ...] = ()
    runs_days: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        days = {
            (ArtifactGroup.VIDEO, Outcome.PASSED): settings.retention_video_passed_days,
            (ArtifactGroup.VIDEO, Outcome.FAILED): settings.retention_video_failed_days,
            (ArtifactGroup.SCREENSHOTS, Outcome.PASSED): settings.retention_screenshots_passed_days,
            (ArtifactGroup.SCREENSHOTS, Outcome.FAILED): settings.retention_screenshots_failed_days,
            (ArtifactGroup.DEBUG, Outcome.PASSED): settings.retention_debug_passed_days,
            (ArtifactGroup.DEBUG, Outcome.FAILED): settings.retention_debug_failed_days,
        }
        rules = tuple(ArtifactRule(group, outcome, value) for (group, outcome), value in days.items()
                      if value is not None)
        return cls(artifact_rules=rules, runs_days=settings.retention_runs_days)

    @property
    def is_empty(self) -> bool:
        """No rule at all: everything is kept, and a worker registers no retention pass."""
        return not self.artifact_rules and self.runs_days is None

    def rule_for(self, group: ArtifactGroup, outcome: Outcome) -> ArtifactRule | None:
        return next((rule for rule in self.artifact_rules if rule.group == group and rule.outcome == outcome), None)

    def run_expires_at(self, status: RunStatus, finished_at: datetime | None) -> datetime | None:
        """When the run itself goes (None: kept)."""
        if self.runs_days is None or finished_at is None or Outcome.of(status) is None:
            return None
        return finished_at + timedelta(days=self.runs_days)

    def artifact_expires_at(self, kind: str, status: RunStatus, finished_at: datetime | None) -> datetime | None:
        """When the artifact's own rule removes its object (None: no rule removes it)."""
        group, outcome = group_of(kind), Outcome.of(status)
        if group is None or outcome is None or finished_at is None:
            return None
        rule = self.rule_for(group, outcome)
        return finished_at + timedelta(days=rule.days) if rule is not None else None

    def decide(self, kind: str, status: RunStatus, finished_at: datetime | None, now: datetime) -> Verdict:
        """What a pass at `now` does with one artifact of a run (the run going takes the artifact along)."""
        run_expiry = self.run_expires_at(status, finished_at)
        if run_expiry is not None and run_expiry < now:
            return Verdict.REMOVE_RUN
        artifact_expiry = self.artifact_expires_at(kind, status, finished_at)
        if artifact_expiry is not None and artifact_expiry < now:
            return Verdict.REMOVE_ARTIFACT
        return Verdict.KEEP

    def describe(self) -> dict[str, float | None]:
        """The rules by setting name, for logs and the cleanup command."""
        described: dict[str, float | None] = {
            f"{group.value}.{outcome.value}": (rule.days if (rule := self.rule_for(group, outcome)) else None)
            for group in ArtifactGroup for outcome in Outcome
        }
        described["runs"] = self.runs_days
        return described
