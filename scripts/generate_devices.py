"""Write contract/devices.json from the installed Playwright's device catalogue.

    .venv/bin/python scripts/generate_devices.py

The API validates `device` names against that file, so it never starts the Playwright driver;
tests/integration/test_devices.py fails when the file no longer matches the installed Playwright (run this
after upgrading it).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

TARGET = Path(__file__).resolve().parent.parent / "contract" / "devices.json"


async def installed_descriptors() -> dict[str, dict[str, Any]]:
    async with async_playwright() as driver:
        return {name: dict(descriptor) for name, descriptor in sorted(driver.devices.items())}


def main() -> None:
    descriptors = asyncio.run(installed_descriptors())
    TARGET.write_text(json.dumps(descriptors, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(descriptors)} devices to {TARGET}")


if __name__ == "__main__":
    main()
