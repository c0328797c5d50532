"""Reading recorded media in tests."""

from __future__ import annotations

import subprocess
from pathlib import Path


def video_seconds(path: Path) -> float:
    """The video's duration as ffprobe reads it: proof the file is a playable video."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )
    return float(probe.stdout.strip())
