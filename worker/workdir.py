"""The worker's scratch directory, where replays write videos and traces before they are stored.

`<base>/<worker name>`, so that a worker restarted after a crash (SIGKILL leaves no chance to clean up)
removes what its predecessor left. A lock file held for the worker's life keeps a second live worker of the
same name on the same host from wiping it: that one gets `<name>-<pid>` instead.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)


@contextmanager
def work_directory(base: Path, worker_name: str) -> Iterator[Path]:
    base.mkdir(parents=True, exist_ok=True)
    safe_name = "".join(char if char.isalnum() or char in "-_." else "_" for char in worker_name)
    for name in (safe_name, f"{safe_name}-{os.getpid()}"):
        lock = (base / f"{name}.lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        directory = base / name
        if directory.exists():
            log.info("removing a previous worker's leftover files", path=str(directory))
            shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
        try:
            yield directory
        finally:
            shutil.rmtree(directory, ignore_errors=True)
            lock.close()
        return
    raise RuntimeError(f"cannot lock a work directory for {worker_name} under {base}")
