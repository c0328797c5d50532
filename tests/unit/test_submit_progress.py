"""The live progress of `reprise submit --wait`: bars redrawn in place in a terminal, a line per change in a log."""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

import pytest

from reprise.submit_api import RemoteRun
from reprise.submit_progress import BarProgress, LineProgress, RunProgress, progress_for

RUN_IDS = [str(uuid.uuid4()) for _ in range(2)]


def state(which: int, status: str, done: int, total: int | None = 4, *, failed: bool = False) -> RunProgress:
    steps: list[dict[str, Any]] = [{"index": i, "type": "click", "status": "passed", "durationMs": 1}
                                   for i in range(done)]
    if failed:
        steps[-1]["status"] = "failed"
        steps.append({"index": done, "type": "click", "status": "skipped", "durationMs": 0})
    run = RemoteRun.model_validate({"id": RUN_IDS[which], "number": 10 + which, "name": f"flow {which}",
                                    "status": status, "url": "http://x/api/runs/1", "steps": steps})
    return RunProgress(run, (None,) * total if total is not None else None)


def test_plain_lines_one_per_change() -> None:
    out = io.StringIO()
    progress = LineProgress(out)
    progress.update([state(0, "queued", 0), state(1, "queued", 0, None)])
    progress.update([state(0, "running", 1), state(1, "queued", 0, None)])
    progress.update([state(0, "running", 1), state(1, "queued", 0, None)])  # nothing changed
    progress.update([state(0, "failed", 2, failed=True), state(1, "passed", 3, None)])
    assert out.getvalue().splitlines() == [
        "#10 flow 0: queued, step 0/4",
        "#11 flow 1: queued, step 0/?",
        "#10 flow 0: running, step 1/4",
        "#10 flow 0: failed, step 2/4",
        "#11 flow 1: passed, step 3/3",  # a final run's own step count when its recording's is unknown
    ]
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_bars_are_redrawn_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    out = io.StringIO()
    progress = BarProgress(out)
    progress.update([state(0, "running", 1), state(1, "queued", 0)])
    first = out.getvalue()
    progress.update([state(0, "running", 1), state(1, "queued", 0)])
    assert out.getvalue() == first  # nothing changed, nothing drawn
    progress.update([state(0, "running", 2), state(1, "passed", 4)])
    second = out.getvalue()[len(first):]

    assert first == (f"\r\x1b[2K{'#10 flow 0':<32} [######------------------]     1/4  running\n"
                     f"\r\x1b[2K{'#11 flow 1':<32} [------------------------]     0/4  queued\n")
    assert second.startswith("\x1b[2A\r\x1b[2K")  # back up two lines, then each line again from its start
    assert re.findall(r"\[([#-]+)\] +(\d/\d)  (\w+)", second) == [
        ("############------------", "2/4", "running"), ("#" * 24, "4/4", "passed")]


def test_a_terminal_gets_bars_and_anything_else_lines() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(progress_for(Terminal()), BarProgress)
    assert isinstance(progress_for(io.StringIO()), LineProgress)
