"""Visual baselines of saved recordings: list them, serve their images, and approve a run's compared image as
the new baseline of its step and viewport (a copy into the artifact store, the row upserted, the old image
removed)."""

from __future__ import annotations

import asyncio
import tempfile
from contextlib import suppress
from pathlib import Path
from uuid import UUID, uuid4

import structlog

from api.errors import InvalidField
from contract.visual import parse_actual_name, png_size
from storage import (
    ArtifactNotFound,
    ArtifactStore,
    ArtifactStoreError,
    BaselineNotFound,
    BaselineRecord,
    BaselineRepository,
    NewBaseline,
    RecordingRepository,
    RunRepository,
    baseline_key,
)

log = structlog.get_logger(__name__)


class BaselineService:
    def __init__(self, baselines: BaselineRepository, recordings: RecordingRepository, runs: RunRepository,
                 store: ArtifactStore) -> None:
        self._baselines = baselines
        self._recordings = recordings
        self._runs = runs
        self._store = store

    async def of_recording(self, recording_id: UUID) -> list[BaselineRecord]:
        """RecordingNotFound (404) for an unknown recording."""
        await self._recordings.get(recording_id)
        return await self._baselines.of_recording(recording_id)

    async def image(self, recording_id: UUID, baseline_id: int) -> bytes:
        await self._recordings.get(recording_id)
        baseline = await self._baselines.get(recording_id, baseline_id)
        if baseline is None:
            raise BaselineNotFound(f"recording {recording_id} has no baseline {baseline_id}")
        return await self._read(baseline.storage_key)

    async def _read(self, key: str) -> bytes:
        content = await self._store.read(key)
        return b"".join([chunk async for chunk in content.chunks])

    async def approve(self, run_id: UUID, step_index: int, approved_by: str) -> BaselineRecord:
        """The run's compared image of the step (its latest attempt that has one) becomes the recording's baseline
        for that step and viewport. RunNotFound / RecordingNotFound / BaselineNotFound (404: no such image);
        InvalidField (422) for a run of no saved recording."""
        run = await self._runs.get(run_id)
        if run.recording_id is None:
            raise InvalidField("run_id", f"run {run.id} was not made from a saved recording: it has no baselines")
        recording = await self._recordings.get(run.recording_id)
        candidates = [artifact for artifact in await self._runs.artifacts(run_id)
                      if artifact.kind == "visual-actual" and artifact.step_index == step_index
                      and not artifact.removed]
        if not candidates:
            raise BaselineNotFound(f"run {run_id} has no compared image of step {step_index + 1} to approve")
        artifact = max(candidates, key=lambda found: (found.attempt, found.id))
        parsed = parse_actual_name(artifact.storage_key.rsplit("/", 1)[-1])
        if parsed is None:
            raise BaselineNotFound(f"artifact {artifact.id} of run {run_id} is not a compared image")
        _, key = parsed
        data = await self._read(artifact.storage_key)
        size = png_size(data)
        if size is None:
            raise BaselineNotFound(f"artifact {artifact.id} of run {run_id} is not a PNG")
        target = baseline_key(recording.id, f"step-{step_index:03}-{key}-{uuid4().hex}.png")
        stored = await self._store.put(await asyncio.to_thread(_scratch_file, data), target, "image/png")
        baseline, replaced = await self._baselines.approve(NewBaseline(
            recording_id=recording.id, step_index=step_index, viewport_key=key, storage_key=stored.storage_key,
            width=size[0], height=size[1], size_bytes=stored.size_bytes, run_id=run.id, approved_by=approved_by))
        if replaced is not None and replaced != baseline.storage_key:
            with suppress(ArtifactStoreError, ArtifactNotFound):
                await self._store.delete([replaced])
        log.info("visual baseline approved", recordingId=str(recording.id), step=step_index, viewport=key,
                 runId=str(run.id), by=approved_by)
        return baseline


def _scratch_file(data: bytes) -> Path:
    with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as scratch:
        scratch.write(data)
    return Path(scratch.name)
