"""Run data in Postgres and artifact files on disk."""

from storage.artifacts import ArtifactStore, LocalArtifactStore, StoredFile, artifact_key
from storage.db import create_pool
from storage.errors import (
    ArtifactNotFound,
    DatabaseMissing,
    InvalidTransition,
    MigrationError,
    RecordingNotFound,
    RunNotFound,
    StorageError,
)
from storage.migrations import apply_migrations, migrate
from storage.recordings import RecordingRecord, RecordingRepository
from storage.records import ArtifactRecord, AttemptRecord, RunRecord
from storage.runs import ArtifactWrite, AttemptOutcome, NewRun, RunFilters, RunRepository

__all__ = [
    "ArtifactNotFound",
    "ArtifactRecord",
    "ArtifactStore",
    "ArtifactWrite",
    "AttemptOutcome",
    "AttemptRecord",
    "DatabaseMissing",
    "InvalidTransition",
    "LocalArtifactStore",
    "MigrationError",
    "NewRun",
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
    "migrate",
]
