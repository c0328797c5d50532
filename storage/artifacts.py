"""Artifact files (videos, screenshots, traces, logs): the store interface every backend implements.

A storage key is `<area>/<run id>/attempt-<n>/<file name>`; the area (`videos`, `screenshots`, `files`)
says what it holds (and, for the local store, which root folder). Backends: `LocalArtifactStore`
(storage/local_artifacts.py) and `S3ArtifactStore` (storage/s3_artifacts.py); `open_artifact_store`
(storage/artifact_stores.py) picks one from the settings.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

AREA_BY_KIND = {"video": "videos", "screenshot": "screenshots", "visual-actual": "screenshots",
                "visual-baseline": "screenshots", "visual-diff": "screenshots"}
OTHER_AREA = "files"
AREAS = ("videos", "screenshots", OTHER_AREA)


@dataclass(frozen=True)
class StoredFile:
    storage_key: str
    size_bytes: int


@dataclass(frozen=True)
class ByteRange:
    """One HTTP byte range: `first` to `last` inclusive (`last` None: to the end), or the last `suffix` bytes."""

    first: int | None = None
    last: int | None = None
    suffix: int | None = None

    def header(self) -> str:
        if self.suffix is not None:
            return f"bytes=-{self.suffix}"
        return f"bytes={self.first}-{'' if self.last is None else self.last}"


@dataclass
class ArtifactContent:
    """What a read returns: the bytes (streamed), which of them (`first`..`last` of `total`), and whether they
    are a part (an answered range) or the whole."""

    chunks: AsyncIterator[bytes]
    first: int
    last: int
    total: int
    partial: bool

    @property
    def length(self) -> int:
        return self.last - self.first + 1 if self.total else 0


def baseline_key(recording_id: UUID, file_name: str) -> str:
    """Where an approved visual baseline lives: beside no run, so that retention never takes it."""
    return f"{OTHER_AREA}/baselines/{recording_id}/{file_name}"


def artifact_key(kind: str, run_id: UUID, attempt: int, file_name: str) -> str:
    area = AREA_BY_KIND.get(kind, OTHER_AREA)
    return f"{area}/{run_id}/attempt-{attempt}/{file_name}"


class ArtifactStore(ABC):
    """Where artifacts live. Every method may raise ArtifactStoreError (the store did not answer or refused);
    reads raise ArtifactNotFound for a key that holds nothing."""

    kind: str

    @abstractmethod
    async def put(self, source: Path, key: str, content_type: str) -> StoredFile:
        """Store the finished file under `key`; the store takes it (moved or uploaded: the caller owns the
        source no more). Once this returns, the object exists."""

    @abstractmethod
    async def read(self, key: str, byte_range: ByteRange | None = None) -> ArtifactContent:
        """The object's bytes, or the range of them (RangeNotSatisfiable when the range is outside it)."""

    @abstractmethod
    async def exists(self, key: str) -> bool: ...

    @abstractmethod
    async def delete(self, keys: Sequence[str]) -> None:
        """Remove the objects; a key that holds nothing already is not an error."""

    def local_path(self, key: str) -> Path | None:
        """The file on this host that holds the key, for stores that are a local folder (the API then serves it
        with sendfile); None for remote stores."""
        return None

    async def presigned_url(self, key: str, expires_s: int, *, content_type: str, filename: str) -> str | None:
        """A URL that serves the object without the API (Range included) for `expires_s`; None for stores that
        cannot sign one."""
        return None

    @abstractmethod
    async def check(self) -> None:
        """Raise ArtifactStoreError when the store cannot be reached or written (health)."""
