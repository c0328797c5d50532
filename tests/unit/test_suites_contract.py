"""The suite's verdict from its children and how a child's options are made (contract/suites.py)."""

from __future__ import annotations

from uuid import uuid4

import pytest
from pydantic import ValidationError

from contract.options import RunOptions
from contract.runs import RunStatus
from contract.suites import SuiteCreate, SuiteRunStatus, child_options, suite_verdict


@pytest.mark.parametrize(("counts", "cancel_requested", "expected"), [
    ({RunStatus.PASSED: 3}, False, SuiteRunStatus.PASSED),
    ({RunStatus.PASSED: 2, RunStatus.FAILED: 1}, False, SuiteRunStatus.FAILED),
    ({RunStatus.FAILED: 1, RunStatus.ERROR: 1}, False, SuiteRunStatus.FAILED),
    ({RunStatus.PASSED: 2, RunStatus.ERROR: 1}, False, SuiteRunStatus.ERROR),
    ({RunStatus.PASSED: 2, RunStatus.CANCELLED: 1}, False, SuiteRunStatus.CANCELLED),
    ({RunStatus.PASSED: 1, RunStatus.FAILED: 1, RunStatus.CANCELLED: 1}, True, SuiteRunStatus.CANCELLED),
])
def test_the_verdict_puts_a_cancel_request_first_then_failures_then_errors(
    counts: dict[RunStatus, int], cancel_requested: bool, expected: SuiteRunStatus,
) -> None:
    assert suite_verdict(counts, cancel_requested=cancel_requested) == expected


def test_a_childs_options_are_the_defaults_with_the_request_over_them() -> None:
    defaults = RunOptions.model_validate({"baseUrl": "https://staging.example.com", "retries": 2,
                                         "variables": {"USER": "ada", "LANG": "en"}, "video": "off"})
    request = RunOptions.model_validate({"variables": {"LANG": "fr"}, "retries": 0})

    options = child_options(defaults, request)

    assert options.base_url == "https://staging.example.com" and options.video == "off"
    assert options.retries == 0  # set by the request, even to the product's default
    assert options.variables == {"USER": "ada", "LANG": "fr"}
    assert child_options(defaults, RunOptions()).retries == 2


def test_a_suite_lists_each_recording_once_and_at_least_one() -> None:
    recording = uuid4()
    with pytest.raises(ValidationError, match="listed twice"):
        SuiteCreate.model_validate({"name": "smoke", "recordingIds": [str(recording), str(recording)]})
    with pytest.raises(ValidationError, match="at least 1"):
        SuiteCreate.model_validate({"name": "smoke", "recordingIds": []})
    with pytest.raises(ValidationError, match="Extra inputs"):
        SuiteCreate.model_validate({"name": "smoke", "recordingIds": [str(recording)], "unknown": 1})
