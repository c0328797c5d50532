"""The dashboard takes the run contract from the API (`GET /api/contract`), never from a copy of its own."""

from __future__ import annotations

import re

from contract.document import client_contract
from contract.runs import AttemptStatus, RunStatus, StepStatus, contract_document

from services import REPO_ROOT

DASHBOARD_JS = REPO_ROOT / "api" / "dashboard" / "app.js"


def test_the_dashboard_spells_no_status_and_reads_the_contract() -> None:
    script = DASHBOARD_JS.read_text(encoding="utf-8")
    for status in {*RunStatus, *AttemptStatus, *StepStatus}:
        assert not re.search(rf"""["'`]{status.value}["'`]""", script), f"app.js spells the status {status.value!r}"
    assert 'api("/api/contract")' in script


def test_the_contract_document_lists_every_status_once() -> None:
    document = contract_document()
    assert document["runStatuses"] == [status.value for status in RunStatus]
    assert document["finalRunStatuses"] == ["passed", "failed", "error", "cancelled"]
    assert document["runTransitions"]["queued"] == ["cancelled", "error", "running"]
    assert document["runTransitions"]["passed"] == []


def test_the_served_contract_holds_schedule_states_and_priorities_highest_first() -> None:
    document = client_contract()
    assert document["scheduleStates"] == ["active", "paused", "stopped"]
    assert document["priorities"] == ["high", "normal", "low"]
    assert document["runStatuses"] == contract_document()["runStatuses"]
    assert document["suiteRunStatuses"] == ["queued", "running", "passed", "failed", "error", "cancelled"]
    assert document["finalSuiteRunStatuses"] == ["passed", "failed", "error", "cancelled"]
