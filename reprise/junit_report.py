"""`reprise submit --junit FILE`: the runs as JUnit XML, the report CI servers show (GitLab, Jenkins, GitHub
actions that read JUnit).

    <testsuites name="reprise" tests= failures= errors= skipped= time=>
      <testsuite name="<suite name or reprise>" ...>
        <testcase name="<recording name>" classname="<suite name or reprise>" time="<seconds>">
          <failure message="<failing step's error>" type="<category>">step 3 of 7 (click #go) failed: ...</failure>
          | <error message="..." type="...">  (the run ended in error, or did not finish within --timeout)
          | <skipped message="cancelled ..."/>
          | <skipped message="quarantined: <what went wrong>">the failure</skipped>  (a quarantined recording's
                failure or error: CI servers show it as skipped, with the message, and the build stays green)
          <system-out>run: <dashboard link>
    [[ATTACHMENT|<video url>]]  [[ATTACHMENT|<trace url>]]  [[ATTACHMENT|<failure screenshot url>]]</system-out>

Written with xml.etree (escaping by the library); characters XML 1.0 cannot hold (terminal colour codes in a
browser's error message) are taken out first, so every parser reads the file.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from reprise.submit_results import Outcome

DEFAULT_SUITE = "reprise"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MAX_MESSAGE_CHARS = 1000


def xml_text(text: str) -> str:
    """`text` without terminal escape sequences and the characters XML 1.0 forbids."""
    return _NOT_XML.sub("", _ANSI.sub("", text))


def _message(text: str) -> str:
    """An attribute: one line, bounded."""
    flat = " ".join(xml_text(text).split())
    return flat if len(flat) <= MAX_MESSAGE_CHARS else flat[:MAX_MESSAGE_CHARS - 1] + "…"


def _unique_names(outcomes: Sequence[Outcome]) -> list[str]:
    """Each run's name; a name met more than once gets its run number, so every testcase can be told apart."""
    seen = Counter(outcome.run.name for outcome in outcomes)
    return [outcome.run.name if seen[outcome.run.name] == 1 else f"{outcome.run.name} (#{outcome.run.number})"
            for outcome in outcomes]


def _testcase(outcome: Outcome, name: str, classname: str) -> ET.Element:
    case = ET.Element("testcase", name=xml_text(name), classname=xml_text(classname), time=f"{outcome.duration_s:.3f}")
    verdict = outcome.verdict
    category = str(outcome.failing_step.category or "") if outcome.failing_step else ""
    category = category or outcome.run.error_category or verdict
    text = xml_text(outcome.failure_text or "")
    if verdict == "failed":
        failure = ET.SubElement(case, "failure", message=_message(outcome.problem or "failed"), type=category)
        failure.text = text
    elif verdict in ("error", "timeout"):
        error = ET.SubElement(case, "error", message=_message(outcome.problem or verdict),
                              type="timeout" if verdict == "timeout" else category)
        error.text = text
    elif verdict == "quarantined":
        skipped = ET.SubElement(case, "skipped", message=_message(f"quarantined: {outcome.problem or 'failed'}"),
                                type="quarantined")
        skipped.text = text
    elif verdict == "cancelled":
        by = f" by {outcome.run.cancelled_by}" if outcome.run.cancelled_by else ""
        ET.SubElement(case, "skipped", message=_message(f"cancelled{by}: {outcome.run.error or ''}".rstrip(": ")))
    out = [f"run: {outcome.link}", f"api: {outcome.run.url}"]
    out += [f"[[ATTACHMENT|{url}]]" for _, url in outcome.attachments()]
    ET.SubElement(case, "system-out").text = xml_text("\n".join(out) + "\n")
    return case


def junit_xml(outcomes: Sequence[Outcome], *, suite: str | None = None,
              timestamp: datetime | None = None) -> bytes:
    """The report as UTF-8 XML bytes (with the XML declaration)."""
    name = suite or DEFAULT_SUITE
    counts = Counter(outcome.verdict for outcome in outcomes)
    totals = {
        "tests": str(len(outcomes)),
        "failures": str(counts["failed"]),
        "errors": str(counts["error"] + counts["timeout"]),
        "skipped": str(counts["cancelled"] + counts["quarantined"]),
        "time": f"{sum(outcome.duration_s for outcome in outcomes):.3f}",
    }
    root = ET.Element("testsuites", {"name": DEFAULT_SUITE, **totals})
    stamp = (timestamp or datetime.now(UTC)).replace(microsecond=0).isoformat()
    testsuite = ET.SubElement(root, "testsuite", {"name": xml_text(name), "timestamp": stamp, **totals})
    for outcome, case_name in zip(outcomes, _unique_names(outcomes), strict=True):
        testsuite.append(_testcase(outcome, case_name, name))
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body + b"\n"


def write_junit(path: Path, outcomes: Sequence[Outcome], *, suite: str | None = None) -> None:
    """Write the report (its folder made if missing); OSError when it cannot be written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(outcomes, suite=suite))
