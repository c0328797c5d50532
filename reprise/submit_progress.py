"""Live progress of `reprise submit --wait`: in a terminal, a bar per run (steps done of total, status) redrawn
in place; elsewhere (a CI log), a plain line each time a run's status or step count changes."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TextIO

from contract.runs import StepStatus
from reprise.submit_api import RemoteRun
from reprise.submit_results import StepOutline

BAR_WIDTH = 24
NAME_WIDTH = 32


@dataclass(frozen=True)
class RunProgress:
    """One run as the display shows it: its latest state and its recording's steps, when known."""

    run: RemoteRun
    outline: StepOutline | None = None

    @property
    def done(self) -> int:
        """Steps the latest attempt replayed (passed or failed; skipped ones were not)."""
        return sum(1 for step in self.run.steps if step.status != StepStatus.SKIPPED)

    @property
    def total(self) -> int | None:
        """The recording's steps; a final run's own count when the recording's is not known."""
        if self.outline is not None:
            return max(len(self.outline), self.done)
        return len(self.run.steps) if self.run.final and self.run.steps else None

    def counter(self) -> str:
        total = self.total
        return f"{self.done}/{total}" if total is not None else f"{self.done}/?"


def _name(run: RemoteRun, width: int = NAME_WIDTH) -> str:
    label = f"#{run.number} {run.name}"
    return label if len(label) <= width else label[:width - 1] + "…"


class Progress(Protocol):
    def update(self, runs: Sequence[RunProgress]) -> None: ...

    def close(self) -> None: ...


class LineProgress:
    """A line per change: `#12 checkout: running, step 3/7`."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._shown: dict[object, tuple[str, int]] = {}

    def update(self, runs: Sequence[RunProgress]) -> None:
        for item in runs:
            state = (item.run.status.value, item.done)
            if self._shown.get(item.run.id) == state:
                continue
            self._shown[item.run.id] = state
            self._out.write(f"{_name(item.run, 200)}: {item.run.status}, step {item.counter()}\n")
        self._out.flush()

    def close(self) -> None:
        self._out.flush()


class BarProgress:
    """A bar per run, the block redrawn in place: the cursor goes back up to its first line, and each line is
    written again from its start (`\\r`, cleared to its end)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lines = 0
        self._last: list[str] = []

    def _line(self, item: RunProgress, columns: int) -> str:
        total = item.total
        filled = BAR_WIDTH if item.run.final and item.run.status == "passed" else (
            min(BAR_WIDTH, item.done * BAR_WIDTH // total) if total else 0)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        line = f"{_name(item.run):<{NAME_WIDTH}} [{bar}] {item.counter():>7}  {item.run.status}"
        return line[:max(columns - 1, 20)]

    def update(self, runs: Sequence[RunProgress]) -> None:
        columns = shutil.get_terminal_size((100, 24)).columns
        lines = [self._line(item, columns) for item in runs]
        if lines == self._last:
            return
        parts = [f"\x1b[{self._lines}A"] if self._lines else []
        parts += [f"\r\x1b[2K{line}\n" for line in lines]
        self._out.write("".join(parts))
        self._out.flush()
        self._lines = len(lines)
        self._last = lines

    def close(self) -> None:
        self._out.flush()


def progress_for(out: TextIO) -> Progress:
    """Bars in a terminal, plain lines otherwise."""
    return BarProgress(out) if out.isatty() else LineProgress(out)
