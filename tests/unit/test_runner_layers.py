"""The runner's layers: the recording formats load no browser driver (so the API process never loads
Playwright), and the replay's modules import only modules below them, in one order, with no circle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from services import REPO_ROOT

ROOT = REPO_ROOT  # the repository
# The replay's modules from the bottom up: each may import only modules before it (and runner.formats).
REPLAY_ORDER = [
    "runner.replay.errors",
    "runner.replay.locate",
    "runner.replay.categories",
    "runner.replay.devices",
    "runner.replay.browser",
    "runner.replay.concealment",
    "runner.replay.trace_scrub",
    "runner.replay.context",
    "runner.replay.visual_diff",
    "runner.replay.handlers.matching",
    "runner.replay.handlers.interaction",
    "runner.replay.handlers.waits",
    "runner.replay.handlers.assertions",
    "runner.replay.handlers.visual",
    "runner.replay.handlers.pages",
    "runner.replay.handlers.extensions",
    "runner.replay.registry",
    "runner.replay.executor",
    "runner.replay.contexts",
    "runner.replay.runner",
    "runner.replay",
]
# Packages a pure module must never load, directly or through another module.
NOT_IN_FORMATS = ("playwright", "asyncpg", "redis", "bullmq", "fastapi")


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                               check=True)
    return set(completed.stdout.split())


def test_importing_the_formats_does_not_load_playwright() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", "import sys, runner.formats; print('playwright' in sys.modules)"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert completed.stdout.strip() == "False"


def test_the_formats_load_no_driver_database_queue_or_web_framework() -> None:
    modules = loaded_after("import runner.formats, runner.formats.prepare, runner.formats.rebase")
    loaded = sorted({name.split(".")[0] for name in modules} & set(NOT_IN_FORMATS))
    assert not loaded, f"importing runner.formats loads {loaded}"
    assert not any(name.startswith("runner.replay") for name in modules)


@pytest.mark.parametrize("module", ["api.app", "runner"])
def test_the_api_and_the_runner_package_load_no_playwright(module: str) -> None:
    assert "playwright" not in loaded_after(f"import {module}")


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def module_path(name: str) -> Path:
    path = ROOT.joinpath(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def test_every_replay_module_is_in_the_layer_order() -> None:
    on_disk = {".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
               for path in (ROOT / "runner" / "replay").rglob("*.py")}
    assert on_disk - {"runner.replay.handlers"} == set(REPLAY_ORDER)


@pytest.mark.parametrize("index", range(len(REPLAY_ORDER)), ids=REPLAY_ORDER)
def test_a_replay_module_imports_only_modules_below_it(index: int) -> None:
    module = REPLAY_ORDER[index]
    above = set(REPLAY_ORDER[index + 1:])
    imported = {name for name in imported_modules(module_path(module)) if name.startswith("runner")}
    assert not imported & above, f"{module} imports {sorted(imported & above)}, above it"


def test_the_formats_import_nothing_of_the_replay() -> None:
    for path in (ROOT / "runner" / "formats").glob("*.py"):
        imported = imported_modules(path)
        assert not {name for name in imported if name.startswith("runner.replay")}, path.name
        assert not {name.split(".")[0] for name in imported} & set(NOT_IN_FORMATS), path.name
