"""`reprise` command line: one subcommand per entry point, each in its own module.

Each command module exposes `register(subparsers)`, which adds its parser and sets `handler`,
a function taking the parsed arguments and returning the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import asyncpg
import redis.exceptions
from pydantic import ValidationError

from storage import ArtifactStoreError, DatabaseMissing

# Exit codes every command shares (a command may add its own: `reprise run`, `reprise worker`).
EXIT_INVALID_SETTINGS = 2
EXIT_DEPENDENCY = 3

COMMAND_MODULES = (
    "reprise.commands.migrate",
    "reprise.commands.api",
    "reprise.commands.worker",
    "reprise.commands.cleanup",
    "reprise.commands.health",
    "reprise.commands.keys",
    "reprise.run_command",
    "reprise.submit_command",
    "reprise.convert_command",
    "reprise.dev",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reprise", description="Replay recorded browser tests at scale.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def _setting_errors(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or "settings"
        lines.append(f"  {name}: {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except DatabaseMissing as error:
        print(f"reprise {args.command}: {error}; create it with `reprise migrate --create-database` "
              "(`reprise dev` creates it by itself)", file=sys.stderr)
        return EXIT_DEPENDENCY
    except ArtifactStoreError as error:
        print(f"reprise {args.command}: the artifact store failed: {error}", file=sys.stderr)
        return EXIT_DEPENDENCY
    except ValidationError as error:
        # Settings come from the environment: name the variable rather than print a traceback.
        print(f"reprise {args.command}: invalid settings\n{_setting_errors(error)}", file=sys.stderr)
        return EXIT_INVALID_SETTINGS
    except (OSError, asyncpg.PostgresError, redis.exceptions.ConnectionError) as error:
        print(f"reprise {args.command}: cannot reach a dependency: {type(error).__name__}: {error}",
              file=sys.stderr)
        return EXIT_DEPENDENCY
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
