"""Records as the API shows them: the one place a storage record becomes a response body (with its links,
built from the configured PUBLIC_URL (`Settings.api_base_url`), never from the request's Host header)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from fastapi import Request

from api.auth import is_admin
from api.schemas import (
    ArtifactPublic,
    AttemptPublic,
    BaselinePublic,
    ComparedStep,
    ComparedStepSide,
    DeadJobPublic,
    DeliveryAttemptPublic,
    DeliveryPublic,
    DependencyHealth,
    FailingStepPublic,
    FlakinessPublic,
    FlakyRecordingPublic,
    FlakyRunPublic,
    GrowthDay,
    HealthDetail,
    HistoryRunPublic,
    HistoryWindow,
    KindStatusUsage,
    LastDelivery,
    LastRun,
    LastSuiteRun,
    QuarantinePublic,
    QueueHealth,
    RecordingHistoryPublic,
    RecordingPublic,
    RetentionPassPublic,
    RunComparisonPublic,
    RunDetail,
    RunSummary,
    SchedulePublic,
    StorageStats,
    SuiteCounts,
    SuitePublic,
    SuiteRunDetail,
    SuiteRunSummary,
    Usage,
    WebhookPublic,
)
from api.services.dead_letter import DeadLetterEntry
from api.services.health import HealthReport, Probe
from api.services.history import RunComparison
from api.services.runs import RunView
from api.services.schedules import ScheduleView
from api.services.stats import StorageReport
from api.services.suites import SuiteRunView
from contract.flaky import Flakiness
from contract.results import StepResult
from contract.runs import RunStatus
from contract.settings import Settings
from contract.webhooks import artifact_path, mask_secret, run_path
from storage import (
    ArtifactRecord,
    AttemptRecord,
    BaselineRecord,
    DeliveryAttemptRecord,
    DeliveryRecord,
    Quarantine,
    RecordingFlakiness,
    RecordingHistory,
    RecordingRecord,
    RunRecord,
    SubscriptionRecord,
    SuiteRecord,
    SuiteRunRecord,
)


def _base(request: Request) -> str:
    return cast(Settings, request.app.state.settings).api_base_url


def run_url(request: Request, run_id: object) -> str:
    return _base(request) + run_path(run_id)


REDACTED = "***"


def redact_options(options: dict[str, Any]) -> dict[str, Any]:
    """Run options without their secrets' values: `variables`, `extraHttpHeaders`, and `storageState`'s cookie and
    localStorage values become "***" (names stay). Lists and every non-admin reader see these."""
    shown = dict(options)
    for name in ("variables", "extraHttpHeaders"):
        if isinstance(shown.get(name), dict):
            shown[name] = {key: REDACTED for key in shown[name]}
    state = shown.get("storageState")
    if isinstance(state, dict):
        state = dict(state)
        if isinstance(state.get("cookies"), list):
            state["cookies"] = [{**cookie, "value": REDACTED} if isinstance(cookie, dict) else REDACTED
                                for cookie in state["cookies"]]
        if isinstance(state.get("origins"), list):
            state["origins"] = [_redact_origin(origin) for origin in state["origins"]]
        shown["storageState"] = state
    return shown


def _redact_origin(origin: object) -> object:
    if not isinstance(origin, dict):
        return REDACTED
    items = origin.get("localStorage")
    if isinstance(items, list):
        return {**origin, "localStorage": [{**item, "value": REDACTED} if isinstance(item, dict) else REDACTED
                                           for item in items]}
    return origin


def run_summary(run: RunRecord, request: Request, *, reveal_secrets: bool | None = None) -> RunSummary:
    """`reveal_secrets` None: only to an admin (lists pass False: they never carry them)."""
    if reveal_secrets is None:
        reveal_secrets = is_admin(request)
    return RunSummary(
        id=run.id,
        number=run.number,
        name=run.name,
        format=run.script_format,
        status=run.status,
        attempts=run.attempts,
        worker=run.worker_name,
        error=run.error,
        error_category=run.error_category,
        options=run.options if reveal_secrets else redact_options(run.options),
        priority=run.priority,
        job_id=run.job,
        actions_executed=run.actions_executed,
        duration_ms=run.duration_ms,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        retry_of=run.retry_of,
        recording_id=run.recording_id,
        import_warnings=run.import_warnings,
        url=run_url(request, run.id),
        queued_by=run.queued_by,
        cancelled_by=run.cancelled_by,
        schedule_id=run.schedule_id,
        suite_run_id=run.suite_run_id,
        flaky=run.flaky,
        quarantined=run.quarantined,
    )


def _attempt(attempt: AttemptRecord) -> AttemptPublic:
    return AttemptPublic(attempt=attempt.attempt, worker=attempt.worker_name, status=attempt.status,
                         error=attempt.error, category=attempt.error_category, started_at=attempt.started_at,
                         finished_at=attempt.finished_at)


def _artifact(artifact: ArtifactRecord, run_id: UUID, request: Request) -> ArtifactPublic:
    return ArtifactPublic(
        id=artifact.id,
        kind=artifact.kind,
        attempt=artifact.attempt,
        step=artifact.step_index,
        content_type=artifact.content_type,
        size_bytes=artifact.size_bytes,
        url=None if artifact.removed else _base(request) + artifact_path(run_id, artifact.id),
        removed_at=artifact.removed_at,
        removed_by=artifact.removed_by,
    )


def run_detail(view: RunView, request: Request) -> RunDetail:
    run = view.run
    artifacts = [_artifact(artifact, run.id, request) for artifact in view.artifacts]
    latest = [artifact for artifact in artifacts if artifact.attempt == run.attempts]
    videos = [artifact for artifact in latest if artifact.kind == "video"]
    return RunDetail(
        **run_summary(run, request).model_dump(),
        steps=view.steps,
        attempt_history=[_attempt(attempt) for attempt in view.attempts],
        artifacts=artifacts,
        video_url=videos[0].url if videos else None,
        video_removed_at=videos[0].removed_at if videos else None,
        screenshot_urls=[artifact.url for artifact in latest if artifact.kind == "screenshot" and artifact.url],
        artifacts_skipped=run.artifacts_skipped,
    )


def recording_public(recording: RecordingRecord) -> RecordingPublic:
    last = None
    if recording.last_run_id is not None and recording.last_run_status and recording.last_run_number:
        last = LastRun(id=recording.last_run_id, status=recording.last_run_status, number=recording.last_run_number)
    quarantine = None
    if recording.quarantined_at is not None:
        quarantine = QuarantinePublic(at=recording.quarantined_at, reason=recording.quarantine_reason,
                                      by=recording.quarantined_by)
    return RecordingPublic(id=recording.id, name=recording.name, format=recording.format,
                           step_count=recording.step_count, created_at=recording.created_at,
                           priority=recording.priority, last_run=last, quarantine=quarantine)


def schedule_url(request: Request, schedule_id: object) -> str:
    return f"{_base(request)}/api/schedules/{schedule_id}"


def schedule_public(view: ScheduleView, request: Request, *, reveal_secrets: bool | None = None) -> SchedulePublic:
    """`reveal_secrets` None: the options' secret values only to an admin (as for runs)."""
    schedule = view.schedule
    if reveal_secrets is None:
        reveal_secrets = is_admin(request)
    last = None
    if schedule.last_run_id is not None and schedule.last_run_status and schedule.last_run_number:
        last = LastRun(id=schedule.last_run_id, status=schedule.last_run_status, number=schedule.last_run_number)
    return SchedulePublic(
        id=schedule.id,
        name=schedule.name,
        recording_id=schedule.recording_id,
        recording_name=schedule.recording_name,
        cron=schedule.cron,
        timezone=schedule.timezone,
        every_ms=schedule.every_ms,
        options=schedule.options if reveal_secrets else redact_options(schedule.options),
        priority=schedule.priority,
        skip_if_running=schedule.skip_if_running,
        state=schedule.state,
        stopped_reason=schedule.stopped_reason,
        next_run_at=datetime.fromtimestamp(view.next_tick_ms / 1000, UTC) if view.next_tick_ms is not None else None,
        runs_made=schedule.runs_made,
        ticks_skipped=schedule.ticks_skipped,
        last_tick_at=schedule.last_tick_at,
        last_skip_reason=schedule.last_skip_reason,
        last_run=last,
        created_by=schedule.created_by,
        created_at=schedule.created_at,
        updated_at=schedule.updated_at,
        url=schedule_url(request, schedule.id),
        runs_url=f"{_base(request)}/api/runs?schedule={schedule.id}",
    )


def dead_job(entry: DeadLetterEntry, request: Request) -> DeadJobPublic:
    job, run = entry.job, entry.run
    run_id = str(run.id) if run else job.run_id  # a producer's job names no run: the run found by the job's id
    return DeadJobPublic(
        job_id=job.id, run_id=run_id, failed_reason=job.failed_reason, attempts_made=job.attempts_made,
        failed_at=job.finished_on, run_status=run.status if run else None, run_error=run.error if run else None,
        run_error_category=run.error_category if run else None,
        run_url=run_url(request, run_id) if run_id else None,
    )


def _dependency(probe: Probe, kind: str | None = None) -> DependencyHealth:
    return DependencyHealth(ok=probe.ok, latency_ms=probe.latency_ms, error=probe.error, kind=kind)


def health_detail(report: HealthReport) -> HealthDetail:
    return HealthDetail(
        status="ok" if report.ok else "degraded",
        database=_dependency(report.database),
        redis=_dependency(report.redis),
        artifact_store=_dependency(report.artifact_store or Probe(ok=False, latency_ms=None, error="not probed"),
                                   report.artifact_store_kind),
        queue=QueueHealth(name=report.queue_name, paused=report.paused, counts=report.counts,
                          counts_age_ms=report.counts_age_ms),
        queues={report.queue_name: report.counts} if report.counts else {},
        workers=report.workers,
    )


def storage_stats(report: StorageReport) -> StorageStats:
    count, size = report.total()
    last = report.last_pass
    return StorageStats(
        queue=report.queue,
        total=Usage(count=count, bytes=size),
        by_kind={kind: Usage(count=count, bytes=size) for kind, (count, size) in report.by_kind().items()},
        by_status={status: Usage(count=count, bytes=size) for status, (count, size) in report.by_status().items()},
        by_kind_and_status=[KindStatusUsage(kind=row.kind, status=row.status, count=row.artifacts, bytes=row.bytes)
                            for row in report.usage],
        growth=[GrowthDay(day=day.day, count=day.artifacts, bytes=day.bytes) for day in report.growth],
        last_pass=RetentionPassPublic(
            id=last.id, worker=last.worker, dry_run=last.dry_run, started_at=last.started_at,
            finished_at=last.finished_at, artifacts_removed=last.artifacts_removed, runs_removed=last.runs_removed,
            bytes_freed=last.bytes_freed, error=last.error) if last is not None else None,
    )


def suite_public(suite: SuiteRecord, request: Request) -> SuitePublic:
    last_run = None
    if suite.last_run_id is not None and suite.last_run_status is not None and suite.last_run_number is not None:
        last_run = LastSuiteRun(id=suite.last_run_id, status=suite.last_run_status, number=suite.last_run_number)
    return SuitePublic(id=suite.id, name=suite.name, recording_ids=suite.recording_ids,
                       defaults=suite.defaults if is_admin(request) else redact_options(suite.defaults),
                       created_by=suite.created_by, created_at=suite.created_at, updated_at=suite.updated_at,
                       last_run=last_run, url=f"{_base(request)}/api/suites/{suite.id}")


def suite_run_summary(suite_run: SuiteRunRecord, request: Request) -> SuiteRunSummary:
    return SuiteRunSummary(
        id=suite_run.id, number=suite_run.number, suite_id=suite_run.suite_id, suite_name=suite_run.suite_name,
        status=suite_run.state, counts=SuiteCounts(**suite_run.counts), total=suite_run.total,
        cancel_requested=suite_run.cancel_requested,
        options=suite_run.options if is_admin(request) else redact_options(suite_run.options),
        duration_ms=suite_run.duration_ms, created_at=suite_run.created_at, started_at=suite_run.started_at,
        finished_at=suite_run.finished_at, queued_by=suite_run.queued_by,
        url=f"{_base(request)}/api/suite-runs/{suite_run.id}")


def suite_run_detail(view: SuiteRunView, request: Request) -> SuiteRunDetail:
    return SuiteRunDetail(**suite_run_summary(view.suite_run, request).model_dump(),
                          runs=[run_summary(run, request, reveal_secrets=False) for run in view.runs],
                          ignored_runs=[run.id for run in view.runs if run.quarantined
                                        and run.status in (RunStatus.FAILED, RunStatus.ERROR)])
def flakiness_public(found: Flakiness, window: int) -> FlakinessPublic:
    return FlakinessPublic(score=found.score, runs=found.runs, flips=found.flips, flaky_runs=found.flaky_runs,
                           window=window)


def _quarantine(quarantine: Quarantine | None) -> QuarantinePublic | None:
    return QuarantinePublic(at=quarantine.at, reason=quarantine.reason, by=quarantine.by) if quarantine else None


def flaky_recording(item: RecordingFlakiness, window: int, request: Request) -> FlakyRecordingPublic:
    return FlakyRecordingPublic(
        recording_id=item.recording_id, name=item.name, flakiness=flakiness_public(item.flakiness, window),
        last_runs=[FlakyRunPublic(id=run.id, number=run.number, status=run.status, flaky=run.flaky,
                                  quarantined=run.quarantined, target=run.target, url=run_url(request, run.id))
                   for run in item.runs],
        quarantine=_quarantine(item.quarantine),
        history_url=f"{_base(request)}/api/recordings/{item.recording_id}/history")


def recording_history(recording: RecordingRecord, history: RecordingHistory, request: Request,
                      flakiness: FlakinessPublic | None = None) -> RecordingHistoryPublic:
    return RecordingHistoryPublic(
        flakiness=flakiness,
        recording_id=recording.id,
        name=recording.name,
        window=HistoryWindow(days=history.days, from_=history.window_from, to=history.window_to),
        pass_rate=history.pass_rate,
        median_duration_ms=history.median_duration_ms,
        counts=history.counts,
        runs=[HistoryRunPublic(
            id=run.id, number=run.number, status=run.status, error=run.error, error_category=run.error_category,
            attempts=run.attempts, created_at=run.created_at, finished_at=run.finished_at,
            duration_ms=run.duration_ms, url=run_url(request, run.id),
            failing_step=FailingStepPublic(index=step.index, type=step.type, selector=step.selector, error=step.error)
            if (step := run.failing_step) is not None else None,
        ) for run in history.runs],
    )


def _compared_side(step: StepResult | None) -> ComparedStepSide | None:
    if step is None:
        return None
    return ComparedStepSide(status=step.status, duration_ms=step.duration_ms, error=step.error,
                            category=step.category, selector=step.selector)


def run_comparison(comparison: RunComparison, request: Request) -> RunComparisonPublic:
    assert comparison.a.recording_id is not None  # HistoryService.compare refuses runs of no recording
    return RunComparisonPublic(
        recording_id=comparison.a.recording_id,
        a=run_summary(comparison.a, request),
        b=run_summary(comparison.b, request),
        steps=[ComparedStep(index=step.index, type=step.type, selector=step.selector, a=_compared_side(step.a),
                            b=_compared_side(step.b), duration_delta_ms=step.duration_delta_ms, differs=step.differs)
               for step in comparison.steps],
        first_difference=comparison.first_difference,
    )


def webhook_url(request: Request, webhook_id: object) -> str:
    return f"{_base(request)}/api/webhooks/{webhook_id}"


def webhook_public(subscription: SubscriptionRecord, request: Request, *, reveal_secret: bool = False) -> WebhookPublic:
    """`reveal_secret`: only in the answer to its creation; masked everywhere else."""
    last = None
    if subscription.last_delivery_status is not None and subscription.last_delivery_at is not None:
        last = LastDelivery(status=subscription.last_delivery_status, at=subscription.last_delivery_at)
    return WebhookPublic(
        id=subscription.id, name=subscription.name, url=subscription.url, events=list(subscription.events),
        scope=subscription.scope, suite_id=subscription.suite_id, recording_id=subscription.recording_id,
        format=subscription.format, active=subscription.active,
        secret=subscription.secret if reveal_secret else mask_secret(subscription.secret),
        created_by=subscription.created_by, created_at=subscription.created_at, updated_at=subscription.updated_at,
        last_delivery=last, deliveries_url=f"{webhook_url(request, subscription.id)}/deliveries")


def delivery_public(delivery: DeliveryRecord, attempts: list[DeliveryAttemptRecord] | None = None) -> DeliveryPublic:
    return DeliveryPublic(
        id=delivery.id, webhook_id=delivery.subscription_id, event=delivery.event, run_id=delivery.run_id,
        suite_run_id=delivery.suite_run_id, status=delivery.status, attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at, last_attempt_at=delivery.last_attempt_at,
        last_status_code=delivery.last_status_code, last_error=delivery.last_error,
        redelivery_of=delivery.redelivery_of, created_at=delivery.created_at, finished_at=delivery.finished_at,
        attempt_history=[DeliveryAttemptPublic(
            attempt=attempt.attempt, started_at=attempt.started_at, status_code=attempt.status_code,
            latency_ms=attempt.latency_ms, error=attempt.error, response_excerpt=attempt.response_excerpt)
            for attempt in attempts or []])


def baseline_public(baseline: BaselineRecord, request: Request) -> BaselinePublic:
    return BaselinePublic(
        id=baseline.id, recording_id=baseline.recording_id, step_index=baseline.step_index,
        viewport_key=baseline.viewport_key, width=baseline.width, height=baseline.height,
        size_bytes=baseline.size_bytes, run_id=baseline.run_id, approved_by=baseline.approved_by,
        approved_at=baseline.approved_at,
        image_url=f"{_base(request)}/api/recordings/{baseline.recording_id}/baselines/{baseline.id}/image")
