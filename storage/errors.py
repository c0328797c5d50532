"""Errors of the storage package.

    StorageError
    ├── RunNotFound          no run with that id
    ├── ArtifactNotFound     no artifact with that id for the run, or its file is gone
    ├── ArtifactRemoved      the artifact's object was removed on purpose (retention); its row stays
    ├── RangeNotSatisfiable  a byte range outside the artifact
    ├── ArtifactStoreError   the artifact store (disk, S3) did not answer or refused; `transient` when a
    │                        retry may succeed (connection lost, 5xx, throttled)
    ├── RecordingNotFound    no saved recording with that id
    ├── BaselineNotFound     no visual baseline with that id, or no compared image to approve
    ├── ScheduleNotFound     no schedule with that id on this queue
    ├── WebhookNotFound      no webhook subscription with that id on this queue
    ├── DeliveryNotFound     no webhook delivery with that id on this queue
    ├── ScopeTargetNotFound  a webhook's scope names a suite or recording that does not exist
    ├── SuiteNotFound        no suite with that id; SuiteRunNotFound: no suite run with that id on this queue
    ├── SuiteNameTaken       another suite has that name
    ├── RecordingsMissing    a suite names recordings that do not exist (`positions`: where in its list)
    ├── ChildrenPending      a suite run's result was asked for while some of its children are not final
    ├── KeyNotFound          no live API key with that id or name
    ├── KeyNameTaken         a live API key has that name already
    ├── InvalidTransition    the run's status or the schedule's state does not allow the change (e.g.
    │                        cancelling a passed run, resuming a stopped schedule)
    ├── IdempotencyConflict  a batch's idempotency keys name runs of another batch (nothing was inserted)
    ├── MigrationError       a migration file is malformed or failed to apply
    └── DatabaseMissing      the database named by DATABASE_URL does not exist on its server
"""

from __future__ import annotations

from datetime import datetime


class StorageError(Exception):
    """A storage operation failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class RunNotFound(StorageError):
    """No run with that id."""


class IdempotencyConflict(StorageError):
    """A batch's idempotency keys name runs that another batch queued; nothing was inserted."""


class ArtifactNotFound(StorageError):
    """No artifact with that id for this run."""


class ArtifactRemoved(StorageError):
    """The artifact's object was removed (by retention)."""

    def __init__(self, message: str, *, removed_at: datetime, removed_by: str | None) -> None:
        super().__init__(message)
        self.removed_at = removed_at
        self.removed_by = removed_by


class RangeNotSatisfiable(StorageError):
    """The byte range lies outside the artifact."""

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class ArtifactStoreError(StorageError):
    """The artifact store did not answer or refused."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class RecordingNotFound(StorageError):
    """No saved recording with that id."""


class BaselineNotFound(StorageError):
    """No visual baseline with that id for this recording."""


class ScheduleNotFound(StorageError):
    """No schedule with that id on this queue."""


class InvalidTransition(StorageError):
    """The run's current status (or the schedule's state) does not allow this change."""


class MigrationError(StorageError):
    """A migration could not be applied."""


class DatabaseMissing(StorageError):
    """The database does not exist on the server."""

    def __init__(self, database: str, server: str) -> None:
        super().__init__(f'database "{database}" does not exist on {server}')
        self.database = database
        self.server = server


class KeyNotFound(StorageError):
    """No live API key with that id or name."""


class WebhookNotFound(StorageError):
    """No webhook subscription with that id on this queue."""


class DeliveryNotFound(StorageError):
    """No webhook delivery with that id on this queue."""


class ScopeTargetNotFound(StorageError):
    """A webhook's scope names a suite or a recording that does not exist; `kind` says which."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class KeyNameTaken(StorageError):
    """A live API key has that name already."""


class SuiteNotFound(StorageError):
    """No suite with that id."""


class SuiteRunNotFound(StorageError):
    """No suite run with that id on this queue."""


class SuiteNameTaken(StorageError):
    """Another suite has that name."""


class RecordingsMissing(StorageError):
    """A suite names recordings that do not exist."""

    def __init__(self, message: str, positions: list[int]) -> None:
        super().__init__(message)
        self.positions = positions


class ChildrenPending(StorageError):
    """Some of a suite run's children are not final yet."""

    def __init__(self, pending: int) -> None:
        super().__init__(f"{pending} child run(s) not final yet")
        self.pending = pending
