"""Playwright's catalogue of emulated devices (viewport, user agent, scale, touch), as a static file.

`devices.json` is generated from the installed Playwright by `scripts/generate_devices.py`, so checking a
device name (the API) needs no Playwright driver; a test keeps the file equal to the installed catalogue.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def _catalogue() -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = json.loads(
        resources.files("contract").joinpath("devices.json").read_text(encoding="utf-8"))
    return loaded


def device_names() -> frozenset[str]:
    return frozenset(_catalogue())


def device_descriptor(name: str) -> dict[str, Any] | None:
    """The descriptor in Playwright's Python spelling (`user_agent`, `viewport`, `device_scale_factor`,
    `is_mobile`, `has_touch`, ...), a fresh copy; None for an unknown name."""
    descriptor = _catalogue().get(name)
    return json.loads(json.dumps(descriptor)) if descriptor is not None else None
