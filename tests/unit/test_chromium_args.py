"""Chromium's flags fit the box it runs in: a small /dev/shm (a container's default 64 MB) moves Chromium's shared
memory to temporary files."""

from __future__ import annotations

from pathlib import Path

from runner.replay.browser import CHROMIUM_ARGS, shared_memory_args, shared_memory_args_for

MB = 1024 * 1024


def test_a_small_or_missing_shared_memory_folder_means_temporary_files() -> None:
    assert shared_memory_args_for(64 * MB) == ["--disable-dev-shm-usage"]  # docker run's default
    assert shared_memory_args_for(None) == ["--disable-dev-shm-usage"]
    assert shared_memory_args_for(1024 * MB) == []  # compose's shm_size: 1gb, or a memory emptyDir


def test_a_folder_that_is_not_there_is_read_as_missing(tmp_path: Path) -> None:
    assert shared_memory_args(str(tmp_path / "nowhere")) == ["--disable-dev-shm-usage"]


def test_the_flags_every_launch_gets() -> None:
    assert {"--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run",
            "--webrtc-ip-handling-policy=disable_non_proxied_udp"} <= set(CHROMIUM_ARGS)
