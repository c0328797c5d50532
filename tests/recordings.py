"""Recordings of the fixture site kept in `tests/recordings/`, with `{{BASE_URL}}` for the site's origin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RECORDINGS_DIR = Path(__file__).resolve().parent / "recordings"
PLACEHOLDER = "{{BASE_URL}}"


def recording_text(name: str, base_url: str) -> str:
    return (RECORDINGS_DIR / name).read_text(encoding="utf-8").replace(PLACEHOLDER, base_url)


def load_recording(name: str, base_url: str) -> dict[str, Any]:
    """The recording `name` (a file in tests/recordings/) with the placeholder replaced by `base_url`."""
    data: dict[str, Any] = json.loads(recording_text(name, base_url))
    return data


def write_recording(name: str, base_url: str, directory: Path) -> Path:
    """The recording, placeholder replaced, written to `directory`; for the CLI."""
    path = directory / name
    path.write_text(recording_text(name, base_url), encoding="utf-8")
    return path
