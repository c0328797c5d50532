"""The retention rules as a value (contract/retention.py): built from the settings, decided without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from contract.results import ArtifactKind
from contract.retention import (
    GROUP_KINDS,
    ArtifactGroup,
    ArtifactRule,
    Outcome,
    RetentionPolicy,
    Verdict,
    group_of,
)
from contract.runs import FINAL_RUN_STATUSES, RunStatus
from contract.settings import Settings

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def policy_from(**environment: str) -> RetentionPolicy:
    return RetentionPolicy.from_settings(Settings(**environment))  # type: ignore[arg-type]


def test_every_artifact_kind_is_in_exactly_one_group() -> None:
    kinds = [kind for group in ArtifactGroup for kind in GROUP_KINDS[group]]
    assert sorted(kinds) == sorted(get_args(ArtifactKind))
    assert group_of("video") == ArtifactGroup.VIDEO and group_of("screenshot") == ArtifactGroup.SCREENSHOTS
    assert {group_of(kind) for kind in ("trace", "html", "console", "har")} == {ArtifactGroup.DEBUG}
    assert group_of("hologram") is None


def test_passed_is_one_outcome_and_every_other_final_status_the_other() -> None:
    assert Outcome.PASSED.statuses == (RunStatus.PASSED,)
    assert set(Outcome.FAILED.statuses) == FINAL_RUN_STATUSES - {RunStatus.PASSED}
    assert Outcome.of(RunStatus.CANCELLED) == Outcome.FAILED and Outcome.of(RunStatus.ERROR) == Outcome.FAILED
    assert Outcome.of(RunStatus.RUNNING) is None and Outcome.of(RunStatus.QUEUED) is None


def test_settings_become_one_rule_per_set_variable() -> None:
    policy = policy_from(RETENTION_VIDEO_PASSED_DAYS="7", RETENTION_DEBUG_FAILED_DAYS="30",
                         RETENTION_SCREENSHOTS_PASSED_DAYS="0.5", RETENTION_RUNS_DAYS="90")
    assert set(policy.artifact_rules) == {
        ArtifactRule(ArtifactGroup.VIDEO, Outcome.PASSED, 7.0),
        ArtifactRule(ArtifactGroup.DEBUG, Outcome.FAILED, 30.0),
        ArtifactRule(ArtifactGroup.SCREENSHOTS, Outcome.PASSED, 0.5),
    }
    assert policy.runs_days == 90.0 and not policy.is_empty
    assert policy.rule_for(ArtifactGroup.VIDEO, Outcome.FAILED) is None
    assert policy.rule_for(ArtifactGroup.SCREENSHOTS, Outcome.PASSED) is not None
    rule = policy.rule_for(ArtifactGroup.DEBUG, Outcome.FAILED)
    assert rule is not None and rule.kinds == ("trace", "html", "console", "har") and rule.seconds == 30 * 86_400
    assert policy.describe()["video.passed"] == 7.0 and policy.describe()["video.failed"] is None


def test_no_setting_is_an_empty_policy_that_keeps_everything() -> None:
    policy = policy_from()
    assert policy.is_empty and policy.artifact_rules == () and policy.runs_days is None
    for kind in get_args(ArtifactKind):
        for status in FINAL_RUN_STATUSES:
            assert policy.decide(kind, status, days_ago(10_000), NOW) == Verdict.KEEP
    assert not policy_from(RETENTION_RUNS_DAYS="1").is_empty


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError, match="RETENTION_VIDEO_PASSED_DAYS"):
        policy_from(RETENTION_VIDEO_PASSED_DAYS="-1")


@pytest.mark.parametrize(("kind", "status", "age_days", "verdict"), [
    # videos: passed runs keep theirs 7 days, the others 30
    ("video", RunStatus.PASSED, 8, Verdict.REMOVE_ARTIFACT),
    ("video", RunStatus.PASSED, 6, Verdict.KEEP),
    ("video", RunStatus.FAILED, 8, Verdict.KEEP),
    ("video", RunStatus.ERROR, 31, Verdict.REMOVE_ARTIFACT),
    ("video", RunStatus.CANCELLED, 31, Verdict.REMOVE_ARTIFACT),
    # screenshots: only passed runs lose them (1 day)
    ("screenshot", RunStatus.PASSED, 2, Verdict.REMOVE_ARTIFACT),
    ("screenshot", RunStatus.FAILED, 60, Verdict.KEEP),
    # debug files: no rule for passed runs, 14 days for the rest
    ("trace", RunStatus.PASSED, 60, Verdict.KEEP),
    ("har", RunStatus.FAILED, 15, Verdict.REMOVE_ARTIFACT),
    ("console", RunStatus.FAILED, 13, Verdict.KEEP),
    # a kind this release does not know has no rule of its own
    ("hologram", RunStatus.PASSED, 60, Verdict.KEEP),
    # runs older than 90 days go whole, whatever their artifacts' rules
    ("screenshot", RunStatus.FAILED, 91, Verdict.REMOVE_RUN),
    ("hologram", RunStatus.PASSED, 91, Verdict.REMOVE_RUN),
])
def test_decide(kind: str, status: RunStatus, age_days: float, verdict: Verdict) -> None:
    policy = policy_from(RETENTION_VIDEO_PASSED_DAYS="7", RETENTION_VIDEO_FAILED_DAYS="30",
                         RETENTION_SCREENSHOTS_PASSED_DAYS="1", RETENTION_DEBUG_FAILED_DAYS="14",
                         RETENTION_RUNS_DAYS="90")
    assert policy.decide(kind, status, days_ago(age_days), NOW) == verdict


def test_unfinished_runs_are_never_touched() -> None:
    policy = policy_from(RETENTION_VIDEO_PASSED_DAYS="0", RETENTION_VIDEO_FAILED_DAYS="0", RETENTION_RUNS_DAYS="0")
    for status in (RunStatus.QUEUED, RunStatus.RUNNING):
        assert policy.decide("video", status, days_ago(100), NOW) == Verdict.KEEP
        assert policy.decide("video", status, None, NOW) == Verdict.KEEP
    assert policy.decide("video", RunStatus.PASSED, None, NOW) == Verdict.KEEP  # final without a time: kept


def test_an_artifact_expires_after_its_rule_not_at_it() -> None:
    policy = policy_from(RETENTION_VIDEO_PASSED_DAYS="2")
    finished = days_ago(2)
    assert policy.artifact_expires_at("video", RunStatus.PASSED, finished) == NOW
    assert policy.decide("video", RunStatus.PASSED, finished, NOW) == Verdict.KEEP
    assert policy.decide("video", RunStatus.PASSED, finished, NOW + timedelta(seconds=1)) == Verdict.REMOVE_ARTIFACT
    assert policy.run_expires_at(RunStatus.PASSED, finished) is None
