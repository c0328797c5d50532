"""Suites: a named set of saved recordings run together, with run options they share (the suite's defaults).

A suite run has one child run per recording. Its status is defined here once; the database mirrors it (migration
0015: the `suite_run_status` ENUM) and tests/integration/test_contract_schema.py holds the two together.

    queued ──> running ──> passed | failed | error | cancelled      (final: decided once, when every child is)

`running` is read, not written: a queued suite run one of whose children has started. The final status is
`suite_verdict` of the children's final statuses, written by the worker that takes the suite's parent job.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, Field

from contract.options import CamelModel, RunOptions
from contract.runs import RunStatus

MAX_SUITE_RECORDINGS = 200


class SuiteRunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    CANCELLED = "cancelled"


FINAL_SUITE_RUN_STATUSES: frozenset[SuiteRunStatus] = frozenset(
    {SuiteRunStatus.PASSED, SuiteRunStatus.FAILED, SuiteRunStatus.ERROR, SuiteRunStatus.CANCELLED})


def suite_contract() -> dict[str, Any]:
    """The suite run statuses for `GET /api/contract` (the dashboard's "is it decided" test)."""
    return {"suiteRunStatuses": [status.value for status in SuiteRunStatus],
            "finalSuiteRunStatuses": [status.value for status in SuiteRunStatus
                                      if status in FINAL_SUITE_RUN_STATUSES]}


def suite_verdict(counts: Mapping[RunStatus, int], *, cancel_requested: bool, quarantined: int = 0) -> SuiteRunStatus:
    """The suite's result from its children's final statuses: cancelled when someone cancelled the suite; else failed
    when a test failed (what a CI build must see first), else error when one could not be run, else cancelled when a
    child was cancelled on its own, else passed.

    `counts` leave out the `quarantined` children: those that failed or ended in error while their recording was
    quarantined (README "Flaky tests and quarantine"). They are reported apart and never fail the suite, so a suite
    whose only failures are quarantined ones passes."""
    del quarantined  # reported (suite_runs.quarantined), not held against the suite
    if cancel_requested:
        return SuiteRunStatus.CANCELLED
    if counts.get(RunStatus.FAILED, 0):
        return SuiteRunStatus.FAILED
    if counts.get(RunStatus.ERROR, 0):
        return SuiteRunStatus.ERROR
    if counts.get(RunStatus.CANCELLED, 0):
        return SuiteRunStatus.CANCELLED
    return SuiteRunStatus.PASSED


def child_options(defaults: RunOptions, request: RunOptions) -> RunOptions:
    """A child run's options: the suite's defaults, then what the run request sets over them (variables merged
    name by name, the request's winning)."""
    merged: dict[str, Any] = {**defaults.model_dump(exclude_unset=True), **request.model_dump(exclude_unset=True)}
    if "variables" in defaults.model_fields_set and "variables" in request.model_fields_set:
        merged["variables"] = {**defaults.variables, **request.variables}
    if "secrets" in defaults.model_fields_set and "secrets" in request.model_fields_set:
        merged["secrets"] = list(dict.fromkeys([*defaults.secrets, *request.secrets]))
    return RunOptions.model_validate(merged)


def _unique(ids: list[UUID]) -> list[UUID]:
    if len(set(ids)) != len(ids):
        raise ValueError("a recording is listed twice")
    return ids


RecordingIds = Annotated[list[UUID], Field(min_length=1, max_length=MAX_SUITE_RECORDINGS), AfterValidator(_unique)]
SuiteName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]


class SuiteCreate(CamelModel):
    """`POST /api/suites`: the recordings in the order their runs are queued, and the options every run of the
    suite starts from."""

    model_config = CamelModel.model_config | {"extra": "forbid"}

    name: SuiteName
    recording_ids: RecordingIds
    defaults: RunOptions = Field(default_factory=RunOptions)


class SuitePatch(CamelModel):
    """`PATCH /api/suites/{id}`: what is given replaces what the suite had (defaults as a whole)."""

    model_config = CamelModel.model_config | {"extra": "forbid"}

    name: SuiteName | None = None
    recording_ids: RecordingIds | None = None
    defaults: RunOptions | None = None
