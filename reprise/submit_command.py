"""`reprise submit FILE... | --recording NAME | --suite NAME`: queue runs on a Reprise API (from CI), and with
`--wait` follow them to their end, print a summary, write a JUnit report and exit as `reprise run` does.

    reprise submit a.json b.json --base-url https://staging.example --wait --junit reprise.xml
    reprise submit --recording "Checkout" --wait --timeout 600
    reprise submit --suite smoke --var TENANT=acme --wait

The API is `--api`, else `REPRISE_API_URL`, else http://127.0.0.1:8000; the key is `REPRISE_API_KEY` (a key of
scope `run`). Files are posted as runs (`POST /api/runs`, several at once with `POST /api/runs/batch`, all or
nothing); a recording is found by its exact name (`GET /api/recordings?name=`) and run (`POST
/api/recordings/{id}/runs`); a suite likewise (`GET /api/suites?name=`, `POST /api/suites/{id}/runs`).

Exit codes: 0 queued (without --wait) or every run passed; 1 a run failed; 2 invalid input (a file missing,
unreadable or not JSON, a bad --var, no recording or suite of that name, the API's 422 naming the field);
3 infrastructure: the API unreachable, failing (5xx) or refusing the key (401/403), a run ended in `error` or was
cancelled, or `--timeout` passed first (the runs still going are then cancelled). 3 wins over 1: the result is
incomplete. Interrupted (Ctrl-C, a cancelled CI job): 130, and the runs go on.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

from contract.options import NAME_PATTERN
from reprise.junit_report import write_junit
from reprise.run_command import EXIT_ERROR, EXIT_INVALID, EXIT_PASSED
from reprise.submit_api import (
    DEFAULT_API_URL,
    ApiUnavailable,
    RemoteRun,
    ReproseApi,
    RequestRefused,
    SubmitError,
    SuiteRun,
)
from reprise.submit_progress import progress_for
from reprise.submit_results import (
    Outcome,
    StepOutline,
    dashboard_base,
    exit_code,
    markdown_summary,
    recording_outline,
    run_link,
    text_summary,
)
from reprise.submit_watch import RunsWatch, SuiteWatch, Watched, watch

POLL_S = 1.0
_VARIABLE_NAME = re.compile(f"^{NAME_PATTERN}$")
# The flag behind each run-option field the API may name in a 422.
FLAGS = {"baseUrl": "--base-url", "variables": "--var"}


def _variable(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    if not _VARIABLE_NAME.match(name):
        raise argparse.ArgumentTypeError(f"{name!r} is not a variable name (letters, digits, _)")
    return name, value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 86400 seconds")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "submit",
        help="queue runs on a Reprise API (files, a saved recording or a suite); --wait follows them",
        description="Queue runs on a Reprise API and, with --wait, follow them to their end (CI). The key is "
                    "REPRISE_API_KEY. Exit 0 passed (or queued, without --wait), 1 failed, 2 invalid input, "
                    "3 infrastructure (API unreachable or failing, a run in error, --timeout passed). docs/ci.md",
    )
    parser.add_argument("files", metavar="FILE", type=Path, nargs="*", help="recordings (JSON) to run")
    parser.add_argument("--recording", metavar="NAME", help="run the saved recording of this exact name (or id)")
    parser.add_argument("--suite", metavar="NAME", help="run the suite of this exact name (or id)")
    parser.add_argument("--api", metavar="URL",
                        help=f"the API's address (default: REPRISE_API_URL, else {DEFAULT_API_URL})")
    parser.add_argument("--base-url", metavar="URL", help="replay against this origin instead of the recorded one")
    parser.add_argument("--var", metavar="NAME=VALUE", type=_variable, action="append",
                        help="a value for ${NAME} in the recordings (repeatable)")
    parser.add_argument("--wait", action="store_true", help="follow the runs to their end, then summarize and "
                                                            "exit with their verdict")
    parser.add_argument("--timeout", metavar="S", type=_seconds,
                        help="with --wait: give up after S seconds, cancel the runs still going, exit 3")
    parser.add_argument("--junit", metavar="FILE", type=Path, help="with --wait: write a JUnit XML report here")
    parser.set_defaults(handler=handle)


@dataclass(frozen=True)
class SubmitRequest:
    """The command line, checked: what to run, with which options, and what to do after."""

    files: list[Path] = field(default_factory=list)
    recording: str | None = None
    suite: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    wait: bool = False
    timeout_s: float | None = None
    junit: Path | None = None
    step_summary: Path | None = None


@dataclass
class Submitted:
    """What the API queued: runs (with their recordings' steps when known) or a suite run."""

    runs: list[RemoteRun]
    outlines: dict[UUID, StepOutline | None]
    suite_run: SuiteRun | None = None


class InvalidInput(SubmitError):
    """Something on the command line or in a file that cannot be sent (exit 2)."""


def _request(args: argparse.Namespace) -> SubmitRequest:
    chosen = [flag for flag, given in (("FILE", bool(args.files)), ("--recording", args.recording is not None),
                                       ("--suite", args.suite is not None)) if given]
    if len(chosen) != 1:
        raise InvalidInput("give recordings as FILE..., or --recording NAME, or --suite NAME"
                           + (f" (not {' and '.join(chosen)} together)" if chosen else ""))
    for flag, value in (("--timeout", args.timeout), ("--junit", args.junit)):
        if value is not None and not args.wait:
            raise InvalidInput(f"{flag} needs --wait")
    if args.junit is not None:
        _check_writable(args.junit)
    options: dict[str, Any] = {}
    if args.base_url is not None:
        options["baseUrl"] = args.base_url
    if args.var:
        options["variables"] = dict(args.var)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    return SubmitRequest(files=list(args.files), recording=args.recording, suite=args.suite, options=options,
                         wait=args.wait, timeout_s=args.timeout, junit=args.junit,
                         step_summary=Path(summary) if summary and args.wait else None)


def _check_writable(path: Path) -> None:
    """Refused before anything is queued: a report that could not be written at the end."""
    folder = path.parent if path.parent != Path() else Path.cwd()
    existing = next((parent for parent in (folder, *folder.parents) if parent.exists()), None)
    if path.is_dir():
        raise InvalidInput(f"--junit {path}: is a folder")
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK):
        raise InvalidInput(f"--junit {path}: cannot write there")


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise InvalidInput(f"{path} is not UTF-8 text: {error.reason} at byte {error.start}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"{path} is not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: expected a JSON object (a recording), got {type(data).__name__}")
    return data


def _explain(refused: RequestRefused, files: list[Path]) -> str:
    """The API's refusal, each field named as the user wrote it: the file (for `runs[i]`), the flag."""
    if not refused.fields:
        return str(refused)
    lines = [str(refused).split("): ", 1)[0] + "):"]
    for name, message in refused.fields:
        where = name
        batch = re.match(r"^runs\[(\d+)\]\.?(.*)$", name)
        if batch and int(batch.group(1)) < len(files):
            where = f"{files[int(batch.group(1))]}: {batch.group(2) or 'run'}"
        elif len(files) == 1 and name.startswith("script"):
            where = f"{files[0]}: {name}"
        head = re.split(r"[.\[]", where.rsplit(": ", 1)[-1], maxsplit=1)[0]
        if head in FLAGS:
            where = f"{FLAGS[head]} ({where})"
        lines.append(f"  {where}: {message}")
    return "\n".join(lines)


def _looks_like_id(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


def _submit(request: SubmitRequest, api: ReproseApi) -> Submitted:
    if request.files:
        scripts = [_read_file(path) for path in request.files]
        try:
            runs = api.create_runs([{"script": script, **request.options} for script in scripts])
        except RequestRefused as refused:
            raise RequestRefused(_explain(refused, request.files), refused.fields) from None
        return Submitted(runs, {run.id: recording_outline(script) for run, script in zip(runs, scripts, strict=True)})
    if request.recording is not None:
        recording_id = _looks_like_id(request.recording)
        found = api.recordings_named(request.recording)
        if not found and recording_id is not None:
            found = [recording] if (recording := api.recording(recording_id)) else []
        if not found:
            raise InvalidInput(f"no saved recording is named {request.recording!r} (GET /api/recordings lists them)")
        if len(found) > 1:
            ids = ", ".join(str(recording.id) for recording in found)
            raise InvalidInput(f"{len(found)} saved recordings are named {request.recording!r} ({ids}): give "
                               "--recording the id of one")
        detail = api.recording(found[0].id)
        try:
            run = api.run_recording(found[0].id, request.options)
        except RequestRefused as refused:
            raise RequestRefused(_explain(refused, []), refused.fields) from None
        script = detail.script if detail is not None else None
        return Submitted([run], {run.id: recording_outline(script, found[0].step_count)})
    assert request.suite is not None
    suites = api.suites_named(request.suite)
    if not suites and (suite_id := _looks_like_id(request.suite)) is not None:
        suites = [suite] if (suite := api.suite(suite_id)) else []
    if not suites:
        raise InvalidInput(f"no suite is named {request.suite!r} (GET /api/suites lists them)")
    try:
        suite_run = api.run_suite(suites[0].id, request.options)
    except RequestRefused as refused:
        raise RequestRefused(_explain(refused, []), refused.fields) from None
    return Submitted(suite_run.runs, {}, suite_run)


def suite_run_link(suite_run: SuiteRun, fallback: str) -> str:
    return f"{dashboard_base(suite_run.url, fallback)}/#/suite-runs/{suite_run.id}"


def _print_queued(submitted: Submitted, api: ReproseApi, out: TextIO) -> None:
    if submitted.suite_run is not None:
        suite_run = submitted.suite_run
        out.write(f"queued suite run #{suite_run.number} of {suite_run.suite_name} ({len(suite_run.runs)} runs): "
                  f"{suite_run_link(suite_run, api.base_url)}\n")
    for run in submitted.runs:
        out.write(f"queued run #{run.number} {run.name} ({run.id}): {run_link(run, api.base_url)}\n")
    out.flush()


def execute(request: SubmitRequest, api: ReproseApi, out: TextIO, err: TextIO, *, poll_s: float = POLL_S,
            clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> int:
    """Submit, and with `wait` follow to the end; returns the exit code."""
    try:
        submitted = _submit(request, api)
        _print_queued(submitted, api, out)
        if not request.wait:
            return EXIT_PASSED
        watched: Watched = (SuiteWatch(api, submitted.suite_run) if submitted.suite_run is not None
                            else RunsWatch(api, submitted.runs, submitted.outlines))
        result = watch(watched, progress_for(out), timeout_s=request.timeout_s, poll_s=poll_s, clock=clock,
                       sleep=sleep)
    except (InvalidInput, RequestRefused) as error:
        err.write(f"reprise submit: {error}\n")
        return EXIT_INVALID
    except ApiUnavailable as error:
        err.write(f"reprise submit: {error}\n")
        return EXIT_ERROR
    outcomes = [Outcome(item.run, run_link(item.run, api.base_url), item.outline, item.run.id in result.timed_out)
                for item in result.runs]
    suite_run = watched.suite_run if isinstance(watched, SuiteWatch) else None
    title = f"suite {suite_run.suite_name} #{suite_run.number}" if suite_run else "reprise submit"
    link = suite_run_link(suite_run, api.base_url) if suite_run else None
    out.write("\n" + text_summary(outcomes, title=title, link=link, timeout_s=request.timeout_s))
    if result.timed_out:
        err.write(f"reprise submit: --timeout {request.timeout_s:g} s passed with {len(result.timed_out)} run(s) "
                  "not finished; cancelled them\n")
    code = exit_code(outcomes, suite_run.status if suite_run else None)
    try:
        if request.junit is not None:
            write_junit(request.junit, outcomes, suite=suite_run.suite_name if suite_run else None)
            out.write(f"JUnit report: {request.junit}\n")
        if request.step_summary is not None:
            with request.step_summary.open("a", encoding="utf-8") as summary:
                summary.write(markdown_summary(outcomes, title=title, link=link))
    except OSError as error:
        err.write(f"reprise submit: cannot write the report: {error}\n")
        return EXIT_ERROR
    return code


def handle(args: argparse.Namespace) -> int:
    try:
        request = _request(args)
    except InvalidInput as error:
        sys.stderr.write(f"reprise submit: {error}\n")
        return EXIT_INVALID
    base_url = args.api or os.environ.get("REPRISE_API_URL") or DEFAULT_API_URL
    if not re.match(r"^https?://[^/\s]+", base_url):
        sys.stderr.write(f"reprise submit: --api {base_url!r}: expected an http(s) URL such as {DEFAULT_API_URL}\n")
        return EXIT_INVALID
    with ReproseApi(base_url, os.environ.get("REPRISE_API_KEY") or None) as api:
        return execute(request, api, sys.stdout, sys.stderr)
