"""Visual comparison: what the worker hands a replay (the recording's approved baselines, as bytes) and how a
compared screenshot is named, so that the API can tell which baseline a run's image would replace.

A baseline is keyed by (saved recording, step index, viewport key). The viewport key says the size the image
was taken at: `<width>x<height>`, with `@<scale>` when the device scale factor is not 1 (`390x844@3`). A run of
no saved recording has no baselines: its compared screenshots are taken, kept and reported with a warning.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

VIEWPORT_KEY = re.compile(r"^[0-9]{1,5}x[0-9]{1,5}(@[0-9]+(\.[0-9]+)?)?$")
ACTUAL_NAME = re.compile(r"^visual-actual-(?P<index>[0-9]{3,})-(?P<key>[0-9x@.]+)\.png$")


def viewport_key(width: int, height: int, scale: float = 1.0) -> str:
    """`1280x720`, or `390x844@3` for a device scale factor of 3."""
    if scale == 1:
        return f"{width}x{height}"
    return f"{width}x{height}@{scale:g}"


def actual_name(step_index: int, key: str) -> str:
    """The file name of a compared step's image as taken: the API reads the step and the key back from it."""
    return f"visual-actual-{step_index:03}-{key}.png"


def parse_actual_name(name: str) -> tuple[int, str] | None:
    """(step index, viewport key) of an `actual_name`, None for any other name."""
    match = ACTUAL_NAME.match(name)
    if match is None or not VIEWPORT_KEY.match(match["key"]):
        return None
    return int(match["index"]), match["key"]


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's header; None when the bytes are not a PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


@dataclass(frozen=True)
class VisualBaselines:
    """What a replay compares its `screenshot` steps with (`compare: true`).

    `recording`: False for a run of no saved recording (nothing can be compared: a warning says so).
    `images`: the approved baselines' PNG bytes by (step index, viewport key)."""

    recording: bool = True
    images: Mapping[tuple[int, str], bytes] = field(default_factory=dict)

    def baseline(self, step_index: int, key: str) -> bytes | None:
        return self.images.get((step_index, key))
