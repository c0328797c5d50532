"""Artifacts as the API hands them out: a local file (served with Range by the API), a redirect to a
presigned URL of the store (ARTIFACT_DELIVERY=redirect), or a stream of the store's ranged read (proxy)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from uuid import UUID

from storage import (
    ArtifactContent,
    ArtifactNotFound,
    ArtifactRecord,
    ArtifactRemoved,
    ArtifactStore,
    ByteRange,
    RunRepository,
)


@dataclass(frozen=True)
class LocalFile:
    path: Path


@dataclass(frozen=True)
class Redirect:
    url: str


@dataclass(frozen=True)
class Stream:
    content: ArtifactContent


Delivery = LocalFile | Redirect | Stream


class ArtifactService:
    def __init__(self, runs: RunRepository, store: ArtifactStore, *, delivery: Literal["proxy", "redirect"],
                 url_ttl_s: int) -> None:
        self._runs = runs
        self._store = store
        self._delivery = delivery
        self._url_ttl_s = url_ttl_s

    async def artifact(self, run_id: UUID, artifact_id: int) -> ArtifactRecord:
        await self._runs.get(run_id)  # a run of another queue is not ours to serve
        artifact = await self._runs.artifact(run_id, artifact_id)
        if artifact is None:
            raise ArtifactNotFound(f"run {run_id} has no artifact {artifact_id}")
        return artifact

    async def deliver(self, run_id: UUID, artifact_id: int,
                      byte_range: ByteRange | None) -> tuple[ArtifactRecord, Delivery]:
        """How to hand the artifact out; ArtifactRemoved when retention deleted its file (the row stays)."""
        artifact = await self.artifact(run_id, artifact_id)
        if artifact.removed_at is not None:
            raise ArtifactRemoved(
                f"artifact {artifact_id} of run {run_id} ({artifact.kind}) was removed by "
                f"{artifact.removed_by or 'retention'} on {artifact.removed_at.date().isoformat()}",
                removed_at=artifact.removed_at, removed_by=artifact.removed_by)
        local = self._store.local_path(artifact.storage_key)
        if local is not None:
            return artifact, LocalFile(local)
        if self._delivery == "redirect":
            url = await self._store.presigned_url(artifact.storage_key, self._url_ttl_s,
                                                  content_type=artifact.content_type,
                                                  filename=artifact.storage_key.rsplit("/", 1)[-1])
            if url is not None:
                return artifact, Redirect(url)
        return artifact, Stream(await self._store.read(artifact.storage_key, byte_range))
