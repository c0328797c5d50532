"""Flakiness as values (contract/flaky.py): the score, the flips counted per target, the automatic quarantine's
decision; and what `reprise submit` makes of a quarantined recording's failure (verdict, exit code, summaries,
JUnit)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from junitparser import JUnitXml, Skipped

from contract.flaky import Flakiness, QuarantinePolicy, ScoredRun, flakiness, target_of
from contract.runs import RunStatus
from contract.suites import SuiteRunStatus, suite_verdict
from reprise.junit_report import junit_xml
from reprise.submit_api import RemoteRun
from reprise.submit_results import Outcome, exit_code, markdown_summary, text_summary

P, F, E, C = RunStatus.PASSED, RunStatus.FAILED, RunStatus.ERROR, RunStatus.CANCELLED
SITE = "http://shop.example"


def runs(*statuses: RunStatus, target: str = SITE, flaky: tuple[int, ...] = ()) -> list[ScoredRun]:
    return [ScoredRun(status, index in flaky, target) for index, status in enumerate(statuses)]


@pytest.mark.parametrize(("window", "expected"), [
    ([], Flakiness(runs=0, flips=0, flaky_runs=0, score=0.0)),
    (runs(F), Flakiness(runs=1, flips=0, flaky_runs=0, score=0.0)),  # fewer than 2 runs: 0
    (runs(P, flaky=(0,)), Flakiness(runs=1, flips=0, flaky_runs=1, score=0.0)),
    (runs(P, P, P, P), Flakiness(runs=4, flips=0, flaky_runs=0, score=0.0)),
    (runs(F, F, F), Flakiness(runs=3, flips=0, flaky_runs=0, score=0.0)),  # always failing is not flaky
    (runs(P, P, F, F, F), Flakiness(runs=5, flips=1, flaky_runs=0, score=0.25)),  # broke once: 1 / 4
    (runs(P, F, P, F, P), Flakiness(runs=5, flips=4, flaky_runs=0, score=1.0)),
    (runs(P, P, P, P, P, flaky=(1, 3)), Flakiness(runs=5, flips=0, flaky_runs=2, score=0.5)),
    (runs(P, F, P, flaky=(0, 2)), Flakiness(runs=3, flips=2, flaky_runs=2, score=1.0)),  # capped at 1
    # error and cancelled runs are left out: the flip is between the failure and the pass around them
    (runs(F, E, C, P), Flakiness(runs=2, flips=1, flaky_runs=0, score=1.0)),
    (runs(P, E, E, P), Flakiness(runs=2, flips=0, flaky_runs=0, score=0.0)),
])
def test_the_score_counts_flips_and_flaky_runs_over_the_runs_that_passed_or_failed(
    window: list[ScoredRun], expected: Flakiness,
) -> None:
    assert flakiness(window) == expected


def test_flips_count_between_runs_of_the_same_base_url_only() -> None:
    staging, production = "https://staging.shop.example", "https://shop.example"
    # Staging broken, production fine, interleaved: no run changed its verdict against its own target.
    interleaved = [ScoredRun(F, False, staging), ScoredRun(P, False, production),
                   ScoredRun(F, False, staging), ScoredRun(P, False, production)]
    assert flakiness(interleaved) == Flakiness(runs=4, flips=0, flaky_runs=0, score=0.0)
    # A failure followed by a pass on the same base URL (another target's run in between) is a flip.
    fixed = [ScoredRun(F, False, staging), ScoredRun(P, False, production), ScoredRun(P, False, staging)]
    assert flakiness(fixed).flips == 1


def test_targets_compare_scheme_and_host_in_any_case_without_a_trailing_slash() -> None:
    assert target_of("HTTP://Shop.Example:8080/") == "http://shop.example:8080"
    assert target_of("https://shop.example/app/") == "https://shop.example/app"
    assert target_of("https://shop.example/app") != target_of("https://shop.example/other")


@pytest.mark.parametrize(("policy", "found", "reason"), [
    (QuarantinePolicy(flips=3, window_runs=20), Flakiness(10, 2, 0, 0.2), None),
    (QuarantinePolicy(flips=3, window_runs=20), Flakiness(10, 2, 1, 0.3), "automatic: 3 flips in the last 20 runs"),
    (QuarantinePolicy(flips=3, window_runs=20), Flakiness(10, 5, 0, 0.5), "automatic: 5 flips in the last 20 runs"),
    (QuarantinePolicy(flips=1, window_runs=5), Flakiness(2, 0, 1, 1.0), "automatic: 1 flip in the last 5 runs"),
    (QuarantinePolicy(flips=0, window_runs=20), Flakiness(20, 19, 20, 1.0), None),  # 0: never automatic
])
def test_automatic_quarantine_after_k_flips_and_flaky_runs(policy: QuarantinePolicy, found: Flakiness,
                                                          reason: str | None) -> None:
    assert policy.reason(found) == reason


def test_a_suite_whose_only_failures_are_quarantined_passes() -> None:
    # The counts leave the quarantined children out; they are reported apart.
    assert suite_verdict({P: 1}, cancel_requested=False, quarantined=1) == SuiteRunStatus.PASSED
    assert suite_verdict({P: 1, F: 1}, cancel_requested=False, quarantined=1) == SuiteRunStatus.FAILED
    assert suite_verdict({}, cancel_requested=False, quarantined=2) == SuiteRunStatus.PASSED


API = "https://ci.example"


def outcome(name: str, status: str, **fields: Any) -> Outcome:
    run_id = uuid.uuid4()
    run = RemoteRun.model_validate({"id": str(run_id), "number": 7, "name": name, "status": status, "attempts": 1,
                                    "url": f"{API}/api/runs/{run_id}", **fields})
    return Outcome(run, f"{API}/#/runs/{run_id}")


STEP = {"index": 1, "type": "assertText", "status": "failed", "durationMs": 300, "selector": "#state",
        "error": "expected ok, got broken", "category": "assertion_failed"}


def test_submit_exits_0_when_the_only_failures_are_quarantined_and_says_so() -> None:
    passed = outcome("login", "passed")
    quarantined = outcome("checkout", "failed", quarantined=True, steps=[STEP], error="step 2 failed")
    broken = outcome("search", "error", quarantined=True, error="the browser crashed")
    assert quarantined.verdict == "quarantined" and broken.verdict == "quarantined"
    assert exit_code([passed, quarantined, broken]) == 0
    assert exit_code([passed, quarantined], RunStatus.PASSED) == 0
    assert exit_code([passed, quarantined, outcome("other", "failed", steps=[STEP])]) == 1
    # A quarantined recording's run that passed is simply passed.
    assert outcome("fine", "passed", quarantined=True).verdict == "passed"

    text = text_summary([passed, quarantined], title="reprise submit")
    assert text.splitlines()[0] == "reprise submit: 2 runs: 1 passed, 1 quarantined"
    assert "  QUARANTINED #7" in text and "quarantined recording: this failure does not fail the build" in text
    assert "expected ok, got broken" in text
    table = markdown_summary([passed, quarantined], title="reprise submit")
    assert "| 🚧 quarantined | checkout |" in table


def test_junit_shows_a_quarantined_failure_as_skipped_with_its_reason(tmp_path: Any) -> None:
    quarantined = outcome("checkout", "failed", quarantined=True, steps=[STEP], durationMs=900)
    path = tmp_path / "junit.xml"
    path.write_bytes(junit_xml([outcome("login", "passed"), quarantined]))
    [suite] = list(JUnitXml.fromfile(str(path)))
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (2, 0, 0, 1)
    case = next(case for case in suite if case.name == "checkout")
    [skipped] = case.result
    assert isinstance(skipped, Skipped)
    assert skipped.message == "quarantined: expected ok, got broken"
    assert skipped.text is not None and "step 2 (assertText #state) failed" in skipped.text
