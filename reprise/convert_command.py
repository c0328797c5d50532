"""`reprise convert FILE --to native|json`: print a recording, in any format Reprise reads, as another.

`--to native` prints a native script (`runner.formats.native_writer`): version 1 when the recording needs nothing
more, else version 2, which says everything a Chrome Recorder or SaveAction recording says (fallback selectors,
chains, frames, popups, click offsets and durations, the navigations steps wait for, viewports, timeouts).
Parsed back, it gives the recording's steps, viewport and default timeout, each step's `type` aside (the
recording's own word: `change` where native says `fill`); the conversion checks this before it exits 0.
The steps no native action expresses (close, network emulation, a Recorder customStep) are named on stderr as
`steps[i] (type): ...` and emitted with their internal class as `action` ("ClosePage", "EmulateNetwork") and
their non-default fields, so nothing vanishes, but the output is then not a valid native script (a native parser
names the capitalised action as unknown).

`--to json` prints the internal step model itself (every step class and field, and the import warnings).

Exit codes: 0 converted without loss, and the output is a valid native script or the JSON dump; 1 printed, but
some steps are not expressible in native (listed on stderr); 2 invalid input (file missing or unreadable, bad
JSON, invalid recording; the field on stderr), nothing on stdout. Import warnings (what a SaveAction import
skipped: they were never steps, so no conversion can keep them) are printed on stderr too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from runner.formats import InvalidScript, Script, load_script_file
from runner.formats.native_writer import plain, step_to_json, to_native

EXIT_OK = 0
EXIT_GAPS = 1
EXIT_INVALID = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="print a recording (any supported format) as a native script or as the internal model",
        description="Convert a Chrome Recorder, SaveAction or native recording. Exit 0 converted without loss, "
                    "1 printed with steps native cannot express (listed on stderr), 2 invalid input.",
    )
    parser.add_argument("file", metavar="FILE", type=Path, help="the recording (JSON)")
    parser.add_argument("--to", choices=("native", "json"), default="native",
                        help="native: a native script, version 1 or 2 (default); json: the internal step model")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        script = load_script_file(args.file)
    except InvalidScript as error:
        sys.stderr.write(f"reprise convert: invalid script: {error}\n")
        return EXIT_INVALID
    except OSError as error:
        sys.stderr.write(f"reprise convert: cannot read {args.file}: {error.strerror or error}\n")
        return EXIT_INVALID
    for warning in script.warnings:
        sys.stderr.write(f"reprise convert: import warning: {warning}\n")
    if args.to == "json":
        sys.stdout.write(json.dumps(script_to_json(script), indent=2) + "\n")
        return EXIT_OK
    converted = to_native(script)
    sys.stdout.write(json.dumps(converted.document, indent=2) + "\n")
    for note in converted.gaps:
        sys.stderr.write(f"reprise convert: not expressible in native: {note}\n")
    return EXIT_GAPS if converted.gaps else EXIT_OK


# -- the internal model as JSON ------------------------------------------------------------------------

def script_to_json(script: Script) -> dict[str, Any]:
    return {"name": script.name, "format": script.format, "viewport": plain(script.viewport),
            "timeoutMs": script.timeout_ms, "steps": [step_to_json(step) for step in script.steps],
            "warnings": [warning.to_json() for warning in script.warnings]}
