"""`reprise` command line: one subcommand per entry point, each in its own module.

Each command module exposes `register(subparsers)`, which adds its parser and sets `handler`,
a function taking the parsed arguments and returning the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES = (
    "reprise.commands.migrate",
    "reprise.commands.api",
    "reprise.commands.worker",
    "reprise.run_command",
    "reprise.dev",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reprise", description="Replay recorded browser tests at scale.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
