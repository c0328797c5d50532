"""The benchmarks' profile summary (bench/profiling.py) reads py-spy's raw output as py-spy writes it."""

from __future__ import annotations

from pathlib import Path

from bench.profiling import shares, shorten, summary_table

COLLAPSED = """\
process 4242:"python -m reprise.cli worker";run (/v/lib/python3.11/asyncio/runners.py:118);\
_run_once (/v/lib/python3.11/asyncio/base_events.py:1922);send (/v/lib/python3.11/site-packages/playwright/_impl/\
_connection.py:63) 30
run (/v/lib/python3.11/asyncio/runners.py:118);_run_once (/v/lib/python3.11/asyncio/base_events.py:1922) 50
run (/v/lib/python3.11/asyncio/runners.py:118);dumps (/work/main/worker/progress.py:40) 20
not a sample line
"""


def test_self_and_total_shares_of_the_busy_samples() -> None:
    samples, found = shares(COLLAPSED)
    assert samples == 100
    by_name = {share.function: share for share in found}
    assert set(by_name) == {"send (playwright/_impl/_connection.py)", "_run_once (asyncio/base_events.py)",
                            "dumps (worker/progress.py)"}
    assert (by_name["_run_once (asyncio/base_events.py)"].self_pct,
            by_name["_run_once (asyncio/base_events.py)"].total_pct) == (50.0, 80.0)
    assert by_name["send (playwright/_impl/_connection.py)"].self_pct == 30.0


def test_the_table_ranks_by_self_time(tmp_path: Path) -> None:
    path = tmp_path / "worker.txt"
    path.write_text(COLLAPSED)
    rows = [line for line in summary_table(path).splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == ["_run_once (asyncio/base_events.py)",
                                                   "send (playwright/_impl/_connection.py)",
                                                   "dumps (worker/progress.py)"]
    assert shorten("f (/x/site-packages/bullmq/worker.py:12)") == "f (bullmq/worker.py)"
