"""Recordings and log readers shared by the tests that run real workers."""

from __future__ import annotations

import json
from typing import Any

from services import WorkerProcess


def slow_recording(site_url: str, seconds: float) -> dict[str, Any]:
    """A flow that takes about `seconds` in the page: enough to catch it mid-run."""
    return {
        "title": f"slow {seconds}s",
        "timeout": int(seconds * 1000) + 10_000,
        "steps": [
            {"type": "navigate", "url": f"{site_url}/index.html"},
            {"type": "waitForExpression", "expression": f"performance.now() > {int(seconds * 1000)}"},
            {"type": "change", "value": "Ada", "selectors": [["#name"]]},
        ],
    }


def log_events(worker: WorkerProcess) -> list[dict[str, Any]]:
    events = []
    for line in worker.log().splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    return events
