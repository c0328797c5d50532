"""Resident memory of the worker and of the processes it started (Playwright's driver and Chromium with its
renderers, GPU and utility processes), read from /proc (Linux).

The children's figure is the sum of their resident set sizes: pages they share (Chromium's processes share
much of their code) count once per process, so it overstates what they take together; it moves with what they
take, which is what an alert needs. Reading it costs one small file per process on the machine (to find the
children), a few milliseconds per scrape.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class TreeMemory:
    own_bytes: int  # the process itself
    children_bytes: int  # every process below it
    children: int  # how many there are


def resident_bytes(pid: int, proc: Path = PROC) -> int:
    """The process's resident set size; 0 when it is gone (or /proc is not there)."""
    try:
        return int((proc / str(pid) / "statm").read_text().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def parent_pids(proc: Path = PROC) -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc."""
    parents: dict[int, int] = {}
    try:
        entries = list(proc.iterdir())
    except OSError:
        return parents
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        # The command name, in parentheses, may hold spaces and parentheses: the fields follow the last ")".
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1].isdigit():
            parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(root: int, parents: dict[int, int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    pending = list(children.get(root, ()))
    while pending:
        pid = pending.pop()
        if pid not in found:
            found.add(pid)
            pending.extend(children.get(pid, ()))
    return found


def tree_memory(root: int | None = None, proc: Path = PROC) -> TreeMemory:
    """Resident memory of `root` (this process by default) and the sum over its descendants."""
    root = os.getpid() if root is None else root
    below = descendants(root, parent_pids(proc))
    return TreeMemory(own_bytes=resident_bytes(root, proc),
                      children_bytes=sum(resident_bytes(pid, proc) for pid in below), children=len(below))
