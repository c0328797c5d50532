"""The reference verdicts for the conformance cases: one `node oracle.mjs` process for the whole session.

The oracle starts when the first case asks for it and judges every case in order in the background, so
it runs while Reprise replays the cases; each test waits only for its own case's line.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

CONFORMANCE_DIR = Path(__file__).resolve().parent
CASES_DIR = CONFORMANCE_DIR / "cases"
ORACLE = CONFORMANCE_DIR / "oracle.mjs"
SETUP_NODE = CONFORMANCE_DIR.parent.parent / "scripts" / "setup-node.sh"
VERDICT_WAIT_S = 300.0  # for one case's line: the oracle may still be judging the cases before it


def case_paths() -> list[Path]:
    return sorted(CASES_DIR.glob("*.json"))


@dataclass(frozen=True)
class Verdict:
    outcome: str  # passed | failed | invalid
    error: str


class Oracle:
    """`node oracle.mjs` over every case; `verdict(name)` blocks until that case's line has been read."""

    def __init__(self, base_url: str, paths: list[Path], chromium_path: str) -> None:
        env = {**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1", "CHROMIUM_PATH": chromium_path}
        self.process = subprocess.Popen(
            ["node", str(ORACLE), base_url, *map(str, paths)], cwd=CONFORMANCE_DIR, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.verdicts: dict[str, Verdict] = {}
        self.finished = False
        self.stderr = ""
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self.read, name="conformance-oracle", daemon=True)
        self.reader.start()

    def read(self) -> None:
        assert self.process.stdout is not None and self.process.stderr is not None
        for line in self.process.stdout:
            data = json.loads(line)
            with self.changed:
                self.verdicts[data["case"]] = Verdict(outcome=data["outcome"], error=data["error"])
                self.changed.notify_all()
        stderr = self.process.stderr.read()
        self.process.wait()
        with self.changed:
            self.finished = True
            self.stderr = stderr
            self.changed.notify_all()

    def verdict(self, name: str) -> Verdict:
        with self.changed:
            self.changed.wait_for(lambda: name in self.verdicts or self.finished, timeout=VERDICT_WAIT_S)
            if name in self.verdicts:
                return self.verdicts[name]
            if self.finished:
                pytest.fail(f"the oracle exited ({self.process.returncode}) without judging {name}:\n"
                            f"{self.stderr[-2000:]}")
            pytest.fail(f"the oracle did not judge {name} within {VERDICT_WAIT_S:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.reader.join(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
