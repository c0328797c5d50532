"""A worker's health answer as a value, and its process-tree memory read from /proc (a /proc laid out in a
folder, and the real one)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from worker.metrics import CIRCUIT_OPEN, RUNNING, STOPPING, judge_health
from worker.process_memory import PAGE_SIZE, descendants, parent_pids, resident_bytes, tree_memory


@pytest.mark.parametrize(("state", "code", "status"), [(RUNNING, 200, "ok"), (CIRCUIT_OPEN, 503, "unavailable"),
                                                       (STOPPING, 503, "unavailable")])
def test_healthy_only_while_running_and_claiming(state: str, code: int, status: str) -> None:
    health = judge_health(worker="w-1", queue="q", state=state, chromium="ok", active_runs=2)
    assert health.status_code == code
    assert health.body == {"status": status, "worker": "w-1", "queue": "q", "state": state, "chromium": "ok",
                           "activeRuns": 2}


def fake_proc(root: Path, processes: dict[int, tuple[int, str, int]]) -> Path:
    """pid -> (parent pid, command name, resident pages), as /proc shows them."""
    for pid, (ppid, name, pages) in processes.items():
        folder = root / str(pid)
        folder.mkdir(parents=True)
        (folder / "stat").write_text(f"{pid} ({name}) S {ppid} {pid} {pid} 0 -1 4194560 100 0 0 0\n")
        (folder / "statm").write_text(f"{pages * 3} {pages} 10 1 0 50 0\n")
    (root / "self").mkdir()
    (root / "meminfo").write_text("MemTotal: 1 kB\n")
    return root


def test_the_tree_below_a_process_is_summed_whatever_the_command_names(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path / "proc", {
        1: (0, "init", 5),
        100: (1, "python3", 1000),  # the worker
        200: (100, "node", 300),  # Playwright's driver
        300: (200, "chromium", 400),
        301: (300, "chromium) S 1 (renderer", 250),  # a name with spaces and parentheses
        302: (301, "chromium", 50),
        400: (1, "other", 9000),
    })
    assert parent_pids(proc) == {1: 0, 100: 1, 200: 100, 300: 200, 301: 300, 302: 301, 400: 1}
    assert descendants(100, parent_pids(proc)) == {200, 300, 301, 302}
    memory = tree_memory(100, proc)
    assert memory.own_bytes == 1000 * PAGE_SIZE
    assert memory.children_bytes == (300 + 400 + 250 + 50) * PAGE_SIZE and memory.children == 4
    assert resident_bytes(999, proc) == 0  # gone meanwhile


def test_the_real_process_tree_of_this_process() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; print('ready', flush=True); sys.stdin.read()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        memory = tree_memory()
        assert child.pid in descendants(os.getpid(), parent_pids())
        assert memory.own_bytes > 10 * 2**20  # a Python interpreter with pytest loaded
        assert memory.children >= 1 and memory.children_bytes > 2**20  # at least the child interpreter
    finally:
        child.communicate(b"")
