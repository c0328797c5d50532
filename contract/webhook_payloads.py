"""What a webhook delivery sends: the JSON payload of an event, and the Slack message made from it. Pure: the facts
come from Postgres (storage/webhooks.py reads them at send time), the links from the sender's PUBLIC_URL.

    {"event": "run.failed", "deliveryId": "...", "occurredAt": "...",
     "run": {"id", "number", "name", "status", "durationMs", "error", "errorCategory", "recordingId", "suiteRunId",
             "worker", "url", "dashboardUrl", "failingStep": {"index", "type", "selector", "error"} | null,
             "screenshotUrl", "videoUrl"}}
    {"event": "suite.finished", ..., "suiteRun": {"id", "number", "suiteId", "suiteName", "status",
             "counts": {"passed", "failed", "error", "cancelled", "quarantined"}, "durationMs", "url", "dashboardUrl",
             "runs": [...]}}
    {"event": "ping", ..., "subscription": {"id", "name"}}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from contract.webhooks import (
    WebhookEvent,
    artifact_path,
    dashboard_run_path,
    dashboard_suite_run_path,
    run_path,
    suite_run_path,
)

# Slack shows at most 3,000 characters in a section's text; an error is cut well before.
SLACK_ERROR_CHARS = 1_500
STATUS_EMOJI = {"passed": ":white_check_mark:", "failed": ":x:", "error": ":warning:", "cancelled": ":no_entry_sign:"}


@dataclass(frozen=True)
class FailingStep:
    index: int
    type: str
    selector: str | None
    error: str | None


@dataclass(frozen=True)
class RunFacts:
    """A run as a payload tells it (its latest attempt's failing step, failure screenshot and video)."""

    id: UUID
    number: int
    name: str
    status: str
    duration_ms: int | None
    error: str | None
    error_category: str | None
    recording_id: UUID | None
    suite_run_id: UUID | None
    worker_name: str | None
    finished_at: datetime | None
    failing_step: FailingStep | None = None
    screenshot_artifact_id: int | None = None
    video_artifact_id: int | None = None
    flaky: bool = False  # passed on a retry after a failed attempt (migration 0018)
    quarantined: bool = False  # its recording was quarantined when it ended


@dataclass(frozen=True)
class SuiteRunFacts:
    id: UUID
    number: int
    suite_id: UUID | None
    suite_name: str
    status: str
    passed: int
    failed: int
    error: int
    cancelled: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    runs: tuple[RunFacts, ...] = ()
    quarantined: int = 0  # failed or error children of quarantined recordings (not in failed and error)

    @property
    def duration_ms(self) -> int | None:
        start = self.started_at or self.created_at
        if self.finished_at is None:
            return None
        return max(0, int((self.finished_at - start).total_seconds() * 1000))


def run_payload(run: RunFacts, base_url: str) -> dict[str, Any]:
    step = run.failing_step
    return {
        "id": str(run.id), "number": run.number, "name": run.name, "status": run.status,
        "durationMs": run.duration_ms, "error": run.error, "errorCategory": run.error_category,
        "recordingId": str(run.recording_id) if run.recording_id else None,
        "suiteRunId": str(run.suite_run_id) if run.suite_run_id else None,
        "worker": run.worker_name,
        "flaky": run.flaky, "quarantined": run.quarantined,
        "url": base_url + run_path(run.id),
        "dashboardUrl": base_url + dashboard_run_path(run.id),
        "failingStep": {"index": step.index, "type": step.type, "selector": step.selector, "error": step.error}
        if step is not None else None,
        "screenshotUrl": base_url + artifact_path(run.id, run.screenshot_artifact_id)
        if run.screenshot_artifact_id is not None else None,
        "videoUrl": base_url + artifact_path(run.id, run.video_artifact_id)
        if run.video_artifact_id is not None else None,
    }


def suite_run_payload(suite_run: SuiteRunFacts, base_url: str) -> dict[str, Any]:
    return {
        "id": str(suite_run.id), "number": suite_run.number,
        "suiteId": str(suite_run.suite_id) if suite_run.suite_id else None, "suiteName": suite_run.suite_name,
        "status": suite_run.status,
        "counts": {"passed": suite_run.passed, "failed": suite_run.failed, "error": suite_run.error,
                   "cancelled": suite_run.cancelled, "quarantined": suite_run.quarantined},
        "durationMs": suite_run.duration_ms,
        "url": base_url + suite_run_path(suite_run.id),
        "dashboardUrl": base_url + dashboard_suite_run_path(suite_run.id),
        "runs": [run_payload(run, base_url) for run in suite_run.runs],
    }


def event_payload(event: WebhookEvent, delivery_id: UUID, occurred_at: datetime, base_url: str, *,
                  run: RunFacts | None = None, suite_run: SuiteRunFacts | None = None,
                  subscription: tuple[UUID, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"event": event.value, "deliveryId": str(delivery_id), "occurredAt": occurred_at.isoformat()}
    if run is not None:
        body["run"] = run_payload(run, base_url)
    if suite_run is not None:
        body["suiteRun"] = suite_run_payload(suite_run, base_url)
    if subscription is not None:
        body["subscription"] = {"id": str(subscription[0]), "name": subscription[1]}
    return body


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_escape(text: str) -> str:
    """Slack's mrkdwn control characters (&, <, >) as entities, so a name or an error is shown as text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(payload: dict[str, Any]) -> dict[str, Any]:
    """The Slack incoming-webhook message for an event payload: `text` (the notification's fallback) and `blocks`: a
    section with the status emoji, the name and a link to the run (or suite run) in the dashboard; for a run that did
    not pass, a section with the failing step and its error, and a link to its failure screenshot; a context line with
    the duration and the worker. The screenshot is a link, not an image block: its URL needs an API key, which Slack's
    image fetcher does not have."""
    if "run" in payload:
        return _run_message(payload["run"])
    if "suiteRun" in payload:
        return _suite_message(payload["suiteRun"])
    subscription = payload.get("subscription") or {}
    text = f"Reprise webhook test: {subscription.get('name', 'subscription')} is reachable"
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(text)}}]}


def _duration(ms: int | None) -> str:
    return f"{ms / 1000:.1f} s" if ms is not None else "no duration"


def _run_message(run: dict[str, Any]) -> dict[str, Any]:
    emoji = STATUS_EMOJI.get(run["status"], ":grey_question:")
    name = _slack_escape(run["name"])
    text = f"{emoji} Run #{run['number']} {run['name']} {run['status']}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": (
        f"{emoji} *<{run['dashboardUrl']}|Run #{run['number']} {name}>* {run['status']}")}}]
    if run["status"] != "passed":
        step = run.get("failingStep")
        if step is not None:
            where = f"Step {step['index'] + 1} ({step['type']}"
            where += f" `{_slack_escape(step['selector'])}`)" if step.get("selector") else ")"
            error = step.get("error") or run.get("error") or "no error message"
        else:
            where, error = "Run", run.get("error") or "no error message"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": (
            f"*{where} failed:*\n```{_slack_escape(_cut(error, SLACK_ERROR_CHARS))}```")}})
        if run.get("screenshotUrl"):
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": (
                f":camera: <{run['screenshotUrl']}|Failure screenshot>")}})
        text += f": {_cut(error, 200)}"
    context = [f"Duration: {_duration(run.get('durationMs'))}"]
    if run.get("worker"):
        context.append(f"Worker: {_slack_escape(run['worker'])}")
    if run.get("errorCategory"):
        context.append(f"Category: {run['errorCategory']}")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]})
    return {"text": text, "blocks": blocks}


def _suite_message(suite_run: dict[str, Any]) -> dict[str, Any]:
    emoji = STATUS_EMOJI.get(suite_run["status"], ":grey_question:")
    counts = suite_run["counts"]
    tally = ", ".join(f"{counts[name]} {name}" for name in ("passed", "failed", "error", "cancelled", "quarantined")
                      if counts.get(name))
    name = _slack_escape(suite_run["suiteName"])
    text = f"{emoji} Suite run #{suite_run['number']} {suite_run['suiteName']} {suite_run['status']} ({tally})"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": (
        f"{emoji} *<{suite_run['dashboardUrl']}|Suite run #{suite_run['number']} {name}>* "
        f"{suite_run['status']} ({tally or 'no runs'})")}}]
    broken = [run for run in suite_run["runs"] if run["status"] != "passed"]
    if broken:
        lines = [f"{STATUS_EMOJI.get(run['status'], '')} <{run['dashboardUrl']}|{_slack_escape(run['name'])}>: "
                 f"{_slack_escape(_cut(run.get('error') or run['status'], 200))}" for run in broken[:10]]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"Duration: {_duration(suite_run.get('durationMs'))}"}]})
    return {"text": text, "blocks": blocks}
