"""Run data in Postgres and artifact files in an artifact store (a local folder or S3)."""

from storage.artifact_stores import describe_store, open_artifact_store
from storage.artifacts import ArtifactContent, ArtifactStore, ByteRange, StoredFile, artifact_key, baseline_key
from storage.baselines import BaselineRecord, BaselineRepository, NewBaseline
from storage.db import create_pool
from storage.errors import (
    ArtifactNotFound,
    ArtifactRemoved,
    ArtifactStoreError,
    BaselineNotFound,
    ChildrenPending,
    DatabaseMissing,
    IdempotencyConflict,
    InvalidTransition,
    KeyNameTaken,
    KeyNotFound,
    MigrationError,
    RangeNotSatisfiable,
    RecordingNotFound,
    RecordingsMissing,
    RunNotFound,
    ScheduleNotFound,
    StorageError,
    SuiteNameTaken,
    SuiteNotFound,
    SuiteRunNotFound,
)
from storage.history import FailingStep, HistoryRun, RecordingHistory, RunHistory
from storage.keys import KeyRecord, KeyRepository, NewKey, NewSession, SessionRecord
from storage.local_artifacts import LocalArtifactStore
from storage.migrations import apply_migrations, migrate
from storage.queue_actions import QueueActionRecord, QueueActions
from storage.recordings import RecordingRecord, RecordingRepository, deleted_recording_reason
from storage.records import ArtifactRecord, AttemptRecord, RetentionPassRecord, RunRecord
from storage.retention import Retention, RetentionReport
from storage.run_metrics import NO_CATEGORY, DurationBucket, FinishedRuns, RunMetrics, RunMetricsReader
from storage.runs import ArtifactWrite, AttemptOutcome, NewRun, RunFilters, RunRepository
from storage.schedules import NewSchedule, ScheduleChange, ScheduleRecord, ScheduleRepository, Tick
from storage.suites import SuiteRecord, SuiteRecording, SuiteRepository, SuiteRunRecord
from storage.usage import GrowthRecord, StorageUsage, UsageRecord

__all__ = [
    "NO_CATEGORY",
    "ArtifactContent",
    "ArtifactNotFound",
    "ArtifactRecord",
    "ArtifactRemoved",
    "ArtifactStore",
    "ArtifactStoreError",
    "ArtifactWrite",
    "AttemptOutcome",
    "AttemptRecord",
    "BaselineNotFound",
    "BaselineRecord",
    "BaselineRepository",
    "ByteRange",
    "ChildrenPending",
    "DatabaseMissing",
    "DurationBucket",
    "FailingStep",
    "FinishedRuns",
    "GrowthRecord",
    "HistoryRun",
    "IdempotencyConflict",
    "InvalidTransition",
    "KeyNameTaken",
    "KeyNotFound",
    "KeyRecord",
    "KeyRepository",
    "LocalArtifactStore",
    "MigrationError",
    "NewBaseline",
    "NewKey",
    "NewRun",
    "NewSchedule",
    "NewSession",
    "QueueActionRecord",
    "QueueActions",
    "RangeNotSatisfiable",
    "RecordingHistory",
    "RecordingNotFound",
    "RecordingRecord",
    "RecordingRepository",
    "RecordingsMissing",
    "Retention",
    "RetentionPassRecord",
    "RetentionReport",
    "RunFilters",
    "RunHistory",
    "RunMetrics",
    "RunMetricsReader",
    "RunNotFound",
    "RunRecord",
    "RunRepository",
    "ScheduleChange",
    "ScheduleNotFound",
    "ScheduleRecord",
    "ScheduleRepository",
    "SessionRecord",
    "StorageError",
    "StorageUsage",
    "StoredFile",
    "SuiteNameTaken",
    "SuiteNotFound",
    "SuiteRecord",
    "SuiteRecording",
    "SuiteRepository",
    "SuiteRunNotFound",
    "SuiteRunRecord",
    "Tick",
    "UsageRecord",
    "apply_migrations",
    "artifact_key",
    "baseline_key",
    "create_pool",
    "deleted_recording_reason",
    "describe_store",
    "migrate",
    "open_artifact_store",
]
