"""Starting the system Chromium under Playwright, and the ffmpeg link Playwright needs to record video.

Playwright cannot download its browsers here: it launches the Debian Chromium by `executable_path`, and
records video with an ffmpeg it looks for at `$PLAYWRIGHT_BROWSERS_PATH/ffmpeg-<revision>/ffmpeg-linux`.
`prepare_playwright_env` makes that path a link to the system ffmpeg; the revision is read from the
installed Playwright's `browsers.json`, so a Playwright upgrade needs no change here. The variable must be
set before the Playwright driver starts, which `launch_chromium` does.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import playwright
import structlog
from playwright.async_api import Browser, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from runner.replay.errors import BrowserError

log = structlog.get_logger(__name__)

DEFAULT_CHROMIUM_PATH = "/usr/bin/chromium"
DEFAULT_BROWSERS_PATH = Path("~/.cache/reprise/ms-playwright")
SYSTEM_FFMPEG = "/usr/bin/ffmpeg"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # WebRTC would send UDP (STUN/TURN) around the run's proxy, to any address: no UDP that is not proxied
    # (docs/network-policy.md).
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
)


def ffmpeg_revision() -> str:
    """The ffmpeg build revision the installed Playwright expects (its `browsers.json`)."""
    browsers_json = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    try:
        browsers = json.loads(browsers_json.read_text(encoding="utf-8"))["browsers"]
        return str(next(entry["revision"] for entry in browsers if entry["name"] == "ffmpeg"))
    except (OSError, ValueError, KeyError, StopIteration) as error:
        raise BrowserError(f"cannot read the ffmpeg revision from {browsers_json}: {error!r}") from error


def find_ffmpeg() -> Path | None:
    found = shutil.which("ffmpeg") or (SYSTEM_FFMPEG if os.access(SYSTEM_FFMPEG, os.X_OK) else None)
    return Path(found).resolve() if found else None


def prepare_playwright_env(base_dir: Path | None = None, *, require_ffmpeg: bool = False) -> Path:
    """Create `<base>/ffmpeg-<revision>/ffmpeg-linux` -> the system ffmpeg, idempotently, and point
    PLAYWRIGHT_BROWSERS_PATH at `<base>`; returns `<base>`.

    `<base>` is `base_dir`, else an already set PLAYWRIGHT_BROWSERS_PATH, else ~/.cache/reprise/ms-playwright.
    Without ffmpeg, video recording is impossible: BrowserError when `require_ffmpeg`, else a warning.
    An existing regular file at the link's place (a real Playwright download) is left alone.
    """
    if base_dir is None:
        configured = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
        base_dir = Path(configured) if configured and configured != "0" else DEFAULT_BROWSERS_PATH
    base = base_dir.expanduser().resolve()
    base.mkdir(parents=True, exist_ok=True)
    os.environ["PLAYWRIGHT_BROWSERS_PATH"] = str(base)

    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        if require_ffmpeg:
            raise BrowserError("ffmpeg not found (install the ffmpeg package): video recording needs it")
        log.warning("ffmpeg not found: runs with video will fail", browsersPath=str(base))
        return base

    link = base / f"ffmpeg-{ffmpeg_revision()}" / "ffmpeg-linux"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        if link.resolve() == ffmpeg:
            return base
    elif link.exists():
        return base  # a real ffmpeg build Playwright installed itself
    # Replace atomically, so concurrent workers never see a missing link.
    temporary = link.with_name(f".ffmpeg-linux.{os.getpid()}")
    with suppress(FileNotFoundError):
        temporary.unlink()
    temporary.symlink_to(ffmpeg)
    os.replace(temporary, link)
    return base


# Chromium keeps renderer shared memory in /dev/shm; a container's default one (Docker: 64 MB) makes pages crash
# under load. Below this size, Chromium is told to use temporary files instead.
MIN_SHM_BYTES = 512 * 1024 * 1024


def shared_memory_args_for(shm_bytes: int | None) -> list[str]:
    """`--disable-dev-shm-usage` when /dev/shm is missing (None) or small (a container without shm_size)."""
    return ["--disable-dev-shm-usage"] if shm_bytes is None or shm_bytes < MIN_SHM_BYTES else []


def shared_memory_args(shm_path: str = "/dev/shm") -> list[str]:
    try:
        stats = os.statvfs(shm_path)
    except OSError:
        return shared_memory_args_for(None)
    return shared_memory_args_for(stats.f_blocks * stats.f_frsize)


def _check_executable(executable_path: str) -> Path:
    executable = Path(executable_path)
    if not executable.is_file() or not os.access(executable, os.X_OK):
        raise BrowserError(f"chromium not found or not executable at {executable_path}")
    return executable


class ChromiumLauncher:
    """The Playwright driver, started once, launching Chromium as often as needed (a worker relaunches it
    after a crash). `launch` raises BrowserError; a launch that fails restarts the driver before the next."""

    def __init__(self, executable_path: str = DEFAULT_CHROMIUM_PATH, headless: bool = True, *,
                 browsers_path: Path | None = None, js_heap_mb: int | None = None) -> None:
        self.executable_path = executable_path
        # A runaway page then crashes its own renderer (an `error` run, retried) instead of eating the
        # worker's memory: V8's default heap limit is about 4 GB per renderer.
        self.args = [*CHROMIUM_ARGS, *shared_memory_args(),
                     *([f"--js-flags=--max-old-space-size={js_heap_mb}"] if js_heap_mb else [])]
        self.headless = headless
        self._browsers_path = browsers_path
        self._manager: Any = None
        self._driver: Playwright | None = None

    async def _ensure_driver(self) -> Playwright:
        if self._driver is None:
            prepare_playwright_env(self._browsers_path)
            manager = async_playwright()
            try:
                self._driver = await manager.start()
            except Exception as error:  # the Node driver did not start (a missing library, say)
                raise BrowserError(f"the Playwright driver did not start: {type(error).__name__}: {error}") from error
            self._manager = manager
        return self._driver

    async def launch(self) -> Browser:
        executable = _check_executable(self.executable_path)
        driver = await self._ensure_driver()
        try:
            return await driver.chromium.launch(executable_path=str(executable), headless=self.headless,
                                                args=self.args)
        except PlaywrightError as error:
            await self.stop()  # a driver that lost its browser badly is not trusted with the next launch
            raise BrowserError(f"chromium at {self.executable_path} failed to start: {error.message}") from error

    async def stop(self) -> None:
        manager, self._manager, self._driver = self._manager, None, None
        if manager is not None:
            with suppress(Exception):
                await manager.__aexit__(None, None, None)


@asynccontextmanager
async def launch_chromium(
    executable_path: str = DEFAULT_CHROMIUM_PATH,
    headless: bool = True,
    *,
    browsers_path: Path | None = None,
) -> AsyncIterator[Browser]:
    """A Chromium for the duration of the block; closed (and its driver stopped) on the way out.

    BrowserError when the executable is missing or Chromium does not start.
    """
    launcher = ChromiumLauncher(executable_path, headless, browsers_path=browsers_path)
    try:
        browser = await launcher.launch()
        try:
            yield browser
        finally:
            with suppress(PlaywrightError):
                await browser.close()
    finally:
        await launcher.stop()
