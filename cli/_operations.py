"""The operator's sub-commands: a pool's worker, migrations, the API, the evaluation, the load
test."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from charmelio.stages import ACTIVITY_POOLS, PACKAGE_OF_POOL, POOLS, PoolName
from cli._common import settings_of


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = commands.add_parser("worker", help="run one worker pool's process")
    worker.add_argument("pool", choices=[pool.value for pool in POOLS])
    worker.set_defaults(handler=_worker)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(handler=_migrate)

    evaluation = commands.add_parser(
        "eval", help="score extraction on CUAD-format contracts (PDFs + labels) with CUAD's rule"
    )
    evaluation.add_argument("folder", nargs="?", type=Path, default=Path("tests/fixtures/cuad"))
    evaluation.add_argument(
        "--provider",
        choices=("auto", "rules", "openai"),
        help="extraction provider (default: CHARMELIO_LLM_PROVIDER)",
    )
    evaluation.add_argument(
        "--split",
        choices=("fit", "validation", "held-out"),
        default="held-out",
        help="which split of a training file (*.jsonl.gz) to score (default: held-out)",
    )
    evaluation.add_argument("--json", action="store_true", help="print the scores as JSON")
    evaluation.set_defaults(handler=_eval)

    api = commands.add_parser("api", help="serve the HTTP API and the results viewer")
    api.add_argument("--host", help="interface to bind (default: CHARMELIO_API_HOST)")
    api.add_argument("--port", type=int, help="port (default: CHARMELIO_API_PORT)")
    api.set_defaults(handler=_api)

    loadtest = commands.add_parser(
        "loadtest", help="load-test the pools per queue on a fresh local stack (JSON + PNG report)"
    )
    _loadtest_arguments(loadtest)
    loadtest.set_defaults(handler=_loadtest)


def _worker(args: argparse.Namespace) -> int:
    """Runs the pool as `python -m PACKAGE` does; only that pool's package is imported."""
    import importlib

    from charmelio.worker_runtime import run_pool

    pool = PoolName(args.pool)
    worker = importlib.import_module(f"{PACKAGE_OF_POOL[pool]}.worker")
    return run_pool(pool, worker.pool_spec)


def _migrate(_: argparse.Namespace) -> int:
    from charmelio.storage.database import migrate

    applied = migrate(settings_of(_).require_database_url())
    print(f"applied {len(applied)} migration(s): {applied}" if applied else "schema up to date")
    return 0


def _api(args: argparse.Namespace) -> int:
    from api_server import serve

    serve(settings_of(args), host=args.host, port=args.port)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from operator_tools.evaluation import run_evaluation

    return run_evaluation(
        settings_of(args),
        args.folder,
        provider=args.provider,
        split=args.split,
        as_json=args.json,
    )


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected counts like 1,2 not {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("every count must be at least 1")
    return sizes


def _loadtest_arguments(parser: argparse.ArgumentParser) -> None:
    from operator_tools.loadtest import DRIVES, SCENARIOS

    parser.add_argument("--scenario", choices=sorted(SCENARIOS), required=True)
    parser.add_argument(
        "--drive",
        choices=DRIVES,
        default="each",
        help="each: every stage queue on its own at once (default); pipeline: whole workflows;"
        " parse/llm/store: that queue alone",
    )
    for pool in ACTIVITY_POOLS:
        parser.add_argument(
            f"--{pool}-workers",
            type=_sizes,
            metavar="N[,N...]",
            help=f"{pool} processes; a list runs once per size (default: 1, or 1,2 for the"
            " scenario's bound pool)",
        )
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--concurrency", type=int, help="workflows in flight on the driven stream")
    shape.add_argument("--rate", type=float, help="workflows started per second instead")
    parser.add_argument("--duration", type=float, default=40.0, help="seconds of load per run")
    parser.add_argument("--warmup", type=float, default=5.0, help="first seconds not counted")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat the sizes this many times, alternating (1,2,1,2...); the comparison uses"
        " each size's median",
    )
    parser.add_argument("--output", type=Path, default=Path(".charmelio/loadtest"))


def _loadtest(args: argparse.Namespace) -> int:
    from operator_tools.loadtest import Load
    from operator_tools.loadtest.runner import LoadTestError, LoadTestRequest, run_loadtest

    workers: dict[str, list[int]] = {
        pool.value: sizes
        for pool in ACTIVITY_POOLS
        if (sizes := getattr(args, f"{pool}_workers")) is not None
    }
    load = None
    if args.concurrency is not None or args.rate is not None:
        load = Load(concurrency=args.concurrency, rate=args.rate)
    try:
        report, json_path, png_path = run_loadtest(
            LoadTestRequest(
                scenario=args.scenario,
                drive=args.drive,
                workers=workers,
                duration=args.duration,
                warmup=args.warmup,
                rounds=args.rounds,
                load=load,
                output_dir=args.output,
            ),
            log=lambda line: print(line, file=sys.stderr),
        )
    except (LoadTestError, ValueError) as exc:
        print(f"charmelio loadtest: {exc}", file=sys.stderr)
        return 1
    print(f"report: {json_path}\nchart:  {png_path}")
    return 1 if any(run["exited_early"] for run in report["runs"]) else 0
