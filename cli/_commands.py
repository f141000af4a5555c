"""The `charmelio` command: global options, and each room's sub-commands.

Each sub-command imports what it needs when it runs, so `charmelio worker workflow` loads neither
pypdf, openai, minio nor psycopg.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from charmelio.settings import ConfigurationError
from cli import _batch, _documents, _operations, _portfolio, _stack
from cli._common import CommandError


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except ConfigurationError as exc:
        print(f"charmelio: configuration error: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"charmelio: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return result


def run() -> NoReturn:
    """The console entry point (`charmelio`, `python -m cli`): `main`, then `exit_process`."""
    from charmelio.worker_runtime import exit_process

    exit_process(main())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="charmelio", description="Contract PDFs to clause data.")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="the embedded stack's data directory: where `dev` and `demo` keep their state, and"
        " where the other commands find a running stack (default: CHARMELIO_DATA_DIR, else"
        " .charmelio)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for room in (_documents, _batch, _stack, _operations, _portfolio):
        room.add_commands(commands)
    return parser
