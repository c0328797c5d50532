"""The artifact store the settings name (ARTIFACT_STORE_URL), opened for the life of a process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from contract.settings import Settings
from storage.artifacts import ArtifactStore
from storage.local_artifacts import LocalArtifactStore
from storage.s3_artifacts import S3ArtifactStore


def describe_store(settings: Settings) -> str:
    """Where artifacts go, for logs: `s3://bucket/prefix`, or the local folder(s)."""
    if settings.artifact_store_url:
        return settings.artifact_store_url
    return f"{settings.video_storage_path}, {settings.screenshot_storage_path}, {settings.artifact_storage_path}"


@asynccontextmanager
async def open_artifact_store(settings: Settings) -> AsyncIterator[ArtifactStore]:
    url = settings.artifact_store_url
    if not url:
        yield LocalArtifactStore(settings.video_storage_path, settings.screenshot_storage_path,
                                 settings.artifact_storage_path)
        return
    parts = urlsplit(url)
    if parts.scheme == "s3":
        async with AsyncExitStack() as stack:
            store = await S3ArtifactStore.connect(parts.netloc, unquote(parts.path),
                                                  endpoint_url=settings.s3_endpoint_url, stack=stack)
            yield store
        return
    # A folder, as a path or a file:// URL (Settings validated the scheme).
    yield LocalArtifactStore.under(Path(unquote(parts.path) if parts.scheme == "file" else url))
