"""Static copies of Playwright's catalogues stay equal to the installed Playwright: the device catalogue
(contract/devices.json, which the API checks device names against without starting a driver) and the ARIA
roles the selector parser accepts (runner.formats.selectors, which must not import Playwright)."""

from __future__ import annotations

import importlib.util
import inspect
import json
from typing import Any, get_args

from playwright.async_api import Page

from contract.devices import device_descriptor, device_names
from runner.formats.selectors import ARIA_ROLES
from runner.replay.devices import device_identity, device_viewport

from services import REPO_ROOT

ROOT = REPO_ROOT  # the repository
GENERATOR = ROOT / "scripts" / "generate_devices.py"


async def installed_catalogue() -> dict[str, dict[str, Any]]:
    """The installed Playwright's devices, converted exactly as scripts/generate_devices.py writes them."""
    spec = importlib.util.spec_from_file_location("generate_devices", GENERATOR)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    descriptors: dict[str, dict[str, Any]] = await generator.installed_descriptors()
    written: dict[str, dict[str, Any]] = json.loads(json.dumps(descriptors, indent=1, sort_keys=True))
    return written


async def test_devices_json_equals_the_installed_playwright_catalogue() -> None:
    installed = await installed_catalogue()
    stored = json.loads((ROOT / "contract" / "devices.json").read_text(encoding="utf-8"))

    added = sorted(installed.keys() - stored.keys())
    removed = sorted(stored.keys() - installed.keys())
    changed = sorted(name for name in installed.keys() & stored.keys() if installed[name] != stored[name])
    assert not (added or removed or changed), (
        f"contract/devices.json differs from the installed Playwright's device catalogue (new: {added}, gone: "
        f"{removed}, changed: {changed}); run `.venv/bin/python scripts/generate_devices.py` and commit the file")
    assert device_names() == frozenset(installed)


def test_a_device_descriptor_becomes_the_context_emulation() -> None:
    iphone = device_descriptor("iPhone 13")
    assert iphone is not None
    viewport = device_viewport(iphone)
    assert (viewport.width, viewport.height) == (iphone["viewport"]["width"], iphone["viewport"]["height"])
    assert viewport.is_mobile and viewport.has_touch and viewport.device_scale_factor == 3
    assert device_identity(iphone) == {"user_agent": iphone["user_agent"], "screen": iphone["screen"]}
    assert device_descriptor("Nokia 3310") is None


def test_aria_roles_equal_the_installed_playwright_roles() -> None:
    installed = frozenset(get_args(inspect.signature(Page.get_by_role).parameters["role"].annotation))
    assert installed, "could not read the roles of Page.get_by_role"
    assert ARIA_ROLES == installed, (
        f"runner/formats/selectors.py ARIA_ROLES differs from Playwright's get_by_role roles (missing: "
        f"{sorted(installed - ARIA_ROLES)}, extra: {sorted(ARIA_ROLES - installed)})")
