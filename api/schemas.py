"""Request and response bodies of the HTTP API (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from runner.formats.variables import NAME_PATTERN
from runner.options import DEFAULT_RUN_TIMEOUT_MS, DEFAULT_STEP_TIMEOUT_MS

VARIABLE_NAME = f"^{NAME_PATTERN}$"


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ViewportSize(CamelModel):
    model_config = ConfigDict(extra="forbid")

    width: int = Field(ge=100, le=7680)
    height: int = Field(ge=100, le=4320)


def _known_timezone(value: str | None) -> str | None:
    if value is not None and value not in available_timezones():
        raise ValueError(f"unknown time zone {value!r} (expected an IANA name such as Europe/Paris)")
    return value


class RunOptionsBody(CamelModel):
    """How to replay: every field of a run request but the recording itself (also `POST
    /api/recordings/{id}/runs`)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    video: Literal["on", "off", "retain-on-failure"] = "on"
    screenshots: Literal["off", "on-failure", "every-step"] = "on-failure"
    timeout_ms: int = Field(default=DEFAULT_RUN_TIMEOUT_MS, ge=1_000, le=3_600_000,
                            description="Budget for the whole replay")
    step_timeout_ms: int = Field(default=DEFAULT_STEP_TIMEOUT_MS, ge=100, le=600_000,
                                 description="Default wait for each step's selector, navigation or assertion")
    retries: int = Field(default=0, ge=0, le=10,
                         description="Replay a failed test (assertion, selector) again up to this many times; "
                                     "each attempt is kept. Infrastructure failures are retried regardless.")
    navigation_timeout_ms: int | None = Field(
        default=None, ge=100, le=600_000,
        description="Default wait for page loads (navigate steps and steps that navigate); default: stepTimeoutMs")
    variables: dict[Annotated[str, StringConstraints(pattern=VARIABLE_NAME)], str] = Field(
        default_factory=dict, description="Values for `${NAME}` in the recording (stored with the run)")
    secrets: list[Annotated[str, StringConstraints(pattern=VARIABLE_NAME)]] = Field(
        default_factory=list, max_length=50,
        description="Names of `${NAME}` variables whose values each worker reads from its environment "
                    "variable REPRISE_SECRET_<NAME>; never stored, masked as *** in results, logs and artifacts")

    browser: Literal["chromium"] = Field(
        default="chromium", description="Only Chromium is installed on the workers for now")
    device: str | None = Field(default=None, max_length=100, examples=["iPhone 13"],
                               description="Emulate a device from Playwright's catalogue (viewport, user agent, touch)")
    viewport: ViewportSize | None = Field(default=None, description="Overrides the recording's setViewport")
    locale: str | None = Field(default=None, pattern=r"^[a-zA-Z]{2,3}(-[A-Za-z0-9]{2,8})*$", examples=["de-DE"])
    timezone_id: Annotated[str | None, AfterValidator(_known_timezone)] = Field(
        default=None, examples=["Europe/Paris"])
    base_url: str | None = Field(default=None, pattern=r"^https?://[^/\s]+", max_length=2000,
                                 description="Replay against this origin instead of the recorded one")
    extra_http_headers: dict[str, str] | None = Field(default=None, description="Sent with every request")
    storage_state: dict[str, Any] | None = Field(
        default=None, description="Playwright storage state (cookies, origins) to start logged in")

    @model_validator(mode="after")
    def _secret_names_are_not_variables(self) -> RunOptionsBody:
        both = sorted(set(self.variables) & set(self.secrets))
        if both:
            raise ValueError(f"{', '.join(both)} given both as a variable and as a secret")
        return self


class RunCreate(RunOptionsBody):
    script: dict[str, Any] = Field(description="The recording: Reprise native script or Chrome Recorder JSON")
    name: str | None = Field(default=None, max_length=300, description="Defaults to the recording's title")


class StepPublic(CamelModel):
    index: int
    type: str
    status: str
    duration_ms: int
    started_offset_ms: int
    selector: str | None
    error: str | None
    category: str | None


class AttemptPublic(CamelModel):
    attempt: int
    worker: str
    status: str
    error: str | None
    category: str | None
    started_at: datetime
    finished_at: datetime | None


class ArtifactPublic(CamelModel):
    id: int
    kind: str
    attempt: int
    step: int | None
    content_type: str
    size_bytes: int
    url: str


class RunSummary(CamelModel):
    id: UUID
    number: int
    name: str
    format: str
    status: str
    attempts: int
    worker: str | None
    error: str | None
    error_category: str | None
    options: dict[str, Any]
    actions_executed: int | None
    duration_ms: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    retry_of: UUID | None
    recording_id: UUID | None = None
    import_warnings: list[dict[str, Any]]
    url: str


class RunDetail(RunSummary):
    steps: list[StepPublic]
    attempt_history: list[AttemptPublic]
    artifacts: list[ArtifactPublic]
    video_url: str | None
    screenshot_urls: list[str]


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


class RecordingCreate(CamelModel):
    script: dict[str, Any] = Field(description="Chrome Recorder JSON, a Reprise native script or SaveAction")
    name: str | None = Field(default=None, max_length=300, description="Defaults to the recording's title")


class LastRun(CamelModel):
    id: UUID
    status: str
    number: int


class RecordingPublic(CamelModel):
    id: UUID
    name: str
    format: str
    step_count: int
    created_at: datetime
    last_run: LastRun | None


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


class QueueHealth(CamelModel):
    name: str
    paused: bool | None
    counts: dict[str, int]


class HealthDetail(CamelModel):
    status: Literal["ok", "degraded"]
    database: DependencyHealth
    redis: DependencyHealth
    queue: QueueHealth
    workers: list[dict[str, Any]]


class DeadJob(CamelModel):
    job_id: str
    run_id: str | None
    failed_reason: str | None
    attempts_made: int
    failed_at: int | None = Field(description="Milliseconds since the epoch, as BullMQ keeps it")
    run_status: str | None
    run_error: str | None
    run_error_category: str | None
    run_url: str | None


class DeadLetterPage(CamelModel):
    jobs: list[DeadJob]
    total: int
    limit: int
    offset: int
