"""Device emulation: a device of the contract's catalogue (`contract.devices`) as browser context settings.

The run names the device (`RunOptions.device`); its descriptor, in Playwright's Python spelling, gives the
viewport, scale, mobile and touch emulation, the user agent and the screen size.
"""

from __future__ import annotations

from typing import Any

from contract.devices import device_descriptor
from runner.formats.errors import RunnerError
from runner.formats.steps import Viewport


def lookup_device(name: str) -> dict[str, Any]:
    """The descriptor of a device named in the run's options; RunnerError for a name not in the catalogue
    (RunOptions refuses those when validated, so only an unvalidated options object gets here)."""
    descriptor = device_descriptor(name)
    if descriptor is None:
        raise RunnerError(f"unknown device {name!r} (not in contract/devices.json)")
    return descriptor


def device_viewport(descriptor: dict[str, Any]) -> Viewport:
    """The device's screen as the run's viewport (an explicit run viewport still wins over it)."""
    size = descriptor["viewport"]
    return Viewport(width=int(size["width"]), height=int(size["height"]),
                    device_scale_factor=float(descriptor.get("device_scale_factor", 1)),
                    is_mobile=bool(descriptor.get("is_mobile", False)),
                    has_touch=bool(descriptor.get("has_touch", False)))


def device_identity(descriptor: dict[str, Any]) -> dict[str, Any]:
    """What else the device sets on the browser context: its user agent and screen size."""
    return {key: descriptor[key] for key in ("user_agent", "screen") if key in descriptor}
