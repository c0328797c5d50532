"""Run data in Postgres and artifact files in an artifact store (a local folder or S3)."""

from storage.artifact_stores import describe_store, open_artifact_store
from storage.artifacts import ArtifactContent, ArtifactStore, ByteRange, StoredFile, artifact_key
from storage.db import create_pool
from storage.errors import (
    ArtifactNotFound,
    ArtifactStoreError,
    DatabaseMissing,
    InvalidTransition,
    MigrationError,
    RangeNotSatisfiable,
    RecordingNotFound,
    RunNotFound,
    StorageError,
)
from storage.local_artifacts import LocalArtifactStore
from storage.migrations import apply_migrations, migrate
from storage.recordings import RecordingRecord, RecordingRepository
from storage.records import ArtifactRecord, AttemptRecord, RunRecord
from storage.runs import ArtifactWrite, AttemptOutcome, NewRun, RunFilters, RunRepository

__all__ = [
    "ArtifactContent",
    "ArtifactNotFound",
    "ArtifactRecord",
    "ArtifactStore",
    "ArtifactStoreError",
    "ArtifactWrite",
    "AttemptOutcome",
    "AttemptRecord",
    "ByteRange",
    "DatabaseMissing",
    "InvalidTransition",
    "LocalArtifactStore",
    "MigrationError",
    "NewRun",
    "RangeNotSatisfiable",
    "RecordingNotFound",
    "RecordingRecord",
    "RecordingRepository",
    "RunFilters",
    "RunNotFound",
    "RunRecord",
    "RunRepository",
    "StorageError",
    "StoredFile",
    "apply_migrations",
    "artifact_key",
    "create_pool",
    "describe_store",
    "migrate",
    "open_artifact_store",
]
