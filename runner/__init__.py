"""Reprise's replayer: recording formats in, a browser replay out. Knows nothing of queues or databases.

    script = parse_script(json.loads(text))          # or load_script_file(path); InvalidScript if not valid
    async with launch_chromium("/usr/bin/chromium") as browser:
        result = await PlaywrightRunner(browser).run(script, RunOptions(), Path("out"))
"""

from runner.browser import ChromiumLauncher, launch_chromium, prepare_playwright_env
from runner.errors import BrowserError, InvalidScript, RunnerError
from runner.native import native_json_schema
from runner.options import RunOptions
from runner.playwright_runner import PlaywrightRunner
from runner.results import ArtifactFile, RunResult, StepResult
from runner.saveaction import parse_saveaction
from runner.script import Script, detect_format, load_script_file, parse_script
from runner.steps import ImportNote

__all__ = [
    "ArtifactFile",
    "BrowserError",
    "ChromiumLauncher",
    "ImportNote",
    "InvalidScript",
    "PlaywrightRunner",
    "RunOptions",
    "RunResult",
    "RunnerError",
    "Script",
    "StepResult",
    "detect_format",
    "launch_chromium",
    "load_script_file",
    "native_json_schema",
    "parse_saveaction",
    "parse_script",
    "prepare_playwright_env",
]
