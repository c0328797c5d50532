"""`reprise run FILE`: replay one recording locally, with no queue or database.

Exit codes: 0 passed, 1 failed (the recording did not replay), 2 invalid input (file missing or
unreadable, bad JSON, invalid script; the problem on stderr), 3 infrastructure error (Chromium missing or
crashed). With `--json`, stdout holds exactly one JSON object, the RunResult (`status`, `steps`,
`artifacts`, ...), for every outcome but invalid input (2), which prints nothing on stdout. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from contract.options import DEFAULT_RUN_TIMEOUT_MS, DEFAULT_STEP_TIMEOUT_MS, RunOptions
from contract.results import RunResult
from contract.runs import RunStatus
from contract.settings import Settings
from reprise.logs import configure_logging
from runner.formats import InvalidScript, Script, prepare_script, read_script_json
from runner.formats.variables import VALID_NAME, resolve_secrets
from runner.replay import BrowserError, PlaywrightRunner, launch_chromium

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_ERROR = 3
EXIT_CODES = {"passed": EXIT_PASSED, "failed": EXIT_FAILED, "error": EXIT_ERROR}
OUTPUT_ROOT = Path("reprise-output")
# The flag that sets each RunOptions field, to name it when the model refuses a value.
FLAGS = {"video": "--video", "screenshots": "--screenshots", "timeout_ms": "--timeout",
         "step_timeout_ms": "--step-timeout", "variables": "--var", "secrets": "--secret", "base_url": "--base-url",
         "viewport": "--viewport", "locale": "--locale", "timezone_id": "--timezone", "mask_selectors": "--mask"}


def _positive_ms(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of milliseconds") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1 ms")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="replay one recording locally (no queue, no database)",
        description="Replay a Chrome Recorder recording or a native script in Chromium. "
                    "Exit 0 passed, 1 failed, 2 invalid input, 3 infrastructure error.",
    )
    parser.add_argument("file", metavar="FILE", type=Path, help="the recording (JSON)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object on stdout")
    parser.add_argument("--out", metavar="DIR", type=Path,
                        help="where the video and screenshots go (default: ./reprise-output/<timestamp>)")
    parser.add_argument("--video", choices=("on", "off", "retain-on-failure"), default="on")
    parser.add_argument("--screenshots", choices=("off", "on-failure", "every-step"), default="on-failure")
    parser.add_argument("--full-page-screenshots", action=argparse.BooleanOptionalAction, default=None,
                        help="screenshots of the whole page, or (--no-...) of the viewport "
                             "(default: the failure screenshot whole, every-step screenshots the viewport)")
    parser.add_argument("--timeout", metavar="MS", type=_positive_ms, default=DEFAULT_RUN_TIMEOUT_MS,
                        help=f"the whole run's budget (default {DEFAULT_RUN_TIMEOUT_MS})")
    parser.add_argument("--step-timeout", metavar="MS", type=_positive_ms, default=DEFAULT_STEP_TIMEOUT_MS,
                        help="default wait per step, unless the recording sets its own "
                             f"(default {DEFAULT_STEP_TIMEOUT_MS})")
    parser.add_argument("--var", metavar="NAME=VALUE", type=_variable, action="append",
                        help="a value for ${NAME} in the recording (repeatable)")
    parser.add_argument("--secret", metavar="NAME", type=_name, action="append",
                        help="${NAME} read from the environment variable REPRISE_SECRET_NAME, masked in output")
    parser.add_argument("--mask", metavar="SELECTOR", action="append",
                        help="paint the elements this CSS selector matches out of the screenshots and the video "
                             "(repeatable)")
    parser.add_argument("--base-url", metavar="URL", help="replay against this origin instead of the recorded one")
    parser.add_argument("--viewport", metavar="WxH", type=_viewport, help="e.g. 1280x720; overrides the recording")
    parser.add_argument("--locale", metavar="LOCALE", help="e.g. de-DE")
    parser.add_argument("--timezone", metavar="TZ", help="e.g. Europe/Berlin")
    parser.add_argument("--chromium", metavar="PATH",
                        help="the Chromium executable (default: CHROMIUM_PATH, else /usr/bin/chromium)")
    parser.set_defaults(handler=handle)


def _name(text: str) -> str:
    if not VALID_NAME.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a variable name (letters, digits, _)")
    return text


def _variable(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return _name(name), value


def _viewport(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}")
    return int(width), int(height)


def _default_output_dir() -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = OUTPUT_ROOT / stamp
    suffix = 1
    while candidate.exists():
        suffix += 1
        candidate = OUTPUT_ROOT / f"{stamp}-{suffix}"
    return candidate


def _fail(message: str) -> int:
    sys.stderr.write(f"reprise run: {message}\n")
    return EXIT_INVALID


def _options(args: argparse.Namespace) -> RunOptions:
    """The flags as the contract's RunOptions; ValidationError when one is out of range."""
    viewport = {"width": args.viewport[0], "height": args.viewport[1]} if args.viewport else None
    return RunOptions.model_validate({
        "video": args.video, "screenshots": args.screenshots, "screenshots_full_page": args.full_page_screenshots,
        "timeout_ms": args.timeout,
        "step_timeout_ms": args.step_timeout, "variables": dict(args.var or []), "secrets": args.secret or [],
        "mask_selectors": args.mask or [],
        "base_url": args.base_url, "viewport": viewport, "locale": args.locale, "timezone_id": args.timezone,
    })


def _flag_problem(error: ValidationError) -> str:
    """`--timeout: Input should be greater than or equal to 1000`, for each refused flag."""
    by_alias = {field.alias or name: name for name, field in RunOptions.model_fields.items()}
    problems = []
    for problem in error.errors(include_url=False):
        location = problem["loc"]
        field = by_alias.get(str(location[0]), str(location[0])) if location else ""
        flag = FLAGS.get(field, "--var/--secret" if not field else field)
        problems.append(f"{flag}: {problem['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def handle(args: argparse.Namespace) -> int:
    try:
        settings = Settings()
    except ValidationError as error:
        return _fail(f"invalid settings: {error}")
    configure_logging(settings.log_level if "LOG_LEVEL" in os.environ else "WARNING", "console")
    try:
        options = _options(args)
    except ValidationError as error:
        return _fail(_flag_problem(error))
    try:
        secrets = resolve_secrets(options.secrets)
    except LookupError as error:
        return _fail(str(error))
    try:
        script = prepare_script(read_script_json(args.file), options.variables, secrets)
    except InvalidScript as error:
        return _fail(f"invalid script: {error}")  # the secrets masked
    except OSError as error:
        return _fail(f"cannot read {args.file}: {error.strerror or error}")
    for note in script.warnings:
        sys.stderr.write(f"reprise run: import note: {note}\n")
    output_dir: Path = args.out if args.out is not None else _default_output_dir()
    chromium = args.chromium or settings.chromium_path
    try:
        result = asyncio.run(_replay(script, options, tuple(secrets.values()), output_dir, chromium))
    except BrowserError as error:
        result = RunResult(status=RunStatus.ERROR, error=str(error))
    except KeyboardInterrupt:
        sys.stderr.write("reprise run: interrupted\n")
        return 130
    if args.json:
        sys.stdout.write(json.dumps(result.to_json()) + "\n")
    else:
        sys.stdout.write(_summary(script, result))
    return EXIT_CODES[result.status]


async def _replay(script: Script, options: RunOptions, secret_values: tuple[str, ...], output_dir: Path,
                  chromium: str) -> RunResult:
    async with launch_chromium(chromium) as browser:
        return await PlaywrightRunner(browser).run(script, options, output_dir, secret_values=secret_values)


def _summary(script: Script | None, result: RunResult) -> str:
    lines = []
    title = f" {script.name} ({script.format}, {len(script.steps)} steps)" if script else ""
    lines.append(f"{result.status.upper()}{title} in {result.duration_ms / 1000:.1f} s")
    marks = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip"}
    for step in result.steps:
        detail = f"  {step.error}" if step.error else ""
        lines.append(f"  {marks[step.status]} {step.index + 1:>3} {step.type:<18} {step.duration_ms:>6} ms{detail}")
    if result.error and not any(step.error for step in result.steps):
        lines.append(f"  error: {result.error}")
    for artifact in result.artifacts:
        lines.append(f"  {artifact.kind}: {artifact.path}")
    return "\n".join(lines) + "\n"
