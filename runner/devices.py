"""Device emulation: Playwright's catalogue of device descriptors (viewport, user agent, touch, scale).

The catalogue lives in the Playwright driver, so reading it starts the driver once (no browser); callers
keep the result (`DeviceCatalogue`) for the life of their process.
"""

from __future__ import annotations

import asyncio
from typing import Any

from playwright.async_api import async_playwright

from runner.formats.steps import Viewport


async def load_device_descriptors() -> dict[str, dict[str, Any]]:
    async with async_playwright() as driver:
        return {name: dict(descriptor) for name, descriptor in driver.devices.items()}


class DeviceCatalogue:
    """Loaded on first use, then kept; safe to share between concurrent tasks."""

    def __init__(self) -> None:
        self._devices: dict[str, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def get(self, name: str) -> dict[str, Any] | None:
        async with self._lock:
            if self._devices is None:
                self._devices = await load_device_descriptors()
        return self._devices.get(name)

    async def names(self) -> list[str]:
        await self.get("")
        return sorted(self._devices or {})


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
