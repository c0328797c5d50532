"""Visual comparison end to end in-process: the run processor on real Postgres, Redis (a real BullMQ job) and
Chromium replays a saved recording's compared `screenshot` against the baselines it read from the artifact store,
and the API's baseline service approves a run's image (tests/site/visual.html: its query parameters change 10
pixels, the text of a masked element, or the heading's sub-pixel positions)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import pytest
from bullmq import Job
from redis.asyncio import Redis

from api.services.baselines import BaselineService
from contract.network import NetworkPolicy
from contract.runs import FailureCategory, RunStatus, StepStatus
from contract.settings import Settings
from jobs.queue import RetryPolicy, RunQueue
from runner.replay import ChromiumLauncher
from runner.replay.visual_diff import AA_RGB, DIFF_RGB, decode_png
from storage import (
    ArtifactRecord,
    BaselineRepository,
    LocalArtifactStore,
    NewRun,
    RecordingRepository,
    RunRepository,
    create_pool,
)
from worker.browser_health import BrowserSupervisor
from worker.intake import JobIntake
from worker.main import replay_in
from worker.processor import RunProcessor
from worker.replays import ActiveReplays

VIEWPORT = {"width": 800, "height": 400}
KEY = "800x400"


@dataclass
class Setup:
    runs: RunRepository
    queue: RunQueue
    processor: RunProcessor
    store: LocalArtifactStore
    baselines: BaselineService
    recording: UUID


def visual_script(site_url: str, query: str = "", *, masks: list[str] | None = None) -> dict[str, Any]:
    shot: dict[str, Any] = {"action": "screenshot", "name": "page", "compare": True}
    if masks is not None:
        shot["maskSelectors"] = masks
    return {"version": 1, "name": "visual", "viewport": VIEWPORT, "steps": [
        {"action": "navigate", "url": f"{site_url}/visual.html{query}"}, shot]}


@pytest.fixture
async def setup(settings: Settings, chromium_path: str, tmp_path: Path, site_url: str) -> AsyncIterator[Setup]:
    pool = await create_pool(settings.database_url)
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    queue = RunQueue(settings.queue_name, settings.redis_url, redis, RetryPolicy(max_attempts=1, backoff_ms=100))
    supervisor = BrowserSupervisor(ChromiumLauncher(chromium_path))
    await supervisor.start()
    runs = RunRepository(pool, queue=settings.queue_name)
    recordings = RecordingRepository(pool, queue=settings.queue_name)
    store = LocalArtifactStore.under(tmp_path / "store")
    baselines = BaselineRepository(pool)
    processor = RunProcessor(runs=runs, artifacts=store, replays=ActiveReplays(replay_in({"chromium": supervisor}, 30)),
                             worker_name="in-process", work_dir=tmp_path / "work",
                             intake=JobIntake(runs, NetworkPolicy()), baselines=baselines)
    script = visual_script(site_url, masks=["#clock"])
    recording = await recordings.create(name="visual", script_format="native", script=script, step_count=2)
    try:
        yield Setup(runs, queue, processor, store, BaselineService(baselines, recordings, runs, store), recording.id)
    finally:
        await supervisor.close()
        await queue.close()
        await redis.aclose()
        await pool.close()


async def replay(setup: Setup, script: dict[str, Any], *, saved: bool = True) -> UUID:
    """A run of the saved recording (on the page `script` names), processed to its end."""
    run, _ = await setup.runs.create(NewRun(name="visual", script_format="native", script=script,
                                            options={"video": "off", "screenshots": "off"},
                                            recording_id=setup.recording if saved else None))
    await setup.queue.enqueue(run.id, 0)
    job = await Job.fromId(setup.queue._queue, str(run.id))
    assert job is not None
    await setup.processor.process(job, "token")
    return run.id


async def visual_artifacts(setup: Setup, run_id: UUID) -> dict[str, ArtifactRecord]:
    return {artifact.kind: artifact for artifact in await setup.runs.artifacts(run_id)
            if artifact.kind.startswith("visual-")}


def pixels(setup: Setup, artifact: ArtifactRecord) -> np.ndarray:
    return decode_png(setup.store.local_path(artifact.storage_key).read_bytes())


async def test_proposed_approved_then_compared_ten_pixels_fail_anti_aliasing_and_masked_changes_pass(
    setup: Setup, site_url: str,
) -> None:
    # No baseline yet: the image is proposed, the step passes with a warning.
    first = await replay(setup, visual_script(site_url, masks=["#clock"]))
    run = await setup.runs.get(first)
    assert run.status == RunStatus.PASSED
    shot = (await setup.runs.steps(first, 1))[1]
    assert shot.status == StepStatus.PASSED
    assert shot.warning is not None and shot.warning.startswith("no baseline yet: proposed")
    kept = await visual_artifacts(setup, first)
    assert set(kept) == {"visual-actual"} and kept["visual-actual"].step_index == 1
    assert kept["visual-actual"].storage_key.endswith(f"visual-actual-001-{KEY}.png")
    assert await setup.baselines.of_recording(setup.recording) == []

    # Approved: the recording's baseline for step 1 at 800x400 is a copy of that image.
    baseline = await setup.baselines.approve(first, 1, "tester")
    assert (baseline.step_index, baseline.viewport_key, baseline.width, baseline.height, baseline.run_id,
            baseline.approved_by) == (1, KEY, 800, 400, first, "tester")
    assert baseline.storage_key.startswith(f"files/baselines/{setup.recording}/")
    assert await setup.baselines.image(setup.recording, baseline.id) == \
        setup.store.local_path(kept["visual-actual"].storage_key).read_bytes()

    # The same page: passes, with the baseline, the actual and the diff kept.
    same = await replay(setup, visual_script(site_url, masks=["#clock"]))
    assert (await setup.runs.get(same)).status == RunStatus.PASSED
    assert (await setup.runs.steps(same, 1))[1].warning is None
    assert set(await visual_artifacts(setup, same)) == {"visual-actual", "visual-baseline", "visual-diff"}

    # 10 pixels changed: visual_diff, and the diff image shows them in red.
    changed = await replay(setup, visual_script(site_url, "?change=1", masks=["#clock"]))
    run = await setup.runs.get(changed)
    assert (run.status, run.error_category) == (RunStatus.FAILED, FailureCategory.VISUAL_DIFF)
    step = (await setup.runs.steps(changed, 1))[1]
    assert step.status == StepStatus.FAILED and step.category == FailureCategory.VISUAL_DIFF
    assert step.error is not None and step.error.startswith("step 2 (screenshot) [visual_diff]: 10 pixels differ "
                                                            "from the baseline")
    assert "threshold 0 (0 of 320000 pixels)" in step.error
    diff = await visual_artifacts(setup, changed)
    assert diff["visual-diff"].step_index == 1
    red = np.all(pixels(setup, diff["visual-diff"]) == DIFF_RGB, axis=2)
    assert int(red.sum()) == 10 and red[300, 400:410].all()

    # The heading's glyphs on other sub-pixel positions: anti-aliasing only, passes (shown in yellow).
    shifted = await replay(setup, visual_script(site_url, "?shift=1", masks=["#clock"]))
    assert (await setup.runs.get(shifted)).status == RunStatus.PASSED
    aa = pixels(setup, (await visual_artifacts(setup, shifted))["visual-diff"])
    assert np.all(aa == AA_RGB, axis=2).sum() > 0
    assert np.all(aa == DIFF_RGB, axis=2).sum() == 0

    # Another text in the masked element passes; without the mask the same page fails.
    masked = await replay(setup, visual_script(site_url, "?clock=13:14:15", masks=["#clock"]))
    assert (await setup.runs.get(masked)).status == RunStatus.PASSED
    unmasked = await replay(setup, visual_script(site_url, "?clock=13:14:15", masks=[]))
    run = await setup.runs.get(unmasked)
    assert (run.status, run.error_category) == (RunStatus.FAILED, FailureCategory.VISUAL_DIFF)

    # Approving the changed run's image makes it the baseline: the changed page passes from then on.
    again = await setup.baselines.approve(changed, 1, "tester")
    assert again.id == baseline.id and again.run_id == changed
    assert [b.run_id for b in await setup.baselines.of_recording(setup.recording)] == [changed]
    assert not setup.store.local_path(again.storage_key).read_bytes() == b""
    with pytest.raises(Exception, match="missing"):
        setup.store.local_path(baseline.storage_key)  # the image it replaced is gone
    now_same = await replay(setup, visual_script(site_url, "?change=1", masks=["#clock"]))
    assert (await setup.runs.get(now_same)).status == RunStatus.PASSED


async def test_a_run_of_no_saved_recording_takes_the_screenshot_and_says_it_was_not_compared(
    setup: Setup, site_url: str,
) -> None:
    run_id = await replay(setup, visual_script(site_url), saved=False)
    assert (await setup.runs.get(run_id)).status == RunStatus.PASSED
    step = (await setup.runs.steps(run_id, 1))[1]
    assert step.warning == "not compared: visual comparison needs a saved recording (this run has none)"
    assert [a.kind for a in await setup.runs.artifacts(run_id)] == ["screenshot"]
