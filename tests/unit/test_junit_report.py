"""The JUnit report of `reprise submit --junit`, read back by junitparser (what CI servers' parsers accept)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from junitparser import Error, Failure, JUnitXml, Skipped

from reprise.junit_report import junit_xml, write_junit, xml_text
from reprise.submit_api import RemoteRun
from reprise.submit_results import Outcome

API = "https://reprise.example/base"


def outcome(name: str, status: str, number: int, *, steps: list[dict[str, Any]] | None = None,
            timed_out: bool = False, **fields: Any) -> Outcome:
    run_id = uuid.uuid4()
    run = RemoteRun.model_validate({"id": str(run_id), "number": number, "name": name, "status": status,
                                    "attempts": 1, "url": f"{API}/api/runs/{run_id}", "steps": steps or [],
                                    **fields})
    return Outcome(run, f"{API}/#/runs/{run_id}", outline=(None,) * 5, timed_out=timed_out)


def artifact(run: Outcome, number: int, kind: str, step: int | None = None, attempt: int = 1) -> dict[str, Any]:
    return {"id": number, "kind": kind, "attempt": attempt, "step": step,
            "url": f"{API}/api/runs/{run.run.id}/artifacts/{number}"}


def failed_outcome() -> Outcome:
    error = '\x1b[31mTimeout 5000ms\x1b[39m waiting for locator("#go") <a & "b">\x00\x08'
    steps = [{"index": 0, "type": "navigate", "status": "passed", "durationMs": 10},
             {"index": 1, "type": "click", "status": "failed", "durationMs": 5000, "selector": "#go",
              "error": error, "category": "selector_not_found"},
             {"index": 2, "type": "fill", "status": "skipped", "durationMs": 0}]
    failed = outcome("checkout", "failed", 12, steps=steps, durationMs=5432, error=error,
                     errorCategory="selector_not_found")
    artifacts = [artifact(failed, 1, "video"), artifact(failed, 2, "screenshot", step=1), artifact(failed, 3, "trace"),
                 artifact(failed, 4, "html", step=1), artifact(failed, 5, "screenshot", step=0, attempt=0)]
    run = RemoteRun.model_validate({**failed.run.model_dump(by_alias=True, mode="json"), "artifacts": artifacts,
                                    "videoUrl": artifacts[0]["url"]})
    return Outcome(run, failed.link, outline=(None, "#go", "#name"))


def test_one_testcase_per_run_with_failure_error_and_skipped_as_parsers_read_them(tmp_path: Path) -> None:
    failed = failed_outcome()
    passed = outcome("login", "passed", 11, durationMs=1500)
    broken = outcome("search", "error", 13, durationMs=700, error="the browser crashed",
                     errorCategory="browser_crashed")
    cancelled = outcome("admin", "cancelled", 14, error="cancelled by request", cancelledBy="alice")
    slow = outcome("export", "cancelled", 15, timed_out=True, durationMs=None)
    path = tmp_path / "deep" / "junit.xml"
    write_junit(path, [passed, failed, broken, cancelled, slow])

    xml = JUnitXml.fromfile(str(path))
    [suite] = list(xml)
    assert (suite.name, suite.tests, suite.failures, suite.errors, suite.skipped) == ("reprise", 5, 1, 2, 1)
    cases = {case.name: case for case in suite}
    assert list(cases) == ["login", "checkout", "search", "admin", "export"]
    assert {case.classname for case in suite} == {"reprise"}
    assert (cases["login"].is_passed, cases["login"].time, cases["checkout"].time) == (True, 1.5, 5.432)

    [failure] = cases["checkout"].result
    assert isinstance(failure, Failure) and failure.type == "selector_not_found"
    # Colour codes and characters XML cannot hold are gone; markup characters survive the round trip.
    assert failure.message == 'Timeout 5000ms waiting for locator("#go") <a & "b">'
    assert failure.text == ('step 2 of 3 (click #go) failed\nTimeout 5000ms waiting for locator("#go") <a & "b">\n'
                            "category: selector_not_found")
    [error] = cases["search"].result
    assert isinstance(error, Error) and (error.message, error.type) == ("the browser crashed", "browser_crashed")
    [skipped] = cases["admin"].result
    assert isinstance(skipped, Skipped) and skipped.message == "cancelled by alice: cancelled by request"
    [timeout] = cases["export"].result
    assert isinstance(timeout, Error) and timeout.type == "timeout"
    assert timeout.message == "did not finish within --timeout (cancelled)"

    out = (cases["checkout"].system_out or "").splitlines()
    assert out == [f"run: {failed.link}", f"api: {failed.run.url}",
                   *(f"[[ATTACHMENT|{API}/api/runs/{failed.run.id}/artifacts/{n}]]" for n in (1, 3, 2))]
    assert (cases["login"].system_out or "").splitlines() == [f"run: {passed.link}", f"api: {passed.run.url}"]


def test_a_suites_name_names_the_testsuite_and_the_classnames_and_repeated_names_get_their_numbers() -> None:
    first, second = outcome("login", "passed", 3), outcome("login", "passed", 4)
    xml = JUnitXml.fromstring(junit_xml([first, second, outcome("other", "passed", 5)], suite="smoke & more"))
    [suite] = list(xml)
    assert suite.name == "smoke & more"
    assert [(case.name, case.classname) for case in suite] == [
        ("login (#3)", "smoke & more"), ("login (#4)", "smoke & more"), ("other", "smoke & more")]


def test_xml_text_keeps_what_xml_can_hold() -> None:
    assert xml_text("a\tb\nc\r\x1b[1;31md\x1b[0m\x07\ufffe\U0001f600é") == "a\tb\nc\rd\U0001f600é"
