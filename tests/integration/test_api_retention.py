"""What the API shows after retention (in-process, real Postgres and a real store): a removed artifact stays
listed with `removedAt` and no URL, its download answers 410 naming the date; `GET /api/stats/storage` sums a
known set of artifacts by kind, run status and day, and reports the last pass's bytes freed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from contract.retention import RetentionPolicy
from contract.runs import RunStatus
from contract.settings import Settings
from storage import ArtifactStore, Retention, RunRepository, create_pool, open_artifact_store

from services import api_client_for
from stored_runs import StoredRun, age_run, store_run


@dataclass
class Stores:
    settings: Settings
    pool: asyncpg.Pool
    store: ArtifactStore
    runs: RunRepository
    scratch: Path

    async def run(self, status: RunStatus, artifacts: list[tuple[str, int]], age_days: float = 0,
                  runs: RunRepository | None = None) -> StoredRun:
        stored = await store_run(runs or self.runs, self.store, self.scratch, status, artifacts)
        if age_days:
            await age_run(self.settings.database_url, stored.id, age_days)
        return stored

    async def retention_pass(self, **rules: float) -> int:
        settings = self.settings.model_copy(update={f"retention_{name}": days for name, days in rules.items()})
        retention = Retention(self.pool, self.store, queue=self.settings.queue_name,
                              policy=RetentionPolicy.from_settings(settings))
        return (await retention.run_pass(worker="tester")).bytes_freed


@pytest.fixture
async def stores(settings: Settings, tmp_path: Path) -> AsyncIterator[Stores]:
    pool = await create_pool(settings.database_url)
    try:
        async with open_artifact_store(settings) as store:
            yield Stores(settings, pool, store, RunRepository(pool, queue=settings.queue_name), tmp_path)
    finally:
        await pool.close()


async def test_a_removed_artifact_stays_listed_without_a_url_and_its_download_is_gone(
    stores: Stores, api_client: httpx.AsyncClient,
) -> None:
    stored = await stores.run(RunStatus.PASSED, [("video", 5000), ("screenshot", 200), ("screenshot", 300)], 10)
    assert await stores.retention_pass(video_passed_days=7) == 5000
    [video] = stored.of_kind("video")

    run = (await api_client.get(f"/api/runs/{stored.id}")).json()

    listed = {artifact["id"]: artifact for artifact in run["artifacts"]}
    assert set(listed) == {artifact.id for artifact in stored.artifacts}  # nothing disappeared from the list
    removed = listed[video.id]
    assert removed["url"] is None and removed["removedBy"] == "retention" and removed["sizeBytes"] == 5000
    removed_at = datetime.fromisoformat(removed["removedAt"])
    assert abs((removed_at - datetime.now(UTC)).total_seconds()) < 60
    assert run["videoUrl"] is None and run["videoRemovedAt"] == removed["removedAt"]
    screenshots = [listed[a.id] for a in stored.of_kind("screenshot")]
    assert all(s["url"] and s["removedAt"] is None for s in screenshots)
    assert run["screenshotUrls"] == [s["url"] for s in screenshots]

    gone = await api_client.get(f"/api/runs/{stored.id}/artifacts/{video.id}", headers={"Range": "bytes=0-99"})
    assert gone.status_code == 410, gone.text
    body = gone.json()
    assert body["error"] == "gone" and body["removedAt"] == removed_at.isoformat()
    assert f"removed by retention on {removed_at.date().isoformat()}" in body["message"]
    kept = await api_client.get(screenshots[0]["url"])
    assert kept.status_code == 200 and len(kept.content) == 200


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


async def test_storage_stats_sum_a_known_set_of_artifacts(stores: Stores, settings: Settings) -> None:
    other_queue = RunRepository(stores.pool, queue=f"{settings.queue_name}-other")
    await stores.run(RunStatus.PASSED, [("video", 7777)], runs=other_queue)  # never counted here
    passed_old = await stores.run(RunStatus.PASSED, [("video", 1000), ("screenshot", 200)], 10)
    passed = await stores.run(RunStatus.PASSED, [("video", 1100), ("screenshot", 210), ("screenshot", 220)], 3)
    failed = await stores.run(RunStatus.FAILED, [("video", 3000), ("trace", 500), ("console", 50)])
    error = await stores.run(RunStatus.ERROR, [("har", 700)])
    # The 10-day-old passed run's video (1000 bytes) and screenshot (200) expire, and nothing else.
    assert await stores.retention_pass(video_passed_days=5, screenshots_passed_days=5) == 1200
    # A second pass takes the 3-day-old passed run's video and screenshots (0 days); it stays the last pass,
    # whatever dry runs come after.
    assert await stores.retention_pass(video_passed_days=0, screenshots_passed_days=0) == 1100 + 210 + 220
    await Retention(stores.pool, stores.store, queue=settings.queue_name,
                    policy=RetentionPolicy.from_settings(settings.model_copy(
                        update={"retention_video_failed_days": 0.0}))).run_pass(worker="dry", dry_run=True)

    before = datetime.now(UTC).date()
    async with api_client_for(settings) as client:
        response = await client.get("/api/stats/storage")
    after = datetime.now(UTC).date()
    assert response.status_code == 200, response.text
    stats = response.json()

    still_there = {"failed": [3000, 500, 50], "error": [700]}
    assert stats["queue"] == settings.queue_name
    assert stats["total"] == {"count": 4, "bytes": 4250}
    assert stats["byKind"] == {"video": {"count": 1, "bytes": 3000}, "trace": {"count": 1, "bytes": 500},
                               "console": {"count": 1, "bytes": 50}, "har": {"count": 1, "bytes": 700}}
    assert stats["byStatus"] == {status: {"count": len(sizes), "bytes": sum(sizes)}
                                 for status, sizes in still_there.items()}
    assert {(row["kind"], row["status"]): (row["count"], row["bytes"]) for row in stats["byKindAndStatus"]} == {
        ("video", "failed"): (1, 3000), ("trace", "failed"): (1, 500), ("console", "failed"): (1, 50),
        ("har", "error"): (1, 700)}

    # Growth: what was stored each UTC day of the last week (removed since or not), every day present.
    growth = stats["growth"]
    days = [date.fromisoformat(day["day"]) for day in growth]
    assert len(days) == 7 and days[-1] in (before, after)
    assert days == [days[-1] - timedelta(days=6 - i) for i in range(7)]
    expected: dict[date, list[int]] = {}
    for stored in (passed_old, passed, failed, error):
        for artifact in await stores.runs.artifacts(stored.id):
            expected.setdefault(utc_day(artifact.created_at), []).append(artifact.size_bytes)
    for day in growth:
        sizes = expected.get(date.fromisoformat(day["day"]), [])
        assert (day["count"], day["bytes"]) == (len(sizes), sum(sizes)), (day, expected)
    assert sum(day["bytes"] for day in growth) == 1100 + 210 + 220 + 3000 + 500 + 50 + 700  # not the 10-day-old

    last = stats["lastPass"]
    assert last["bytesFreed"] == 1100 + 210 + 220 and last["artifactsRemoved"] == 3 and not last["dryRun"]
    assert last["worker"] == "tester" and last["error"] is None and last["runsRemoved"] == 0
