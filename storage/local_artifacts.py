"""Artifacts on a local disk: one root folder per area (VIDEO_STORAGE_PATH, SCREENSHOT_STORAGE_PATH,
ARTIFACT_STORAGE_PATH), or one root for all (`ARTIFACT_STORE_URL=/folder`). Reachable only from this host:
for workers on several hosts, use the S3 store."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import suppress
from pathlib import Path, PurePosixPath

from storage.artifacts import AREAS, ArtifactContent, ArtifactStore, ByteRange, StoredFile
from storage.errors import ArtifactNotFound, ArtifactStoreError, RangeNotSatisfiable

READ_CHUNK = 256 * 1024


class LocalArtifactStore(ArtifactStore):
    kind = "local"

    def __init__(self, video_root: Path, screenshot_root: Path, files_root: Path) -> None:
        self._roots = dict(zip(AREAS, (video_root.resolve(), screenshot_root.resolve(), files_root.resolve()),
                               strict=True))

    @classmethod
    def under(cls, root: Path) -> LocalArtifactStore:
        """Every area as a folder of one root."""
        return cls(*(root / area for area in AREAS))

    def _path_for(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if len(parts) < 2 or parts[0] not in self._roots or ".." in parts or key.startswith("/"):
            raise ArtifactNotFound(f"invalid artifact key {key!r}")
        return self._roots[parts[0]].joinpath(*parts[1:])

    async def put(self, source: Path, key: str, content_type: str) -> StoredFile:
        target = self._path_for(key)

        def move() -> int:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), target)
            return target.stat().st_size

        try:
            size = await asyncio.to_thread(move)
        except OSError as error:
            raise ArtifactStoreError(f"cannot store {key}: {error}", transient=False) from error
        return StoredFile(storage_key=key, size_bytes=size)

    def local_path(self, key: str) -> Path:
        path = self._path_for(key)
        if not path.is_file():
            raise ArtifactNotFound(f"artifact file for {key!r} is missing")
        return path

    async def read(self, key: str, byte_range: ByteRange | None = None) -> ArtifactContent:
        path = self.local_path(key)
        total = path.stat().st_size
        first, last = 0, total - 1
        if byte_range is not None:
            first, last = _resolve(byte_range, total)
        return ArtifactContent(chunks=_chunks(path, first, last), first=first, last=last, total=total,
                               partial=byte_range is not None)

    async def exists(self, key: str) -> bool:
        try:
            return self._path_for(key).is_file()
        except ArtifactNotFound:
            return False

    async def check(self) -> None:
        def writable(root: Path) -> None:
            # A file written and removed: permissions, read-only mounts and full disks all show here.
            root.mkdir(parents=True, exist_ok=True)
            probe = root / f".reprise-write-check-{os.getpid()}"
            probe.write_bytes(b"ok")
            probe.unlink()

        for root in self._roots.values():
            try:
                await asyncio.to_thread(writable, root)
            except OSError as error:
                raise ArtifactStoreError(f"artifact folder {root} is not writable: {error.strerror or error}",
                                         transient=False) from error

    async def delete(self, keys: Sequence[str]) -> None:
        def remove() -> None:
            for key in keys:
                try:
                    path = self._path_for(key)
                except ArtifactNotFound:  # a key no root of this store holds: nothing to delete
                    continue
                with suppress(FileNotFoundError):
                    path.unlink()
                root = self._roots[PurePosixPath(key).parts[0]]
                for folder in (path.parent, path.parent.parent):  # the attempt's, then the run's, once empty
                    if folder == root or not folder.is_relative_to(root):
                        break
                    try:
                        folder.rmdir()
                    except OSError:
                        break

        try:
            await asyncio.to_thread(remove)
        except OSError as error:  # permission denied, read-only file system, ...
            raise ArtifactStoreError(f"cannot delete artifacts: {error}", transient=False) from error


def _resolve(byte_range: ByteRange, total: int) -> tuple[int, int]:
    if byte_range.suffix is not None:
        first, last = max(0, total - byte_range.suffix), total - 1
    else:
        first = byte_range.first or 0
        last = total - 1 if byte_range.last is None else min(byte_range.last, total - 1)
    if total == 0 or first > last or first >= total:
        raise RangeNotSatisfiable(f"range {byte_range.header()} is outside the {total} bytes", total)
    return first, last


async def _chunks(path: Path, first: int, last: int) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        await asyncio.to_thread(file.seek, first)
        left = last - first + 1
        while left > 0:
            chunk = await asyncio.to_thread(file.read, min(READ_CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk
