"""The Playwright replay: a parsed `Script` replayed in a fresh browser context of a system Chromium.

    async with launch_chromium("/usr/bin/chromium") as browser:
        result = await PlaywrightRunner(browser).run(script, RunOptions(), Path("out"))
"""

from runner.replay.browser import ChromiumLauncher, launch_chromium, prepare_playwright_env
from runner.replay.errors import BrowserError
from runner.replay.runner import PlaywrightRunner, StepCallback

__all__ = [
    "BrowserError",
    "ChromiumLauncher",
    "PlaywrightRunner",
    "StepCallback",
    "launch_chromium",
    "prepare_playwright_env",
]
