"""What `reprise submit --wait` concludes: verdicts, the exit code, the links, the terminal summary and GitHub's
Markdown job summary."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from contract.runs import RunStatus
from reprise.submit_api import RemoteRun
from reprise.submit_results import Outcome, dashboard_base, exit_code, markdown_summary, run_link, text_summary

API = "https://ci.example/reprise"


def outcome(name: str, status: str, number: int = 1, *, timed_out: bool = False, **fields: Any) -> Outcome:
    run_id = uuid.uuid4()
    run = RemoteRun.model_validate({"id": str(run_id), "number": number, "name": name, "status": status,
                                    "url": f"{API}/api/runs/{run_id}", **fields})
    return Outcome(run, run_link(run, "http://unused"), outline=(None, None, "#recorded", None), timed_out=timed_out)


FAILED_STEP = {"index": 2, "type": "click", "status": "failed", "durationMs": 5, "selector": "#pay | now",
               "error": "no element\nmatches <b>", "category": "selector_not_found"}


@pytest.mark.parametrize(("statuses", "timed_out", "suite", "code"), [
    (["passed", "passed"], False, None, 0),
    (["passed", "failed"], False, None, 1),
    (["failed", "error"], False, None, 3),
    (["passed", "cancelled"], False, None, 3),
    (["passed", "running"], True, None, 3),
    (["passed", "cancelled"], True, None, 3),
    (["passed", "passed"], False, RunStatus.ERROR, 3),
    (["passed", "passed"], False, RunStatus.FAILED, 1),
    ([], False, None, 0),
])
def test_exit_code(statuses: list[str], timed_out: bool, suite: RunStatus | None, code: int) -> None:
    outcomes = [outcome(f"r{i}", status, timed_out=timed_out and status != "passed")
                for i, status in enumerate(statuses)]
    assert exit_code(outcomes, suite) == code


def test_verdicts_a_run_cut_short_is_a_timeout_unless_it_ended_first() -> None:
    assert outcome("a", "running").verdict == "timeout"
    assert outcome("a", "cancelled", timed_out=True).verdict == "timeout"
    assert outcome("a", "passed", timed_out=True).verdict == "passed"
    assert outcome("a", "cancelled").verdict == "cancelled"


def test_links_go_to_the_dashboard_at_the_apis_public_address() -> None:
    run = outcome("a", "passed").run
    assert run_link(run, "http://127.0.0.1:8000") == f"{API}/#/runs/{run.id}"
    assert dashboard_base("not a link", "http://127.0.0.1:8000/") == "http://127.0.0.1:8000"


def test_text_summary_names_the_failing_step_and_the_timeouts() -> None:
    failed = outcome("checkout", "failed", 12, durationMs=2345, steps=[FAILED_STEP], error="no element\nmatches <b>")
    slow = outcome("export", "cancelled", 13, timed_out=True)
    text = text_summary([outcome("login", "passed", 11, durationMs=1000), failed, slow], title="reprise submit",
                        timeout_s=30)
    assert text.splitlines() == [
        "reprise submit: 3 runs: 1 passed, 1 failed, 1 timed out",
        f"  PASSED    #11    login        1.0 s  {API}/#/runs/{outcome_id(text, 0)}",
        f"  FAILED    #12    checkout     2.3 s  {failed.link}",
        "            step 3 of 4 (click #pay | now) failed",
        "            no element",
        "            matches <b>",
        "            category: selector_not_found",
        f"  TIMEOUT   #13    export           -  {slow.link}",
        "            did not finish within --timeout 30 s (was cancelled; cancelled)",
    ]


def outcome_id(text: str, line: int) -> str:
    return text.splitlines()[1 + line].rsplit("/", 1)[-1]


def test_markdown_summary_is_a_table_whose_cells_cannot_break_it() -> None:
    failed = outcome("check|out", "failed", 12, durationMs=2345, steps=[FAILED_STEP])
    broken = outcome("search", "error", 13, durationMs=10, error="the browser crashed")
    markdown = markdown_summary([outcome("login", "passed", 11, durationMs=1000), failed, broken],
                                title="suite smoke #2", link=f"{API}/#/suite-runs/x")
    lines = markdown.splitlines()
    assert lines[0] == "### suite smoke #2: 3 runs: 1 passed, 1 failed, 1 error"
    assert lines[2] == f"[Open in the dashboard]({API}/#/suite-runs/x)"
    assert lines[4:6] == ["| status | name | duration | failing step | link |", "| --- | --- | --- | --- | --- |"]
    assert lines[7] == ("| ❌ failed | check\\|out | 2.3 s | step 3 of 4 (click #pay \\| now): no element matches "
                        f"&lt;b&gt; | [#12]({failed.link}) |")
    assert lines[8] == f"| 💥 error | search | 0.0 s | the browser crashed | [#13]({broken.link}) |"
    assert all(len(re.split(r"(?<!\\)\|", line)) == 7 for line in lines[4:9])  # five cells each
    assert markdown.endswith("|\n\n")  # appended summaries stay apart
