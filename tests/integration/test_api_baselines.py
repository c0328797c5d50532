"""The visual baselines API on real Postgres, without a replay (the runs stored through the storage layer):
what is refused and how. Approving a real run's image is tests/integration/test_visual_compare.py and
tests/e2e/test_dashboard_visual.py."""

from __future__ import annotations

from uuid import uuid4

import httpx

from contract.runs import RunStatus
from contract.settings import Settings
from storage import RunRepository, create_pool

from stored_history import store_recording, store_recording_run


async def test_baselines_refuse_unknown_recordings_runs_without_a_recording_and_runs_without_an_image(
    api_client: httpx.AsyncClient, settings: Settings,
) -> None:
    pool = await create_pool(settings.database_url)
    try:
        runs = RunRepository(pool, queue=settings.queue_name)
        recording = await store_recording(pool, settings.queue_name, "visual")
        of_recording = await store_recording_run(runs, recording, RunStatus.PASSED, name="visual")
        loose = await store_recording_run(runs, None, RunStatus.PASSED, name="loose")
    finally:
        await pool.close()

    listed = await api_client.get(f"/api/recordings/{recording}/baselines")
    assert listed.status_code == 200 and listed.json() == {"recordingId": str(recording), "items": []}
    unknown = await api_client.get(f"/api/recordings/{uuid4()}/baselines")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    image = await api_client.get(f"/api/recordings/{recording}/baselines/1/image")
    assert image.status_code == 404 and "has no baseline 1" in image.json()["message"]

    no_recording = await api_client.post(f"/api/runs/{loose}/steps/0/approve-baseline")
    assert no_recording.status_code == 422
    assert no_recording.json()["fields"][0]["field"] == "run_id"
    assert "not made from a saved recording" in no_recording.json()["message"]
    no_image = await api_client.post(f"/api/runs/{of_recording}/steps/1/approve-baseline")
    assert no_image.status_code == 404
    assert no_image.json()["message"] == f"run {of_recording} has no compared image of step 2 to approve"
    no_run = await api_client.post(f"/api/runs/{uuid4()}/steps/0/approve-baseline")
    assert no_run.status_code == 404
    too_far = await api_client.post(f"/api/runs/{of_recording}/steps/1000/approve-baseline")
    assert too_far.status_code == 422 and "step_index" in too_far.text
