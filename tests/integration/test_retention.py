"""Retention passes on real Postgres and a real store, a local folder and S3 (moto) alike: runs aged in the
database lose exactly what their rules say, objects and rows; `reprise cleanup --dry-run` deletes nothing;
two passes at once delete each object once; a store that fails leaves the rows for the next pass."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest

from contract.retention import ArtifactGroup, RetentionPolicy, Verdict, group_of
from contract.runs import RunStatus
from contract.settings import Settings
from storage import (
    ArtifactContent,
    ArtifactRecord,
    ArtifactStore,
    ArtifactStoreError,
    ByteRange,
    Retention,
    RunNotFound,
    RunRepository,
    StoredFile,
    create_pool,
    open_artifact_store,
)
from storage.s3_artifacts import S3ArtifactStore

from s3_server import Bucket, TcpProxy, object_keys
from services import REPO_ROOT, worker_env
from stored_runs import StoredRun, age_run, passes, store_run

RULES = {
    "RETENTION_VIDEO_PASSED_DAYS": "7",
    "RETENTION_VIDEO_FAILED_DAYS": "30",
    "RETENTION_SCREENSHOTS_PASSED_DAYS": "1",
    "RETENTION_SCREENSHOTS_FAILED_DAYS": "14",
    "RETENTION_DEBUG_FAILED_DAYS": "14",
    "RETENTION_RUNS_DAYS": "90",
}


def with_rules(settings: Settings, **extra: str) -> Settings:
    return settings.model_copy(update=Settings(**{**RULES, **extra}).model_dump(  # type: ignore[arg-type]
        include={name for name in Settings.model_fields if name.startswith("retention_")}))


@pytest.fixture(params=["local", "s3"])
def backend_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The test's settings with the rules above, on the local folders or on a fresh S3 bucket."""
    chosen = with_rules(settings)
    if request.param == "s3":
        bucket: Bucket = request.getfixturevalue("s3_bucket")
        chosen = chosen.model_copy(update={"artifact_store_url": bucket.url("kept"),
                                           "s3_endpoint_url": bucket.endpoint})
    return chosen


@dataclass
class World:
    settings: Settings
    pool: asyncpg.Pool
    store: ArtifactStore
    runs: RunRepository
    scratch: Path

    async def run(self, status: RunStatus, artifacts: list[tuple[str, int]], age_days: float) -> StoredRun:
        stored = await store_run(self.runs, self.store, self.scratch, status, artifacts)
        await age_run(self.settings.database_url, stored.id, age_days)
        return stored

    def retention(self, *, batch_size: int = 2, store: ArtifactStore | None = None) -> Retention:
        return Retention(self.pool, store or self.store, queue=self.settings.queue_name,
                         policy=RetentionPolicy.from_settings(self.settings), batch_size=batch_size)


@pytest.fixture
async def world(backend_settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    pool = await create_pool(backend_settings.database_url)
    try:
        async with open_artifact_store(backend_settings) as store:
            yield World(backend_settings, pool, store,
                        RunRepository(pool, queue=backend_settings.queue_name), scratch)
    finally:
        await pool.close()


async def fleet(world: World) -> dict[str, StoredRun]:
    """Runs of every outcome and age, with sizes all different so byte sums tell them apart."""
    sizes = iter(range(1000, 100_000, 137))

    def files(*kinds: str) -> list[tuple[str, int]]:
        return [(kind, next(sizes)) for kind in kinds]

    return {
        "passed-10d": await world.run(RunStatus.PASSED, files("video", "screenshot", "screenshot", "trace"), 10),
        "failed-10d": await world.run(RunStatus.FAILED, files("video", "screenshot", "trace", "console"), 10),
        "failed-20d": await world.run(RunStatus.FAILED, files("video", "screenshot", "har", "html"), 20),
        "error-40d": await world.run(RunStatus.ERROR, files("video", "screenshot", "console"), 40),
        "passed-2d": await world.run(RunStatus.PASSED, files("video", "screenshot"), 2),
        "passed-100d": await world.run(RunStatus.PASSED, files("video", "screenshot", "trace"), 100),
        "cancelled-95d": await world.run(RunStatus.CANCELLED, files("screenshot"), 95),
        "requeued": await world.run(RunStatus.QUEUED, files("video", "screenshot"), 200),  # not final: no age
    }


async def database_now(pool: asyncpg.Pool) -> datetime:
    now: datetime = await pool.fetchval("SELECT now()")
    return now


async def expected_verdicts(world: World, runs: dict[str, StoredRun]) -> dict[int, tuple[ArtifactRecord, Verdict]]:
    """Every artifact with what the policy (the pure value) says a pass now does with it."""
    policy = RetentionPolicy.from_settings(world.settings)
    now = await database_now(world.pool)
    verdicts = {}
    for stored in runs.values():
        run = await world.runs.get(stored.id)
        for artifact in stored.artifacts:
            verdicts[artifact.id] = (artifact, policy.decide(artifact.kind, run.status, run.finished_at, now))
    return verdicts


async def present(store: ArtifactStore, artifacts: Sequence[ArtifactRecord]) -> set[str]:
    return {artifact.storage_key for artifact in artifacts if await store.exists(artifact.storage_key)}


async def test_a_pass_removes_exactly_what_the_rules_say(world: World) -> None:
    runs = await fleet(world)
    verdicts = await expected_verdicts(world, runs)
    # The rules, spelled out once for the main cases (the policy's unit tests cover the rest):
    by_id = {artifact.id: verdict for artifact, verdict in verdicts.values()}
    assert by_id[runs["passed-10d"].of_kind("video")[0].id] == Verdict.REMOVE_ARTIFACT  # older passed video goes
    assert by_id[runs["failed-10d"].of_kind("video")[0].id] == Verdict.KEEP  # failed video within its 30 days
    assert by_id[runs["passed-10d"].of_kind("trace")[0].id] == Verdict.KEEP  # no rule for passed debug files
    assert by_id[runs["failed-20d"].of_kind("har")[0].id] == Verdict.REMOVE_ARTIFACT
    assert by_id[runs["passed-100d"].of_kind("trace")[0].id] == Verdict.REMOVE_RUN
    other_queue = RunRepository(world.pool, queue=f"{world.settings.queue_name}-other")
    elsewhere = await store_run(other_queue, world.store, world.scratch, RunStatus.PASSED, [("video", 500)])
    await age_run(world.settings.database_url, elsewhere.id, 365)

    report = await world.retention().run_pass(worker="tester")

    removed = [a for a, verdict in verdicts.values() if verdict == Verdict.REMOVE_ARTIFACT]
    gone_with_runs = [a for a, verdict in verdicts.values() if verdict == Verdict.REMOVE_RUN]
    kept = [a for a, verdict in verdicts.values() if verdict == Verdict.KEEP]
    assert len(removed) == 10 and len(gone_with_runs) == 4 and len(kept) == 9
    # The objects: gone from the folder or bucket exactly for what expired.
    assert await present(world.store, removed + gone_with_runs) == set()
    assert await present(world.store, kept) == {a.storage_key for a in kept}
    assert await world.store.exists(elsewhere.artifacts[0].storage_key)  # another queue's run is not ours
    if not world.settings.artifact_store_url:  # a local folder keeps no empty folders of removed runs
        for root in (world.settings.video_storage_path, world.settings.screenshot_storage_path,
                     world.settings.artifact_storage_path):
            assert not (root / str(runs["passed-100d"].id)).exists()
        assert (world.settings.artifact_storage_path / str(runs["passed-10d"].id)).is_dir()  # its trace is kept
    # The rows: expired artifacts stay listed, marked removed; the old runs are gone with their rows.
    for name, stored in runs.items():
        if name in ("passed-100d", "cancelled-95d"):
            with pytest.raises(RunNotFound):
                await world.runs.get(stored.id)
            assert await world.runs.artifacts(stored.id) == []
            continue
        for artifact in await world.runs.artifacts(stored.id):
            verdict = verdicts[artifact.id][1]
            assert artifact.removed == (verdict == Verdict.REMOVE_ARTIFACT), (name, artifact.kind, verdict)
            assert artifact.removed_by == ("retention" if artifact.removed else None)
    # The report and the pass's record say the same.
    groups = Counter(group_of(a.kind) for a in removed + gone_with_runs)
    assert report.runs_removed == 2 and report.artifacts_removed == 14
    assert report.bytes_freed == sum(a.size_bytes for a in removed + gone_with_runs)
    assert {group: tally.artifacts for group, tally in report.groups.items()} == {
        ArtifactGroup.VIDEO: groups[ArtifactGroup.VIDEO], ArtifactGroup.SCREENSHOTS: groups[ArtifactGroup.SCREENSHOTS],
        ArtifactGroup.DEBUG: groups[ArtifactGroup.DEBUG]}
    [record] = await passes(world.settings.database_url, world.settings.queue_name)
    assert (record["worker"], record["dry_run"], record["error"]) == ("tester", False, None)
    assert record["finished_at"] is not None and record["finished_at"] >= record["started_at"]
    assert (record["artifacts_removed"], record["runs_removed"], record["bytes_freed"]) == (14, 2, report.bytes_freed)
    assert json.loads(record["groups"]) == report.groups_json()

    # A second pass finds nothing left to do.
    again = await world.retention().run_pass(worker="tester")
    assert (again.artifacts_removed, again.runs_removed, again.bytes_freed) == (0, 0, 0)


async def objects_now(world: World, bucket_or_root: Bucket | Path) -> dict[str, int]:
    if isinstance(bucket_or_root, Bucket):
        return await object_keys(bucket_or_root)
    return {str(path.relative_to(bucket_or_root)): path.stat().st_size
            for path in bucket_or_root.rglob("*") if path.is_file()}


def cleanup(settings: Settings, *flags: str) -> subprocess.CompletedProcess[str]:
    env = worker_env(settings, "cleanup", **RULES)
    if settings.artifact_store_url:
        env |= {"ARTIFACT_STORE_URL": settings.artifact_store_url, "S3_ENDPOINT_URL": settings.s3_endpoint_url or ""}
    return subprocess.run([sys.executable, "-m", "reprise.cli", "cleanup", *flags], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


async def test_cleanup_dry_run_prints_what_would_go_and_deletes_nothing(
    world: World, request: pytest.FixtureRequest, tmp_path: Path,
) -> None:
    runs = await fleet(world)
    verdicts = await expected_verdicts(world, runs)
    going = [a for a, verdict in verdicts.values() if verdict != Verdict.KEEP]
    where: Bucket | Path = (request.getfixturevalue("s3_bucket") if world.settings.artifact_store_url else tmp_path)
    before = await objects_now(world, where)
    rows_before = await world.pool.fetch("SELECT id, removed_at FROM run_artifacts ORDER BY id")

    completed = await asyncio.to_thread(cleanup, world.settings, "--dry-run")

    assert completed.returncode == 0, completed.stderr[-3000:]
    out = completed.stdout
    group_counts = Counter(group_of(a.kind) for a in going)
    group_bytes = Counter[ArtifactGroup | None]()
    for artifact in going:
        group_bytes[group_of(artifact.kind)] += artifact.size_bytes
    for group in ArtifactGroup:
        assert re.search(rf"^\s*{group.value}: {group_counts[group]} artifact\(s\), {group_bytes[group]} bytes",
                         out, re.MULTILINE), out
    assert re.search(r"^\s*runs: 2\b", out, re.MULTILINE), out
    total = sum(a.size_bytes for a in going)
    assert f"would free {total} bytes" in out and "dry run: nothing was deleted" in out, out
    # Nothing changed: every object, every row.
    assert await objects_now(world, where) == before
    assert await world.pool.fetch("SELECT id, removed_at FROM run_artifacts ORDER BY id") == rows_before
    for stored in runs.values():
        await world.runs.get(stored.id)
    [record] = await passes(world.settings.database_url, world.settings.queue_name)
    assert record["dry_run"] and record["bytes_freed"] == total and record["artifacts_removed"] == len(going)

    # The real pass then removes exactly what the dry run announced.
    completed = await asyncio.to_thread(cleanup, world.settings)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert f"freed {total} bytes" in completed.stdout, completed.stdout
    assert await present(world.store, going) == set()


class CountingStore(ArtifactStore):
    """The real store, counting every key it is asked to delete; the first delete of each pass waits at a
    barrier until the other pass is deleting too, so both hold a claimed batch at once."""

    kind = "counting"

    def __init__(self, inner: ArtifactStore, barrier: asyncio.Barrier) -> None:
        self.inner = inner
        self.deleted: Counter[str] = Counter()
        self._barrier: asyncio.Barrier | None = barrier

    async def delete(self, keys: Sequence[str]) -> None:
        self.deleted.update(keys)
        if self._barrier is not None:
            barrier, self._barrier = self._barrier, None
            async with asyncio.timeout(30):  # the other pass must get a batch while this one holds its own
                await barrier.wait()
        await self.inner.delete(keys)

    async def put(self, source: Path, key: str, content_type: str) -> StoredFile:
        return await self.inner.put(source, key, content_type)

    async def read(self, key: str, byte_range: ByteRange | None = None) -> ArtifactContent:
        return await self.inner.read(key, byte_range)

    async def exists(self, key: str) -> bool:
        return await self.inner.exists(key)

    async def check(self) -> None:
        await self.inner.check()


async def test_two_passes_at_once_delete_each_object_once(world: World) -> None:
    runs = [await world.run(RunStatus.PASSED, [("video", 700 + i), ("screenshot", 300 + i)], 100)
            for i in range(6)]  # past RETENTION_RUNS_DAYS: removed whole
    runs += [await world.run(RunStatus.ERROR, [("video", 900 + i), ("console", 50 + i), ("trace", 80 + i)], 40)
             for i in range(8)]  # every artifact past its rule
    runs += [await world.run(RunStatus.FAILED, [("video", 100 + i)], 3) for i in range(3)]  # kept
    verdicts = await expected_verdicts(world, {str(i): run for i, run in enumerate(runs)})
    expired = {a.storage_key: a.size_bytes for a, verdict in verdicts.values() if verdict != Verdict.KEEP}
    assert len(expired) == 12 + 24

    barrier = asyncio.Barrier(2)
    stores = [CountingStore(world.store, barrier), CountingStore(world.store, barrier)]
    other_pool = await create_pool(world.settings.database_url)
    try:
        first = Retention(world.pool, stores[0], queue=world.settings.queue_name,
                          policy=RetentionPolicy.from_settings(world.settings), batch_size=3)
        second = Retention(other_pool, stores[1], queue=world.settings.queue_name,
                           policy=RetentionPolicy.from_settings(world.settings), batch_size=3)
        reports = await asyncio.gather(first.run_pass(worker="worker-a"), second.run_pass(worker="worker-b"))
    finally:
        await other_pool.close()

    deleted = stores[0].deleted + stores[1].deleted
    assert set(deleted) == set(expired) and set(deleted.values()) == {1}, deleted.most_common(3)
    assert all(store.deleted for store in stores)  # both passes took a share
    records = await passes(world.settings.database_url, world.settings.queue_name)
    assert sorted(record["worker"] for record in records) == ["worker-a", "worker-b"]
    assert sum(record["artifacts_removed"] for record in records) == len(expired)
    assert sum(record["runs_removed"] for record in records) == 6
    assert sum(record["bytes_freed"] for record in records) == sum(expired.values())
    # Each pass's report is its own record (the two passes end in either order: matched by worker).
    assert {"worker-a": reports[0].artifacts_removed, "worker-b": reports[1].artifacts_removed} == {
        record["worker"]: record["artifacts_removed"] for record in records}
    assert await present(world.store, [a for a, _ in verdicts.values() if a.storage_key in expired]) == set()


async def test_a_store_that_fails_leaves_the_rows_for_the_next_pass(
    settings: Settings, s3_bucket: Bucket, s3_proxy: TcpProxy, tmp_path: Path,
) -> None:
    chosen = with_rules(settings).model_copy(update={"artifact_store_url": s3_bucket.url("kept"),
                                                     "s3_endpoint_url": s3_bucket.endpoint})
    pool = await create_pool(chosen.database_url)
    try:
        async with open_artifact_store(chosen) as direct:
            world = World(chosen, pool, direct, RunRepository(pool, queue=chosen.queue_name), tmp_path)
            stored = await world.run(RunStatus.PASSED, [("video", 4000), ("screenshot", 300)], 10)
            objects = await object_keys(s3_bucket)
            async with open_artifact_store(chosen.model_copy(update={"s3_endpoint_url": s3_proxy.url})) as proxied:
                assert isinstance(proxied, S3ArtifactStore)
                s3_proxy.cut()
                with pytest.raises(ArtifactStoreError):
                    await world.retention(store=proxied).run_pass(worker="tester")
                # Nothing marked, nothing deleted; the pass says why it stopped.
                assert not any(a.removed for a in await world.runs.artifacts(stored.id))
                assert await object_keys(s3_bucket) == objects
                [failed] = await passes(chosen.database_url, chosen.queue_name)
                assert failed["error"] and "ArtifactStoreError" in failed["error"]
                assert (failed["artifacts_removed"], failed["bytes_freed"]) == (0, 0)

                s3_proxy.restore()
                report = await world.retention(store=proxied).run_pass(worker="tester")
            assert report.artifacts_removed == 2 and report.bytes_freed == 4300
            assert all(a.removed for a in await world.runs.artifacts(stored.id))
            assert await object_keys(s3_bucket) == {}
    finally:
        await pool.close()


async def test_cleanup_exits_3_in_one_line_when_the_store_refuses(
    settings: Settings, s3_bucket: Bucket, tmp_path: Path,
) -> None:
    chosen = with_rules(settings).model_copy(update={"artifact_store_url": s3_bucket.url("kept"),
                                                     "s3_endpoint_url": s3_bucket.endpoint})
    pool = await create_pool(chosen.database_url)
    try:
        async with open_artifact_store(chosen) as store:
            world = World(chosen, pool, store, RunRepository(pool, queue=chosen.queue_name), tmp_path)
            stored = await world.run(RunStatus.PASSED, [("video", 100)], 10)
    finally:
        await pool.close()
    elsewhere = chosen.model_copy(update={"artifact_store_url": f"s3://no-such-bucket-{s3_bucket.name}/kept"})

    completed = await asyncio.to_thread(cleanup, elsewhere)

    assert completed.returncode == 3, (completed.stdout, completed.stderr[-3000:])
    assert "reprise cleanup: the artifact store failed" in completed.stderr and "NoSuchBucket" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert set(await object_keys(s3_bucket)) == {f"kept/{stored.artifacts[0].storage_key}"}
    [record] = await passes(chosen.database_url, chosen.queue_name)
    assert record["error"] and record["finished_at"] and record["artifacts_removed"] == 0
