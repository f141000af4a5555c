"""The `charmelio` command: its parser and the sub-commands.

Each sub-command imports what it needs when it runs, so `charmelio worker workflow` loads neither
pypdf, openai, minio nor psycopg.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import charmelio
from charmelio.contract import TOPIC_FIELDS
from charmelio.settings import ConfigurationError, Settings, load_settings, stack_env_path
from charmelio.stages import PACKAGE_OF_POOL, POOLS, PoolName

if TYPE_CHECKING:
    from charmelio.results import StoredView
    from operator_tools.devstack import DevStack

SAMPLE_CONTRACT = Path(charmelio.__file__).parent / "samples" / "supply_agreement.pdf"


class CommandError(RuntimeError):
    """A refusal the user can act on: printed as one line, exit status 1."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    from operator_tools.devstack import StackError

    try:
        result: int = args.handler(args)
    except ConfigurationError as exc:
        print(f"charmelio: configuration error: {exc}", file=sys.stderr)
        return 2
    except (StackError, CommandError) as exc:
        print(f"charmelio: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="charmelio", description="Contract PDFs to clause data.")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="the embedded stack's data directory: where `dev` and `demo` keep their state, and"
        " where the other commands find a running stack (default: CHARMELIO_DATA_DIR, else"
        " .charmelio)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    worker = commands.add_parser("worker", help="run one worker pool's process")
    worker.add_argument("pool", choices=[pool.value for pool in POOLS])
    worker.set_defaults(handler=_worker)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(handler=_migrate)

    upload = commands.add_parser("upload", help="store PDFs; prints their document ids")
    upload.add_argument("files", nargs="+", type=Path, metavar="FILE")
    upload.set_defaults(handler=_upload)

    extract = commands.add_parser("extract", help="start extractions of files or document ids")
    extract.add_argument("targets", nargs="+", metavar="FILE_OR_ID")
    extract.add_argument("--wait", action="store_true", help="follow progress and print results")
    extract.add_argument("--json", action="store_true", help="print results as JSON")
    extract.set_defaults(handler=_extract)

    show = commands.add_parser("show", help="show an extraction (by extraction or document id)")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)

    evaluation = commands.add_parser(
        "eval", help="score extraction on CUAD-format contracts (PDFs + labels) with CUAD's rule"
    )
    evaluation.add_argument("folder", nargs="?", type=Path, default=Path("tests/fixtures/cuad"))
    evaluation.add_argument(
        "--provider",
        choices=("auto", "rules", "openai"),
        help="extraction provider (default: CHARMELIO_LLM_PROVIDER)",
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

    dev = commands.add_parser("dev", help="run the embedded local stack until Ctrl-C")
    dev.add_argument("--parse-workers", type=int, default=1)
    dev.add_argument("--llm-workers", type=int, default=1)
    dev.add_argument("--store-workers", type=int, default=1)
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
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(data_dir=args.data_dir)


def _stack_client_settings(args: argparse.Namespace) -> Settings:
    """Settings of a command that talks to a running stack: a clear word when there is none."""
    settings = _settings(args)
    if settings.database_url is None and not stack_env_path(args.data_dir).exists():
        where = stack_env_path(args.data_dir).parent
        raise ConfigurationError(
            f"no running stack found in {where}: start one with `charmelio dev` (from another"
            " directory, pass --data-dir DIR or set CHARMELIO_DATA_DIR to its data directory),"
            " or set CHARMELIO_DATABASE_URL and CHARMELIO_TEMPORAL_ADDRESS for a deployment"
        )
    return settings


# --- worker / migrate ----------------------------------------------------------------------------


def _worker(args: argparse.Namespace) -> int:
    """Runs the pool as `python -m PACKAGE` does; only that pool's package is imported."""
    import importlib

    from charmelio.worker_runtime import run_pool

    pool = PoolName(args.pool)
    worker = importlib.import_module(f"{PACKAGE_OF_POOL[pool]}.worker")
    return run_pool(pool, worker.pool_spec)


def _migrate(_: argparse.Namespace) -> int:
    from charmelio.storage.database import migrate

    applied = migrate(_settings(_).require_database_url())
    print(f"applied {len(applied)} migration(s): {applied}" if applied else "schema up to date")
    return 0


def _api(args: argparse.Namespace) -> int:
    from api_server import serve

    serve(_settings(args), host=args.host, port=args.port)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from operator_tools.evaluation import run_evaluation

    return run_evaluation(_settings(args), args.folder, provider=args.provider, as_json=args.json)


# --- loadtest ------------------------------------------------------------------------------------


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
    for pool in ("parse", "llm", "store"):
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

    workers = {
        pool: sizes
        for pool in ("parse", "llm", "store")
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


# --- upload / extract / show ---------------------------------------------------------------------


def _upload_files(files: Sequence[Path], settings: Settings) -> dict[Path, str] | None:
    from charmelio.documents import UploadRejectedError, upload_pdf
    from charmelio.storage.objects import open_object_store

    store = open_object_store(settings)
    database_url = settings.require_database_url()
    ids: dict[Path, str] = {}
    failed = False
    for path in files:
        try:
            data = path.read_bytes()
            uploaded = upload_pdf(
                data,
                path.name,
                store=store,
                database_url=database_url,
                max_bytes=settings.max_pdf_bytes,
            )
        except (OSError, UploadRejectedError) as exc:
            print(f"{path}: refused: {exc}", file=sys.stderr)
            failed = True
            continue
        ids[path] = uploaded.document_id
        state = "new" if uploaded.created else "already uploaded"
        print(f"{uploaded.document_id}  {path}  ({state}, {uploaded.size_bytes:,} bytes)")
    return None if failed else ids


def _upload(args: argparse.Namespace) -> int:
    return 0 if _upload_files(args.files, _stack_client_settings(args)) is not None else 1


def _extract(args: argparse.Namespace) -> int:
    from charmelio.contract import validate_document_id

    settings = _stack_client_settings(args)
    for target in args.targets:
        if not Path(target).is_file():
            try:
                validate_document_id(target)
            except ValueError as exc:
                print(f"charmelio: {target}: no such file, and {exc}", file=sys.stderr)
                return 2
    document_ids: list[str] = []
    for target in args.targets:
        path = Path(target)
        if path.is_file():
            uploaded = _upload_files([path], settings)
            if uploaded is None:
                return 1
            document_ids.append(uploaded[path])
        else:
            document_ids.append(target)
    return asyncio.run(
        _extract_documents(settings, document_ids, wait=args.wait, as_json=args.json)
    )


async def _extract_documents(
    settings: Settings, document_ids: list[str], *, wait: bool, as_json: bool
) -> int:
    from temporalio.client import WorkflowFailureError

    from charmelio.starter import follow, start_extraction
    from charmelio.worker_runtime import connect

    client = await connect(settings)
    handles = {doc: await start_extraction(client, doc) for doc in document_ids}
    for doc, handle in handles.items():
        print(f"{doc}: started workflow {handle.id}", file=sys.stderr)
    if not wait:
        return 0

    async def one(doc: str) -> tuple[str, str | None, str | None]:
        def progress(stage: str) -> None:
            print(f"{doc}: {stage}", file=sys.stderr)

        try:
            done = await follow(handles[doc], progress)
        except WorkflowFailureError as exc:
            return doc, None, str(exc.cause or exc)
        return doc, done.extraction_id, None

    outcomes = await asyncio.gather(*(one(doc) for doc in document_ids))
    status = 0
    database_url = settings.require_database_url()
    for doc, extraction_id, error in outcomes:
        if error is not None:
            print(f"{doc}: FAILED: {error}", file=sys.stderr)
            status = 1
            continue
        assert extraction_id is not None
        _print_stored(database_url, extraction_id, as_json=as_json)
    return status


def _show(args: argparse.Namespace) -> int:
    database_url = _stack_client_settings(args).require_database_url()
    return 0 if _print_stored(database_url, args.id, as_json=args.json) else 1


def _print_stored(database_url: str, some_id: str, *, as_json: bool) -> bool:
    from charmelio.results import load_extraction

    view = load_extraction(database_url, some_id)
    if view is None:
        print(f"charmelio: no extraction found for {some_id!r}", file=sys.stderr)
        return False
    if as_json:
        print(json.dumps({"extraction": view.extraction, "clauses": view.clauses}, default=str))
    else:
        print(render_view(view))
    return True


def render_view(view: StoredView) -> str:
    extraction = view.extraction
    fields: dict[str, Any] = extraction.get("fields") or {}
    lines = [
        f"extraction {extraction['extraction_id']}  document {extraction['document_id']}",
        f"status     {extraction['status']}"
        + (f"  ({extraction['provider']}/{extraction['model']})" if extraction["provider"] else ""),
    ]
    if extraction.get("llm_requests"):
        lines.append(
            f"llm usage  {extraction['llm_requests']} request(s), "
            f"{extraction.get('tokens_used') or 0:,} tokens "
            f"({extraction.get('prompt_tokens') or 0:,} prompt + "
            f"{extraction.get('completion_tokens') or 0:,} completion)"
        )
    if extraction["status"] == "failed":
        lines.append(
            f"failed in  {extraction['failed_stage']}: {extraction['error_type']}: "
            f"{extraction['error_message']}"
        )
        return "\n".join(lines)
    parties = ", ".join(p.get("name", "?") for p in fields.get("parties") or [])
    for label, value in (
        ("parties", parties),
        ("effective", fields.get("effective_date")),
        ("ends", fields.get("termination_date")),
        ("term", fields.get("term_length")),
        ("law", fields.get("governing_law")),
    ):
        if value:
            lines.append(f"{label:<10} {value}")
    topics = [(name, fields[name]) for name in TOPIC_FIELDS if fields.get(name)]
    if topics:
        lines.append("\nkey clauses:")
        for name, topic in topics:
            quote = textwrap.shorten(" ".join(str(topic["quote"]).split()), 80, placeholder=" …")
            lines.append(f"  {name.replace('_', ' '):<24} p.{topic['page']:<3} {quote}")
    lines.append(f"\n{len(view.clauses)} clause finding(s):")
    lines.append(f"{'CATEGORY':<34} {'PAGE':>4}  QUOTE")
    for clause in view.clauses:
        quote = " ".join(str(clause["quote"]).split())
        short = textwrap.shorten(quote, width=90, placeholder=" …")
        lines.append(f"{clause['category']:<34} {clause['page']:>4}  {short}")
    return "\n".join(lines)


# --- the local stack -----------------------------------------------------------------------------


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
        "workflow": 1,
        "parse": args.parse_workers,
        "llm": args.llm_workers,
        "store": args.store_workers,
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
            "Ready. In another terminal: charmelio extract FILE.pdf --wait   (Ctrl-C stops)",
            file=sys.stderr,
        )
        for process in stack.workers():
            if process.metrics_port:
                print(
                    f"Metrics    {process.name}: http://127.0.0.1:{process.metrics_port}/metrics",
                    file=sys.stderr,
                )
        try:
            while not (dead := stack.check_alive()):
                time.sleep(1)
            print(f"charmelio: stopped because {', '.join(dead)} exited", file=sys.stderr)
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
        uploaded = _upload_files([args.file], stack_settings)
        if uploaded is None:
            return 1
        return asyncio.run(
            _extract_documents(stack_settings, [uploaded[args.file]], wait=True, as_json=False)
        )


def _lower(env: dict[str, str]) -> dict[str, Any]:
    return {key.removeprefix("CHARMELIO_").lower(): value for key, value in env.items()}
