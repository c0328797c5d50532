"""Approving a visual baseline on the S3 artifact store (a real S3 server, tests/s3_server.py) and real Postgres:
the run's image is copied to `files/baselines/<recording>/`, read back, and the image it replaces is deleted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from uuid import UUID

import numpy as np
import pytest

from api.services.baselines import BaselineService
from contract.runs import AttemptStatus, RunStatus
from contract.settings import Settings
from contract.visual import actual_name
from runner.replay.visual_diff import encode_png
from storage import (
    ArtifactNotFound,
    ArtifactWrite,
    AttemptOutcome,
    BaselineRepository,
    NewRun,
    RecordingRepository,
    RunRepository,
    artifact_key,
    create_pool,
)
from storage.s3_artifacts import S3ArtifactStore

from s3_server import Bucket
from stored_history import store_recording

PREFIX = "runs/prod"


@pytest.fixture
async def store(s3_bucket: Bucket) -> AsyncIterator[S3ArtifactStore]:
    async with AsyncExitStack() as stack:
        yield await S3ArtifactStore.connect(s3_bucket.name, PREFIX, endpoint_url=s3_bucket.endpoint, stack=stack)


async def run_with_image(runs: RunRepository, store: S3ArtifactStore, recording: UUID, png: bytes,
                         tmp_path: Path) -> UUID:
    """A passed run of the recording whose step 1 kept `png` as its `visual-actual`."""
    run, _ = await runs.create(NewRun(name="visual", script_format="native", script={}, options={},
                                      recording_id=recording))
    attempt = await runs.start_attempt(run.id, "test-worker", None)
    assert attempt is not None
    source = tmp_path / f"{run.id}.png"
    source.write_bytes(png)
    stored = await store.put(source, artifact_key("visual-actual", run.id, attempt, actual_name(1, "20x10")),
                             "image/png")
    await runs.finish(run.id, attempt, AttemptOutcome(
        status=RunStatus.PASSED, error=None, category=None, steps=[], actions_executed=0, duration_ms=1,
        artifacts=[ArtifactWrite(kind="visual-actual", step_index=1, storage_key=stored.storage_key,
                                 content_type="image/png", size_bytes=stored.size_bytes)],
        attempt_status=AttemptStatus.PASSED))
    return run.id


async def test_approving_copies_the_image_into_the_bucket_and_replacing_it_deletes_the_old_one(
    settings: Settings, store: S3ArtifactStore, tmp_path: Path,
) -> None:
    pool = await create_pool(settings.database_url)
    try:
        runs = RunRepository(pool, queue=settings.queue_name)
        service = BaselineService(BaselineRepository(pool), RecordingRepository(pool, queue=settings.queue_name),
                                  runs, store)
        recording = await store_recording(pool, settings.queue_name, "visual")
        white = encode_png(np.full((10, 20, 3), 255, dtype=np.uint8))
        grey = encode_png(np.full((10, 20, 3), 128, dtype=np.uint8))
        first = await run_with_image(runs, store, recording, white, tmp_path)
        second = await run_with_image(runs, store, recording, grey, tmp_path)

        baseline = await service.approve(first, 1, "ci")
        assert (baseline.viewport_key, baseline.width, baseline.height, baseline.size_bytes) == (
            "20x10", 20, 10, len(white))
        assert baseline.storage_key.startswith(f"files/baselines/{recording}/step-001-20x10-")
        assert await store.exists(baseline.storage_key)
        assert await service.image(recording, baseline.id) == white

        replaced = await service.approve(second, 1, "ci")
        assert replaced.id == baseline.id and replaced.run_id == second
        assert await service.image(recording, baseline.id) == grey
        assert not await store.exists(baseline.storage_key)
        with pytest.raises(ArtifactNotFound):
            await store.read(baseline.storage_key)
        # The runs' own images are untouched: the baseline is a copy.
        assert [b.storage_key for b in await service.of_recording(recording)] == [replaced.storage_key]
        for run_id in (first, second):
            [kept] = await runs.artifacts(run_id)
            assert await store.exists(kept.storage_key)
    finally:
        await pool.close()
