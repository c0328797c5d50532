"""Artifact files (videos, screenshots): the store interface and its local-disk implementation.

A storage key is `<area>/<run id>/attempt-<n>/<file name>`; the area (`videos`, `screenshots`, `files`)
picks the root folder, so videos, screenshots and the rest (traces, HTML, console and network logs) can
live on different disks (VIDEO_STORAGE_PATH, SCREENSHOT_STORAGE_PATH, ARTIFACT_STORAGE_PATH).
An S3-compatible store can implement the same interface with the key as object key.
"""

from __future__ import annotations

import asyncio
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from uuid import UUID

from storage.errors import ArtifactNotFound

AREA_BY_KIND = {"video": "videos", "screenshot": "screenshots"}
OTHER_AREA = "files"


@dataclass(frozen=True)
class StoredFile:
    storage_key: str
    size_bytes: int


def artifact_key(kind: str, run_id: UUID, attempt: int, file_name: str) -> str:
    area = AREA_BY_KIND.get(kind, OTHER_AREA)
    return f"{area}/{run_id}/attempt-{attempt}/{file_name}"


class ArtifactStore(ABC):
    @abstractmethod
    async def save(self, source: Path, key: str) -> StoredFile:
        """Move a finished file from the runner's work folder into the store."""

    @abstractmethod
    def local_path(self, key: str) -> Path:
        """The file on this host that holds the key (raises ArtifactNotFound)."""


class LocalArtifactStore(ArtifactStore):
    def __init__(self, video_root: Path, screenshot_root: Path, files_root: Path) -> None:
        self._roots = {"videos": video_root.resolve(), "screenshots": screenshot_root.resolve(),
                       OTHER_AREA: files_root.resolve()}

    def _path_for(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if len(parts) < 2 or parts[0] not in self._roots or ".." in parts or key.startswith("/"):
            raise ArtifactNotFound(f"invalid artifact key {key!r}")
        return self._roots[parts[0]].joinpath(*parts[1:])

    async def save(self, source: Path, key: str) -> StoredFile:
        target = self._path_for(key)

        def move() -> int:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), target)
            return target.stat().st_size

        size = await asyncio.to_thread(move)
        return StoredFile(storage_key=key, size_bytes=size)

    def local_path(self, key: str) -> Path:
        path = self._path_for(key)
        if not path.is_file():
            raise ArtifactNotFound(f"artifact file for {key!r} is missing")
        return path
