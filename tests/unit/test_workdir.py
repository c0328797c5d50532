"""The worker's scratch directory: leftovers of a crashed worker go, a live namesake's files stay."""

from __future__ import annotations

import os
from pathlib import Path

from worker.workdir import work_directory


def test_a_restarted_worker_removes_its_crashed_predecessors_files(tmp_path: Path) -> None:
    leftover = tmp_path / "worker-1" / "run-4729" / "attempt-1" / "video.webm"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"partial")

    with work_directory(tmp_path, "worker-1") as directory:
        assert directory == tmp_path / "worker-1"
        assert not leftover.exists() and directory.is_dir()
    assert not directory.exists()


def test_a_live_worker_of_the_same_name_keeps_its_directory(tmp_path: Path) -> None:
    with work_directory(tmp_path, "worker-1") as first:
        (first / "in-progress").write_text("mine")
        with work_directory(tmp_path, "worker-1") as second:
            assert second == tmp_path / f"worker-1-{os.getpid()}"
            assert (first / "in-progress").read_text() == "mine"


def test_a_name_is_made_safe_for_the_file_system(tmp_path: Path) -> None:
    with work_directory(tmp_path, "../../etc worker") as directory:
        assert directory.parent == tmp_path and directory.name == ".._.._etc_worker"
