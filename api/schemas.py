"""Request and response bodies of the HTTP API (camelCase on the wire)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

from contract import limits, webhooks
from contract.options import DEFAULT_PRIORITY, CamelModel, Priority, RunOptions
from contract.requests import script_schema
from contract.results import StepResult
from contract.runs import AttemptStatus, FailureCategory, RunStatus, StepStatus
from contract.schedules import MAX_CRON_CHARS, MAX_EVERY_MS, MIN_EVERY_MS, Cron, ScheduleState, ScheduleTiming, TimeZone
from contract.suites import SuiteRunStatus
from contract.webhooks import DeliveryStatus, WebhookEvent, WebhookFormat, WebhookScope


class AttemptPublic(CamelModel):
    attempt: int
    worker: str
    status: AttemptStatus
    error: str | None
    category: FailureCategory | None
    started_at: datetime
    finished_at: datetime | None


class ArtifactPublic(CamelModel):
    id: int
    kind: str
    attempt: int
    step: int | None
    content_type: str
    size_bytes: int
    url: str | None = Field(description="Where to download it; null once its file was removed (`removedAt`)")
    removed_at: datetime | None = Field(default=None, description="When retention removed its file, if it did")
    removed_by: str | None = Field(default=None, description="What removed it (`retention`)")


class RunSummary(CamelModel):
    id: UUID
    number: int
    name: str
    format: str
    status: RunStatus
    attempts: int
    worker: str | None
    error: str | None
    error_category: FailureCategory | None
    options: dict[str, Any]
    priority: Priority = Field(description="Taken before runs of lower priority (high, normal, low)")
    job_id: str = Field(description="Its BullMQ job: the run's id, or the job of the producer or schedule that "
                                    "asked for it")
    actions_executed: int | None
    duration_ms: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    retry_of: UUID | None
    recording_id: UUID | None = None
    import_warnings: list[dict[str, Any]]
    url: str
    queued_by: str | None = Field(default=None, description="Name of the API key that queued the run (a retry: "
                                                            "that asked for the retry)")
    cancelled_by: str | None = Field(default=None, description="Name of the API key that cancelled it")
    schedule_id: UUID | None = Field(default=None, description="The schedule whose tick made it, if one did")
    suite_run_id: UUID | None = Field(default=None, description="The suite run it is a child of, if any")
    flaky: bool = Field(default=False, description="Passed on a retry after a failed attempt (set with its final "
                                                   "status)")
    quarantined: bool = Field(default=False, description="Its recording was quarantined when it reached its final "
                                                         "status: its failure fails no suite or `reprise submit`")


class RunDetail(RunSummary):
    steps: list[StepResult]
    attempt_history: list[AttemptPublic]
    artifacts: list[ArtifactPublic]
    video_url: str | None = Field(description="The latest attempt's video, while its file is there")
    video_removed_at: datetime | None = Field(
        default=None, description="When retention removed the latest attempt's video (videoUrl is then null)")
    screenshot_urls: list[str] = Field(description="The latest attempt's screenshots still there")
    artifacts_skipped: list[dict[str, Any]] = Field(
        default_factory=list, description="Artifacts not stored because the run reached RUN_ARTIFACTS_MAX_BYTES: "
                                          "`{attempt, kind, file, bytes}` each")


class RunBatch(CamelModel):
    runs: list[RunSummary] = Field(description="The batch's runs, in the order they were sent")


class RunPage(CamelModel):
    items: list[RunSummary]
    total: int | None = Field(description="Runs matching the filters; null on pages fetched with `before`")
    limit: int
    offset: int
    next_cursor: int | None = Field(description="Pass as `before` for the next page; null on the last page")


class ThroughputBucket(CamelModel):
    start: datetime
    passed: int
    failed: int
    error: int
    cancelled: int


class Throughput(CamelModel):
    window: str
    bucket_seconds: int
    buckets: list[ThroughputBucket]


class Usage(CamelModel):
    count: int
    bytes: int


class KindStatusUsage(Usage):
    kind: str
    status: RunStatus


class GrowthDay(Usage):
    day: date = Field(description="A UTC day; `bytes`/`count`: what the queue's runs stored that day")


class RetentionPassPublic(CamelModel):
    id: int
    worker: str
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None
    artifacts_removed: int
    runs_removed: int
    bytes_freed: int
    error: str | None


class StorageStats(CamelModel):
    queue: str
    total: Usage = Field(description="This queue's artifacts still in the store")
    by_kind: dict[str, Usage]
    by_status: dict[RunStatus, Usage]
    by_kind_and_status: list[KindStatusUsage]
    growth: list[GrowthDay] = Field(description="The last 7 UTC days, oldest first, every day present")
    last_pass: RetentionPassPublic | None = Field(description="The last retention pass that deleted (not a dry run)")


class RecordingCreate(CamelModel):
    script: dict[str, Any] = Field(description="Chrome Recorder JSON, a Reprise native script or SaveAction",
                                   json_schema_extra=script_schema)
    name: str | None = Field(default=None, max_length=limits.MAX_NAME_CHARS, pattern=r"^[^\x00]*$",
                             description="Defaults to the recording's title")
    priority: Priority = Field(default=DEFAULT_PRIORITY, description="The priority of its runs unless a run asks "
                                                                     "for another")


class LastRun(CamelModel):
    id: UUID
    status: RunStatus
    number: int


class QuarantinePublic(CamelModel):
    at: datetime
    reason: str | None
    by: str | None = Field(description="The API key's name, or `automatic` (FLAKY_QUARANTINE_FLIPS)")


class RecordingPublic(CamelModel):
    id: UUID
    name: str
    format: str
    step_count: int
    created_at: datetime
    priority: Priority
    last_run: LastRun | None
    quarantine: QuarantinePublic | None = Field(
        default=None, description="Set while the recording is quarantined: its runs still run and are reported, but "
                                  "their failures do not fail a suite run or `reprise submit`")


class RecordingDetail(RecordingPublic):
    script: dict[str, Any]


class RecordingPage(CamelModel):
    items: list[RecordingPublic]
    total: int
    limit: int
    offset: int


class DependencyHealth(CamelModel):
    ok: bool
    latency_ms: float | None
    error: str | None = None
    kind: str | None = None


class QueueAction(CamelModel):
    action: Literal["pause", "resume"]
    by: str = Field(description="Name of the API key that did it")
    at: datetime


class QueueHealth(CamelModel):
    name: str
    paused: bool | None
    counts: dict[str, int]
    counts_age_ms: int | None = Field(default=None, description="How old `counts` (and the workers beside them) are, "
                                                                "in ms: `GET /api/health/detailed` reads them from "
                                                                "Redis at most once a second; null: read now")
    last_action: QueueAction | None = Field(default=None, description="The latest pause or resume, and who did it")


class HealthDetail(CamelModel):
    status: Literal["ok", "degraded"]
    database: DependencyHealth
    redis: DependencyHealth
    artifact_store: DependencyHealth = Field(description="Where artifacts live (`local` or `s3`), and whether "
                                                         "it answers")
    queue: QueueHealth
    queues: dict[str, dict[str, int]] = Field(
        description="Job counts by state per queue, as the operational contract names them: "
                    '{"test-runs": {"waiting", "active", "completed", "failed", "delayed", "paused", ...}}')
    workers: list[dict[str, Any]]


class DeadJobPublic(CamelModel):
    job_id: str
    run_id: str | None
    failed_reason: str | None
    attempts_made: int
    failed_at: int | None = Field(description="Milliseconds since the epoch, as BullMQ keeps it")
    run_status: RunStatus | None
    run_error: str | None
    run_error_category: FailureCategory | None
    run_url: str | None


class DeadLetterPage(CamelModel):
    jobs: list[DeadJobPublic]
    total: int
    limit: int
    offset: int


class ScheduleCreate(ScheduleTiming):
    """A schedule: when (`cron` and `timezone`, or `everyMs`), what (a saved recording, with run options)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    recording_id: UUID = Field(description="The saved recording each tick runs")
    options: RunOptions = Field(default_factory=RunOptions,
                                description="The runs' options (the body of POST /api/recordings/{id}/runs); "
                                            "priority defaults to the recording's")
    name: str | None = Field(default=None, max_length=limits.MAX_NAME_CHARS, pattern=r"^[^\x00]*$",
                             description="Defaults to the recording's name")
    skip_if_running: bool = Field(default=True, description="Skip a tick while the schedule's previous run is "
                                                            "still queued or running (the skipped tick is counted)")


class ScheduleUpdate(CamelModel):
    """Fields to change; the others stay. `cron` (with or without `timezone`) or `everyMs` replaces the timing."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=limits.MAX_NAME_CHARS, pattern=r"^[^\x00]*$")
    cron: Cron | None = Field(default=None, max_length=MAX_CRON_CHARS)
    every_ms: int | None = Field(default=None, ge=MIN_EVERY_MS, le=MAX_EVERY_MS)
    timezone: TimeZone | None = None
    options: RunOptions | None = None
    skip_if_running: bool | None = None

    @field_validator("every_ms")
    @classmethod
    def _not_both(cls, every_ms: int | None, info: ValidationInfo) -> int | None:
        if every_ms is not None and info.data.get("cron") is not None:
            raise ValueError("give either cron or everyMs, not both")
        return every_ms


class SchedulePublic(CamelModel):
    id: UUID
    name: str
    recording_id: UUID | None = Field(description="null once the recording was deleted (the schedule is stopped)")
    recording_name: str
    cron: str | None
    timezone: str | None
    every_ms: int | None
    options: dict[str, Any]
    priority: Priority = Field(description="Its runs' priority: the options', else the recording's")
    skip_if_running: bool
    state: ScheduleState
    stopped_reason: str | None = Field(description="Why it stopped (its recording was deleted)")
    next_run_at: datetime | None = Field(description="Its next tick, from BullMQ's job scheduler; null when paused "
                                                     "or stopped")
    runs_made: int
    ticks_skipped: int = Field(description="Ticks that made no run: its previous run was still queued or running")
    last_tick_at: datetime | None
    last_skip_reason: str | None
    last_run: LastRun | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    url: str
    runs_url: str = Field(description="Its runs: GET /api/runs?schedule=<id>")


class SchedulePage(CamelModel):
    items: list[SchedulePublic]
    total: int
    limit: int
    offset: int


# Suites (issue 20): `POST /api/suites` takes contract.suites.SuiteCreate, PATCH SuitePatch.


class LastSuiteRun(CamelModel):
    id: UUID
    status: SuiteRunStatus
    number: int


class SuitePublic(CamelModel):
    id: UUID
    name: str
    recording_ids: list[UUID] = Field(description="Its recordings, in the order their runs are queued")
    defaults: dict[str, Any] = Field(description="The run options each run of the suite starts from")
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    last_run: LastSuiteRun | None
    url: str


class SuitePage(CamelModel):
    items: list[SuitePublic]
    total: int
    limit: int
    offset: int


class SuiteCounts(CamelModel):
    passed: int
    failed: int
    error: int
    cancelled: int
    quarantined: int = Field(default=0, description="Failed or error children of quarantined recordings, not counted "
                                                    "in failed and error: they do not fail the suite")


class SuiteRunSummary(CamelModel):
    id: UUID
    number: int
    suite_id: UUID | None = Field(description="null once the suite was deleted (`suiteName` stays)")
    suite_name: str
    status: SuiteRunStatus = Field(description="queued, running (a child started), then passed, failed, error or "
                                               "cancelled, decided once when every child is final")
    counts: SuiteCounts = Field(description="Children by final status (as decided, once the suite run is final)")
    total: int = Field(description="How many child runs it has")
    cancel_requested: bool
    options: dict[str, Any] = Field(description="The run options the request set over the suite's defaults")
    duration_ms: int | None = Field(description="From the first child's start (else its creation) to the decision")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    queued_by: str | None
    url: str


class SuiteRunDetail(SuiteRunSummary):
    runs: list[RunSummary] = Field(description="Each child run, in the suite's order")
    ignored_runs: list[UUID] = Field(default_factory=list, description="The children whose failure the suite's "
                                                                       "result ignored (quarantined recordings)")


class SuiteRunPage(CamelModel):
    items: list[SuiteRunSummary]
    total: int
    limit: int
    offset: int
# ---- run history and compare (GET /api/recordings/{id}/history, GET /api/runs/compare) ----


class FailingStepPublic(CamelModel):
    index: int = Field(description="0-based, as in the run's steps")
    type: str
    selector: str | None
    error: str | None


class HistoryRunPublic(CamelModel):
    id: UUID
    number: int
    status: RunStatus
    error: str | None
    error_category: FailureCategory | None
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    failing_step: FailingStepPublic | None = Field(description="The first step of its latest attempt that failed")
    url: str


class HistoryWindow(CamelModel):
    days: int
    from_: datetime = Field(serialization_alias="from", description="Runs created at or after this count")
    to: datetime


class RecordingHistoryPublic(CamelModel):
    recording_id: UUID
    name: str
    window: HistoryWindow
    pass_rate: float | None = Field(description="passed / (passed + failed + error) in the window, 0..1 (a "
                                                "cancelled run says nothing of the recording); null with none")
    median_duration_ms: float | None = Field(description="Of the window's runs that finished; null with none")
    counts: dict[RunStatus, int] = Field(description="The window's runs by status, every status present")
    runs: list[HistoryRunPublic] = Field(description="The window's newest runs (at most `limit`), newest first")
    flakiness: FlakinessPublic | None = Field(default=None, description="Over its last FLAKY_WINDOW_RUNS passed or "
                                                                        "failed runs (whatever `days`)")


class ComparedStepSide(CamelModel):
    status: StepStatus
    duration_ms: int
    error: str | None
    category: FailureCategory | None
    selector: str | None


class ComparedStep(CamelModel):
    index: int
    type: str
    selector: str | None
    a: ComparedStepSide | None = Field(description="null: run a has no such step")
    b: ComparedStepSide | None = Field(description="null: run b has no such step")
    duration_delta_ms: int | None = Field(description="b's duration minus a's; null unless both have the step")
    differs: bool = Field(description="On one side only, or its status or error text differs")


class RunComparisonPublic(CamelModel):
    recording_id: UUID
    a: RunSummary
    b: RunSummary
    steps: list[ComparedStep] = Field(description="Each run's latest attempt's steps side by side, by index")
    first_difference: int | None = Field(description="The index of the first step that differs; null: none does")


# --- Webhooks (docs/webhooks.md) -----------------------------------------------------------------------------------

WebhookEventName = Literal["run.finished", "run.failed", "suite.finished"]


def _webhook_url(url: str) -> str:
    problem = webhooks.url_problem(url)
    if problem is not None:
        raise ValueError(problem)
    return url


def _webhook_events(events: list[WebhookEventName]) -> list[WebhookEventName]:
    return list(dict.fromkeys(events))  # once each, in the order given


class WebhookCreate(CamelModel):
    """A subscription: which events (of all runs, of one suite's, or of one saved recording's) go where, how."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    name: str = Field(min_length=1, max_length=limits.MAX_NAME_CHARS, pattern=r"^[^\x00]*$")
    url: str = Field(max_length=webhooks.MAX_URL_CHARS,
                     description="Where deliveries are POSTed: http(s), a public address unless WEBHOOK_ALLOWED_* "
                                 "opens a private one")
    events: list[WebhookEventName] = Field(min_length=1, max_length=3)
    scope: Literal["all", "suite", "recording"] = Field(
        default="all", description="all runs and suite runs of this queue; one suite's (suiteId); one saved "
                                   "recording's runs (recordingId)")
    suite_id: UUID | None = None
    recording_id: UUID | None = None
    format: Literal["json", "slack"] = Field(default="json", description="json: the signed payload; slack: a Slack "
                                                                         "incoming webhook's message")
    active: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        return _webhook_url(url)

    @field_validator("events")
    @classmethod
    def _events(cls, events: list[WebhookEventName]) -> list[WebhookEventName]:
        return _webhook_events(events)

    @field_validator("suite_id")
    @classmethod
    def _suite_scope(cls, suite_id: UUID | None, info: ValidationInfo) -> UUID | None:
        if (suite_id is not None) != (info.data.get("scope") == "suite"):
            raise ValueError("give suiteId with scope suite, and only then")
        return suite_id

    @field_validator("recording_id")
    @classmethod
    def _recording_scope(cls, recording_id: UUID | None, info: ValidationInfo) -> UUID | None:
        if (recording_id is not None) != (info.data.get("scope") == "recording"):
            raise ValueError("give recordingId with scope recording, and only then")
        return recording_id


class WebhookUpdate(CamelModel):
    """Fields to change; the others stay (the scope cannot change: make another subscription)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=limits.MAX_NAME_CHARS, pattern=r"^[^\x00]*$")
    url: str | None = Field(default=None, max_length=webhooks.MAX_URL_CHARS)
    events: list[WebhookEventName] | None = Field(default=None, min_length=1, max_length=3)
    format: Literal["json", "slack"] | None = None
    active: bool | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        return None if url is None else _webhook_url(url)

    @field_validator("events")
    @classmethod
    def _events(cls, events: list[WebhookEventName] | None) -> list[WebhookEventName] | None:
        return None if events is None else _webhook_events(events)


class LastDelivery(CamelModel):
    status: DeliveryStatus
    at: datetime


class WebhookPublic(CamelModel):
    id: UUID
    name: str
    url: str = Field(description="Where deliveries are POSTed")
    events: list[WebhookEvent]
    scope: WebhookScope
    suite_id: UUID | None
    recording_id: UUID | None
    format: WebhookFormat
    active: bool
    secret: str = Field(description="The signing secret: in full in the answer to its creation only, masked after")
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    last_delivery: LastDelivery | None
    deliveries_url: str = Field(description="Its delivery log: GET /api/webhooks/{id}/deliveries")


class WebhookPage(CamelModel):
    items: list[WebhookPublic]
    total: int
    limit: int
    offset: int


class DeliveryAttemptPublic(CamelModel):
    attempt: int
    started_at: datetime
    status_code: int | None = Field(description="The receiver's answer; null when none came (`error` says why)")
    latency_ms: int | None = Field(description="From sending the request to the answer's headers")
    error: str | None
    response_excerpt: str | None = Field(description="The answer's first KiB")


class DeliveryPublic(CamelModel):
    id: UUID
    webhook_id: UUID
    event: WebhookEvent
    run_id: UUID | None
    suite_run_id: UUID | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="When a pending delivery is tried again, about")
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    redelivery_of: UUID | None = Field(description="The delivery this one sends again")
    created_at: datetime
    finished_at: datetime | None
    attempt_history: list[DeliveryAttemptPublic] = Field(description="Every attempt, first to last")


class DeliveryPage(CamelModel):
    items: list[DeliveryPublic]
    total: int
    limit: int
    offset: int


# ---- flaky tests and quarantine (GET /api/flaky, POST|DELETE /api/recordings/{id}/quarantine) ----


class FlakinessPublic(CamelModel):
    score: float = Field(description="min(1, (flips + flakyRuns) / (runs - 1)); 0 with fewer than 2 runs")
    runs: int = Field(description="Passed and failed runs read (at most `window`)")
    flips: int = Field(description="Consecutive runs against the same base URL whose statuses differ")
    flaky_runs: int = Field(description="Runs that passed on a retry after a failed attempt")
    window: int = Field(description="The last this many passed or failed runs were read")


class FlakyRunPublic(CamelModel):
    id: UUID
    number: int
    status: RunStatus
    flaky: bool
    quarantined: bool
    target: str = Field(description="Its base URL, or the recording's own origin: flips count between runs of one")
    url: str


class FlakyRecordingPublic(CamelModel):
    recording_id: UUID
    name: str
    flakiness: FlakinessPublic
    last_runs: list[FlakyRunPublic] = Field(description="The runs read, newest first")
    quarantine: QuarantinePublic | None
    history_url: str


class FlakyPage(CamelModel):
    items: list[FlakyRecordingPublic] = Field(description="The most flaky first")
    total: int
    limit: int
    offset: int


class QuarantineRequest(CamelModel):
    model_config = CamelModel.model_config | {"extra": "forbid"}

    reason: str | None = Field(default=None, max_length=1000, pattern=r"^[^\x00]*$",
                               description="Why (shown in the Flaky view and the recording's answers)")


# ---- visual baselines (GET /api/recordings/{id}/baselines, POST /api/runs/{id}/steps/{index}/approve-baseline) ----


class BaselinePublic(CamelModel):
    id: int
    recording_id: UUID
    step_index: int = Field(description="0-based, as in the run's steps")
    viewport_key: str = Field(description="`<width>x<height>`, with `@<scale>` for a device scale factor other than 1")
    width: int = Field(description="Of the image, in pixels")
    height: int
    size_bytes: int
    run_id: UUID | None = Field(description="The run whose image was approved (null once that run is deleted)")
    approved_by: str | None
    approved_at: datetime
    image_url: str


class BaselineList(CamelModel):
    recording_id: UUID
    items: list[BaselinePublic]
