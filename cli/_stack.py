"""`charmelio dev` and `charmelio demo`: the embedded local stack, run in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from charmelio.samples import SAMPLE_CONTRACT
from charmelio.settings import Settings, load_settings
from charmelio.stages import ACTIVITY_POOLS, PoolName
from cli._common import CommandError
from cli._documents import extract_documents, upload_files

if TYPE_CHECKING:
    from operator_tools.devstack import DevStack


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dev = commands.add_parser("dev", help="run the embedded local stack until Ctrl-C")
    for pool in ACTIVITY_POOLS:
        dev.add_argument(f"--{pool}-workers", type=int, default=1, help=f"{pool} processes")
    dev.add_argument(
        "--metrics",
        action="store_true",
        help="each worker and the API serve Prometheus metrics on a port of their own",
    )
    dev.set_defaults(handler=_dev)

    demo = commands.add_parser(
        "demo", help="start the local stack, extract the bundled sample contract, print its clauses"
    )
    demo.add_argument("file", nargs="?", type=Path, default=SAMPLE_CONTRACT)
    demo.set_defaults(handler=_demo)


def _stack_settings(args: argparse.Namespace) -> Settings:
    # A stack.env left by an earlier stack describes that stack, not the one about to start.
    return load_settings(data_dir=args.data_dir, stack_env=False)


def _print_notices(stack: DevStack) -> None:
    for notice in stack.notices:
        print(f"note: {notice}", file=sys.stderr)


def _stop_on_sigterm() -> None:
    """SIGTERM (a service manager, `timeout`, `kill`) stops the stack as cleanly as Ctrl-C does."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _dev(args: argparse.Namespace) -> int:
    from operator_tools.devstack import DevStack

    settings = _stack_settings(args)
    pools = {
        PoolName.WORKFLOW.value: 1,
        **{pool.value: getattr(args, f"{pool}_workers") for pool in ACTIVITY_POOLS},
    }
    stack = DevStack(settings, processes_per_pool=pools, metrics=args.metrics)
    _stop_on_sigterm()
    print("starting the local stack ...", file=sys.stderr)
    with stack:
        _print_notices(stack)
        print(
            f"Temporal   {stack.temporal_address} (UI {stack.temporal_ui_url})\n"
            f"Postgres   {stack.database_url}\n"
            f"Objects    {stack.stack_settings().get('CHARMELIO_STORAGE_DIR', 's3')}\n"
            f"Logs       {stack.log_dir}\n"
            f"Workers    {', '.join(f'{pool} x{n}' for pool, n in pools.items())}\n"
            f"API        {stack.api_url}  (viewer: open it in a browser)\n"
            "Ready. In another terminal: charmelio batch FOLDER --wait   (Ctrl-C stops)",
            file=sys.stderr,
        )
        for process in stack.workers():
            if process.metrics_port:
                print(
                    f"Metrics    {process.name}: http://127.0.0.1:{process.metrics_port}/metrics",
                    file=sys.stderr,
                )
        # The stack restarts a dead worker itself (with backoff); this loop says so on screen.
        # Only Temporal's own exit ends the stack: every workflow waits on it.
        shown = len(stack.notices)
        try:
            while "temporal" not in stack.check_alive():
                for notice in stack.notices[shown:]:
                    print(f"note: {notice}", file=sys.stderr)
                shown = len(stack.notices)
                time.sleep(1)
            print("charmelio: stopped because Temporal exited", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nstopping ...", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from operator_tools.devstack import DevStack

    settings = _stack_settings(args)
    if not args.file.is_file():
        raise CommandError(f"{args.file}: no such file")
    _stop_on_sigterm()
    print("starting the local stack (Temporal, Postgres, 4 worker pools) ...", file=sys.stderr)
    with DevStack(settings, api=False) as stack:
        _print_notices(stack)
        stack_settings = load_settings(stack_env=False, **_lower(stack.stack_settings()))
        uploaded = upload_files([args.file], stack_settings)
        if uploaded is None:
            return 1
        return asyncio.run(
            extract_documents(stack_settings, [uploaded[args.file]], wait=True, as_json=False)
        )


def _lower(env: dict[str, str]) -> dict[str, Any]:
    return {key.removeprefix("CHARMELIO_").lower(): value for key, value in env.items()}
