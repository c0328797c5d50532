"""What `reprise submit --wait` concludes from its runs, as values: each run's outcome (its verdict, failing
step, links), the exit code, and the two summaries it prints (the terminal's, GitHub's Markdown job summary).

Exit code: 0 every run passed; 1 a run failed (a test failure) and none ended otherwise; 3 a run ended in
`error` or `cancelled`, or did not finish within `--timeout` (no verdict: the result is incomplete, so 3 wins
over 1). A run that failed or ended in error while its recording was quarantined (`quarantined: true`) has the
verdict `quarantined`: listed as such with what went wrong, never failing the build (README "Flaky tests and
quarantine"), so the exit is 0 when the only failures are quarantined ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from contract.results import StepResult
from contract.runs import RunStatus, StepStatus
from reprise.run_command import EXIT_ERROR, EXIT_FAILED, EXIT_PASSED
from reprise.submit_api import RemoteRun
from runner.formats import InvalidScript, parse_bounded
from runner.formats.steps import ElementStep

# Each step of a recording by its recorded selector (the first alternative; None for a step with none).
StepOutline = tuple[str | None, ...]

Verdict = Literal["passed", "failed", "error", "cancelled", "timeout", "quarantined"]
VERDICT_ORDER: tuple[Verdict, ...] = ("passed", "failed", "error", "cancelled", "timeout", "quarantined")
NO_VERDICT: frozenset[Verdict] = frozenset({"error", "cancelled", "timeout"})
MARKS: dict[Verdict, str] = {"passed": "✅", "failed": "❌", "error": "💥", "cancelled": "⏹️", "timeout": "⏱️",
                             "quarantined": "🚧"}


def dashboard_base(api_link: str, fallback: str) -> str:
    """The origin (and path prefix) the API builds its links from (its PUBLIC_URL): the part before `/api/`."""
    head, found, _ = api_link.partition("/api/")
    return head if found else fallback.rstrip("/")


def run_link(run: RemoteRun, fallback: str) -> str:
    """The run's page in the dashboard."""
    return f"{dashboard_base(run.url, fallback)}/#/runs/{run.id}"


def recording_outline(script: Any, step_count: int | None = None) -> StepOutline | None:
    """The recording's steps as the workers count them, each by its recorded selector; when it does not parse here
    (the API will say why), `step_count` steps with none, or None."""
    try:
        steps = parse_bounded(script).steps
    except (InvalidScript, ValueError, TypeError):
        return (None,) * step_count if step_count is not None else None
    return tuple(" >> ".join(step.selectors[0]) if isinstance(step, ElementStep) and step.selectors else None
                 for step in steps)


def step_title(step: StepResult, outline: StepOutline | None = None) -> str:
    """`step 3 of 7 (click #submit)`: counted from 1, as the dashboard does; the selector that matched, else the
    recorded one."""
    where = f"{step.index + 1} of {len(outline)}" if outline else f"{step.index + 1}"
    selector = step.selector or (outline[step.index] if outline and step.index < len(outline) else None)
    target = f" {selector}" if selector else ""
    return f"step {where} ({step.type}{target})"


@dataclass(frozen=True)
class Outcome:
    """One run once the watch is over: as the API last showed it, and whether `--timeout` cut it short."""

    run: RemoteRun
    link: str
    outline: StepOutline | None = None
    timed_out: bool = False

    @property
    def verdict(self) -> Verdict:
        """The run's final status; `timeout` when the watch ended first (the run still going, or cancelled by
        `reprise submit` for that reason); `quarantined` for a failure or error of a quarantined recording."""
        if not self.run.final or (self.timed_out and self.run.status == RunStatus.CANCELLED):
            return "timeout"
        if self.run.quarantined and self.run.status in (RunStatus.FAILED, RunStatus.ERROR):
            return "quarantined"
        verdict: Verdict = self.run.status.value  # type: ignore[assignment]  # one of the four final statuses
        return verdict

    @property
    def failing_step(self) -> StepResult | None:
        return next((step for step in self.run.steps if step.status == StepStatus.FAILED), None)

    @property
    def problem(self) -> str | None:
        """What went wrong, one line: the failing step's error, else the run's."""
        if self.verdict == "timeout":
            return "did not finish within --timeout" + (" (cancelled)" if self.run.status == "cancelled" else "")
        if self.verdict == "passed":
            return None
        step = self.failing_step
        return (step.error if step and step.error else None) or self.run.error or self.verdict

    @property
    def failure_text(self) -> str | None:
        """The failure as a report shows it: the step (number, type, selector), its error and category."""
        if self.verdict == "passed":
            return None
        step = self.failing_step
        lines = []
        if step is not None:
            lines += [f"{step_title(step, self.outline)} failed", step.error or self.run.error or "failed"]
            if step.category:
                lines.append(f"category: {step.category}")
        else:
            lines.append(self.problem or self.verdict)
        if self.run.error and self.run.error not in lines:
            lines.append(f"run: {self.run.error}")
        return "\n".join(lines)

    @property
    def duration_s(self) -> float:
        return (self.run.duration_ms or 0) / 1000

    def attachments(self) -> list[tuple[str, str]]:
        """(kind, url) of the latest attempt's video, trace and failure screenshot, as the API links them."""
        latest = [artifact for artifact in self.run.artifacts if artifact.attempt == self.run.attempts
                  and artifact.url]
        found: list[tuple[str, str]] = []
        video = self.run.video_url or next((a.url for a in latest if a.kind == "video" and a.url), None)
        if video:
            found.append(("video", video))
        found.extend(("trace", artifact.url) for artifact in latest if artifact.kind == "trace" and artifact.url)
        step = self.failing_step
        shots = [artifact for artifact in latest if artifact.kind == "screenshot" and artifact.url]
        failure_shot = next((a for a in shots if step is not None and a.step == step.index), None)
        if failure_shot is None and self.verdict != "passed" and shots:
            failure_shot = shots[-1]
        if failure_shot is not None and failure_shot.url:
            found.append(("screenshot", failure_shot.url))
        return found


def exit_code(outcomes: Sequence[Outcome], suite_status: RunStatus | None = None) -> int:
    verdicts = {outcome.verdict for outcome in outcomes}
    if verdicts & NO_VERDICT or suite_status in (RunStatus.ERROR, RunStatus.CANCELLED):
        return EXIT_ERROR
    if "failed" in verdicts or suite_status == RunStatus.FAILED:
        return EXIT_FAILED
    return EXIT_PASSED


def counts_line(outcomes: Sequence[Outcome]) -> str:
    counts = Counter(outcome.verdict for outcome in outcomes)
    parts = [f"{counts[verdict]} {'timed out' if verdict == 'timeout' else verdict}" for verdict in VERDICT_ORDER
             if counts[verdict]]
    return f"{len(outcomes)} run{'s' if len(outcomes) != 1 else ''}: " + ", ".join(parts or ["none"])


def _duration(outcome: Outcome) -> str:
    return f"{outcome.duration_s:.1f} s" if outcome.run.duration_ms is not None else "-"


def text_summary(outcomes: Sequence[Outcome], *, title: str | None = None, link: str | None = None,
                 timeout_s: float | None = None) -> str:
    """The summary printed at the end: a line per run (verdict, number, name, duration, link) and under a run
    that did not pass, what went wrong."""
    lines = [f"{title}: {counts_line(outcomes)}" if title else counts_line(outcomes)]
    width = max((len(outcome.run.name) for outcome in outcomes), default=0)
    width = min(width, 40)
    for outcome in outcomes:
        name = outcome.run.name if len(outcome.run.name) <= 40 else outcome.run.name[:39] + "…"
        lines.append(f"  {outcome.verdict.upper():<9} #{outcome.run.number:<5} {name:<{width}}  "
                     f"{_duration(outcome):>8}  {outcome.link}")
        if outcome.verdict == "timeout":
            limit = f" {timeout_s:g} s" if timeout_s is not None else ""
            cancelled = "; cancelled" if outcome.run.status == RunStatus.CANCELLED else ""
            lines.append(f"            did not finish within --timeout{limit} (was {outcome.run.status}{cancelled})")
        elif outcome.failure_text:
            if outcome.verdict == "quarantined":
                lines.append("            quarantined recording: this failure does not fail the build")
            lines.extend(f"            {line}" for line in outcome.failure_text.splitlines())
    if link:
        lines.append(f"  {link}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped, no HTML."""
    flat = " ".join(text.split())
    return flat.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def markdown_summary(outcomes: Sequence[Outcome], *, title: str, link: str | None = None) -> str:
    """GitHub's job summary (`GITHUB_STEP_SUMMARY`): a heading with the counts and a table of the runs."""
    lines = [f"### {_cell(title)}: {counts_line(outcomes)}", ""]
    if link:
        lines += [f"[Open in the dashboard]({link})", ""]
    lines += ["| status | name | duration | failing step | link |", "| --- | --- | --- | --- | --- |"]
    for outcome in outcomes:
        step = outcome.failing_step
        failing = ""
        if step is not None:
            failing = f"{step_title(step, outcome.outline)}: {step.error or ''}"
        elif outcome.problem:
            failing = outcome.problem
        lines.append(f"| {MARKS[outcome.verdict]} {outcome.verdict} | {_cell(outcome.run.name)} | "
                     f"{_duration(outcome)} | {_cell(failing)} | [#{outcome.run.number}]({outcome.link}) |")
    return "\n".join(lines) + "\n\n"
