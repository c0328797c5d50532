"""Where a benchmarked process spends its time: py-spy attached to it (sampling, from outside), summarised.

    profiler = Profiler(folder)
    profiler.attach("worker", pid)      # py-spy record --pid PID --format raw (collapsed stacks)
    ...                                 # the measured work
    paths = profiler.stop()             # SIGINT: py-spy writes its samples
    print(summary_table(paths["worker"]))

py-spy samples only threads that are running Python (idle waits in the event loop are not counted), so the
table says where the process's busy time goes: each function's share of the busy samples as the function itself
(self) and with what it called (total).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 100  # per second: light beside the measured processes


class Profiler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._running: dict[str, subprocess.Popen[bytes]] = {}

    def attach(self, name: str, pid: int) -> None:
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.folder.mkdir(parents=True, exist_ok=True)
        self._running[name] = subprocess.Popen(
            [py_spy, "record", "--pid", str(pid), "--rate", str(SAMPLE_RATE), "--format", "raw", "--nonblocking",
             "--output", str(self.folder / f"{name}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> dict[str, Path]:
        """Stop every recording (py-spy writes its file on SIGINT); the files by name."""
        for process in self._running.values():
            process.send_signal(signal.SIGINT)
        for process in self._running.values():
            process.wait(timeout=60)
        paths = {name: self.folder / f"{name}.txt" for name in self._running}
        self._running.clear()
        return {name: path for name, path in paths.items() if path.exists()}


@dataclass(frozen=True)
class Share:
    function: str  # "name (file:line)" as py-spy prints it, the path shortened to the package
    self_pct: float
    total_pct: float


def shorten(frame: str) -> str:
    """`send (/…/site-packages/playwright/_impl/_connection.py:63)` -> `send (playwright/_impl/_connection.py)`."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/", "/tmp/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def shares(collapsed: str) -> tuple[int, list[Share]]:
    """Busy samples and each function's share, from py-spy's raw (collapsed) output: `frame;frame;... count`."""
    own: Counter[str] = Counter()
    within: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [shorten(frame) for frame in stack.split(";") if not frame.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            within[frame] += count
    if not samples:
        return 0, []
    return samples, [Share(function, 100 * own[function] / samples, 100 * within[function] / samples)
                     for function in own]


def summary_table(path: Path, top: int = 12) -> str:
    """The `top` functions by self time, as a Markdown table, and the modules' own share."""
    samples, found = shares(path.read_text(encoding="utf-8", errors="replace"))
    if not samples:
        return "(no busy samples)"
    lines = [f"{samples} busy samples at {SAMPLE_RATE}/s ({samples / SAMPLE_RATE:.1f} s of Python running).", "",
             "| function (self time) | self % | with callees % |", "| --- | ---: | ---: |"]
    for share in sorted(found, key=lambda share: -share.self_pct)[:top]:
        lines.append(f"| `{share.function}` | {share.self_pct:.1f} | {share.total_pct:.1f} |")
    by_package: dict[str, float] = {}
    for share in found:
        path_text = share.function.rsplit("(", 1)[-1].rstrip(")")
        package = path_text.split("/", 1)[0]
        by_package[package] = by_package.get(package, 0.0) + share.self_pct
    lines += ["", "Self time by top-level package or module: " + ", ".join(
        f"{package} {pct:.0f} %" for package, pct in sorted(by_package.items(), key=lambda item: -item[1])[:8]) + "."]
    return "\n".join(lines)
