"""How fast the dashboard's run list answers with a million runs: first page, a page deep in the list by
keyset (`before`) and by offset, and the filters (status, worker, name, search).

    .venv/bin/python bench/list_runs.py [--runs 1000000] [--database-url postgresql://postgres@127.0.0.1:5432/reprise_bench]

Creates (or reuses, when it already holds that many runs) the database, fills it with generated runs, and
prints the median and 95th percentile of 30 calls of `RunRepository.list_page` per case.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from contract.runs import RunStatus
from storage import RunFilters, RunRepository, create_pool, migrate

from timing import measure

FILL = """
INSERT INTO runs (queue, id, name, script_format, script, options, status, attempts, worker_name, error,
                  created_at, started_at, finished_at, duration_ms)
SELECT 'test-runs', gen_random_uuid(),
       (ARRAY['checkout', 'login', 'search', 'sign-up', 'profile'])[1 + i % 5] || ' flow ' || (i % 997),
       'native', '{"version": 1, "steps": []}'::jsonb, '{}'::jsonb,
       (CASE WHEN i % 1000 = 0 THEN 'error' WHEN i % 10 = 0 THEN 'failed' ELSE 'passed' END)::run_status,
       1, 'worker-' || (i % 20),
       CASE WHEN i % 10 = 0 THEN 'step 3 (click) [selector_not_found]: no element matched "#buy-' || i || '"' END,
       now() - make_interval(secs => ($1 - i) * 3), now() - make_interval(secs => ($1 - i) * 3),
       now() - make_interval(secs => ($1 - i) * 3 - 2), 2000
FROM generate_series(1, $1) AS i
"""


async def ensure_database(url: str, runs: int) -> None:
    base, _, name = url.rpartition("/")
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await migrate(url)
    connection = await asyncpg.connect(url)
    try:
        have = await connection.fetchval("SELECT count(*) FROM runs")
        if have != runs:
            print(f"filling {runs} runs (have {have}) ...", flush=True)
            started = time.monotonic()
            await connection.execute("ALTER TABLE runs DISABLE TRIGGER runs_notify")
            await connection.execute("TRUNCATE runs CASCADE")
            await connection.execute(FILL, runs)
            await connection.execute("ALTER TABLE runs ENABLE TRIGGER runs_notify")
            await connection.execute("VACUUM ANALYZE runs")
            print(f"filled in {time.monotonic() - started:.0f} s", flush=True)
    finally:
        await connection.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/reprise_bench")
    args = parser.parse_args()
    await ensure_database(args.database_url, args.runs)
    pool = await create_pool(args.database_url)
    runs = RunRepository(pool, queue="test-runs")
    try:
        deep = args.runs // 2
        cases: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("first page, no filter (with exact total)", lambda: runs.list_page(limit=50)),
            (f"page at run {deep} by keyset (before=)", lambda: runs.list_page(limit=50, before=deep)),
            (f"page at run {deep} by offset", lambda: runs.list_page(limit=50, offset=args.runs - deep)),
            ("status=failed, keyset page", lambda: runs.list_page(
                limit=50, before=deep, filters=RunFilters(status=RunStatus.FAILED))),
            ("status=error (0.1 %), keyset page", lambda: runs.list_page(
                limit=50, before=deep, filters=RunFilters(status=RunStatus.ERROR))),
            ("worker=worker-7, keyset page", lambda: runs.list_page(
                limit=50, before=deep, filters=RunFilters(worker="worker-7"))),
            ("name contains 'login flow 42', keyset page", lambda: runs.list_page(
                limit=50, before=deep, filters=RunFilters(name="login flow 42"))),
            ("search '#buy-4242' (name or error), keyset page", lambda: runs.list_page(
                limit=50, before=args.runs, filters=RunFilters(search="#buy-4242"))),
        ]
        print(f"\n{args.runs} runs; 50 per page; 30 calls each\n")
        print("| case | median ms | p95 ms |\n| --- | ---: | ---: |")
        for title, call in cases:
            median, p95 = await measure(call, repeat=30)
            print(f"| {title} | {median:.1f} | {p95:.1f} |", flush=True)
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
