"""`reprise cleanup [--dry-run]`: one retention pass now, on QUEUE_NAME's runs, by the RETENTION_* settings
(the workers run the same pass once per RETENTION_INTERVAL_SECONDS across the fleet).

`--dry-run` deletes nothing and prints what would go. Exit 0 when the pass ended (nothing to do included),
2 invalid settings, 3 Postgres or the artifact store unreachable (or refusing) during the pass.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from typing import Any

from contract.retention import ArtifactGroup, RetentionPolicy
from contract.settings import Settings
from reprise.logs import configure_logging
from storage import Retention, RetentionReport, create_pool, migrate, open_artifact_store


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("cleanup", help="run one retention pass now (RETENTION_* settings)")
    parser.add_argument("--dry-run", action="store_true", help="delete nothing; print what would go")
    parser.set_defaults(handler=handle)


def _size(size: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def render(report: RetentionReport) -> str:
    """What the pass did (or, dry, would do), one group per line."""
    lines = [f"retention pass on queue {report.queue}"
             + (" (dry run: nothing was deleted)" if report.dry_run else "")]
    for group in ArtifactGroup:
        tally = report.groups[group]
        lines.append(f"  {group.value}: {tally.artifacts} artifact(s), {tally.bytes} bytes")
    lines.append(f"  runs: {report.runs_removed} (with their artifacts, counted above)")
    verb = "would free" if report.dry_run else "freed"
    lines.append(f"{verb} {report.bytes_freed} bytes ({_size(report.bytes_freed)}) "
                 f"in {report.artifacts_removed} artifact(s)")
    return "\n".join(lines)


async def _cleanup(settings: Settings, policy: RetentionPolicy, dry_run: bool) -> RetentionReport:
    await migrate(settings.database_url)
    pool = await create_pool(settings.database_url, max_size=2)
    try:
        async with open_artifact_store(settings) as store:
            retention = Retention(pool, store, queue=settings.queue_name, policy=policy)
            return await retention.run_pass(worker=f"reprise-cleanup@{socket.gethostname()}", dry_run=dry_run)
    finally:
        await pool.close()


def handle(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    policy = RetentionPolicy.from_settings(settings)
    if policy.is_empty:
        print("no retention rule is set (RETENTION_*_DAYS): everything is kept, nothing to do")
        return 0
    # A store that fails stops the pass (what it removed so far is recorded, the rest waits for the next
    # pass): reprise.cli turns the ArtifactStoreError into one line and exit 3.
    report = asyncio.run(_cleanup(settings, policy, args.dry_run))
    print(render(report))
    return 0
