"""`charmelio batch`: a folder of contracts in, one durable batch out, progress a person can follow.

The batch runs in Temporal (`BatchExtractionWorkflow`), not in this process: ``--wait`` only
watches it, and closing the terminal changes nothing. ``charmelio batch status ID`` picks it up
again from any terminal; ``charmelio batch cancel ID`` stops it starting new documents.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from charmelio.settings import Settings
from cli._common import CommandError, stack_client_settings

if TYPE_CHECKING:
    from charmelio.batches import BatchDocument
    from charmelio.contract import BatchProgress

# The summary table lists this many documents; `batch status ID --documents` lists them all.
SUMMARY_ROWS = 200
_SUBCOMMANDS = ("status", "cancel")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    batch = commands.add_parser(
        "batch",
        help="extract a folder of contracts as one batch (also: batch status ID, batch cancel ID)",
        description="Upload PDFs (folders are searched for *.pdf) and extract them as one durable"
        " batch. `charmelio batch status ID` follows a batch from any terminal; `charmelio batch"
        " cancel ID` stops it starting new documents.",
    )
    batch.add_argument("targets", nargs="+", metavar="FOLDER_OR_FILE")
    batch.add_argument("--wait", action="store_true", help="follow progress, then print a summary")
    batch.add_argument(
        "--force", action="store_true", help="extract again documents already extracted"
    )
    batch.add_argument(
        "--documents", action="store_true", help="with status: list every document of the batch"
    )
    batch.add_argument("--json", action="store_true", help="print the final progress as JSON")
    batch.set_defaults(handler=_batch)


def _batch(args: argparse.Namespace) -> int:
    targets: list[str] = args.targets
    if targets[0] in _SUBCOMMANDS and not Path(targets[0]).exists():
        if len(targets) != 2:
            raise CommandError(f"usage: charmelio batch {targets[0]} BATCH_ID")
        settings = stack_client_settings(args)
        if targets[0] == "cancel":
            return asyncio.run(_cancel(settings, targets[1]))
        return asyncio.run(_status(settings, targets[1], wait=args.wait, args=args))
    settings = stack_client_settings(args)
    files = pdf_files(targets)
    console = Console(stderr=True)
    names, refused = _upload_all(files, settings, console)
    if not names:
        raise CommandError("nothing to extract: no file could be uploaded")
    return asyncio.run(_start(settings, names, refused, args, console))


def pdf_files(targets: Sequence[str]) -> list[Path]:
    """Files as given, and every ``*.pdf`` under each folder (sorted), each once."""
    found: list[Path] = []
    for target in targets:
        path = Path(target)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() == ".pdf"))
        elif path.is_file():
            found.append(path)
        else:
            raise CommandError(f"{target}: no such file or folder")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise CommandError("no PDF files found")
    return unique


def _upload_all(
    files: list[Path], settings: Settings, console: Console
) -> tuple[dict[str, str], dict[Path, str]]:
    """Upload with a progress bar; (document id → file name, refused file → reason)."""
    from charmelio.documents import UploadRejectedError, upload_pdf
    from charmelio.storage.objects import open_object_store

    store = open_object_store(settings)
    database_url = settings.require_database_url()
    names: dict[str, str] = {}
    refused: dict[Path, str] = {}
    columns = (
        TextColumn("uploading"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[refused]} refused"),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("upload", total=len(files), refused=0)
        for path in files:
            try:
                uploaded = upload_pdf(
                    path.read_bytes(),
                    path.name,
                    store=store,
                    database_url=database_url,
                    max_bytes=settings.max_pdf_bytes,
                )
            except UploadRejectedError as exc:
                refused[path] = str(exc)
            except OSError as exc:
                refused[path] = f"cannot be read: {exc.strerror or exc}"
            else:
                names.setdefault(uploaded.document_id, path.name)
            progress.update(task, advance=1, refused=len(refused))
    for path, reason in refused.items():
        console.print(f"{path}: refused: {reason}", markup=False, highlight=False)
    duplicates = len(files) - len(refused) - len(names)
    console.print(
        f"uploaded {len(names)} document(s)"
        + (f" ({duplicates} file(s) had the same content as another)" if duplicates else "")
        + (f", {len(refused)} refused" if refused else ""),
        markup=False,
        highlight=False,
    )
    return names, refused


async def _start(
    settings: Settings,
    names: dict[str, str],
    refused: dict[Path, str],
    args: argparse.Namespace,
    console: Console,
) -> int:
    from charmelio.batches import new_batch_id, save_batch_list, start_batch
    from charmelio.contract import BatchInput
    from charmelio.storage.objects import open_object_store
    from charmelio.worker_runtime import connect

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    batch_id = new_batch_id(f"{stamp}-{secrets.token_hex(3)}")
    key = save_batch_list(open_object_store(settings), batch_id, list(names))
    client = await connect(settings)
    await start_batch(
        client,
        batch_id,
        BatchInput(
            list_key=key,
            force=args.force,
            max_in_flight=settings.batch_max_in_flight,
            documents_per_run=settings.batch_documents_per_run,
        ),
    )
    console.print(
        f"started batch {batch_id}: {len(names)} document(s)"
        + (" (forced: every document extracted again)" if args.force else ""),
        markup=False,
        highlight=False,
    )
    print(batch_id)
    if not args.wait:
        console.print(
            f"follow it with: charmelio batch status {batch_id} --wait",
            markup=False,
            highlight=False,
        )
        return 0
    progress = await _watch(client, batch_id, console)
    return _finish(settings, progress, names, args, console)


async def _status(
    settings: Settings, batch_id: str, *, wait: bool, args: argparse.Namespace
) -> int:
    from temporalio.client import WorkflowFailureError
    from temporalio.service import RPCError

    from charmelio.batches import batch_handle, batch_progress
    from charmelio.contract import validate_batch_id
    from charmelio.worker_runtime import connect

    try:
        validate_batch_id(batch_id)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    console = Console(stderr=True)
    client = await connect(settings)
    if wait:
        progress = await _watch(client, batch_id, console)
    else:
        try:
            progress = await batch_progress(batch_handle(client, batch_id), rpc_timeout=5)
        except RPCError as exc:
            raise CommandError(f"batch {batch_id}: {exc.message}") from None
        except WorkflowFailureError as exc:
            raise _ended_abnormally(batch_id, exc) from None
        console.print(progress_line(progress, time.time()), markup=False, highlight=False)
    if progress.status == "running" and not args.documents:
        return 0
    return _finish(settings, progress, {}, args, console)


async def _cancel(settings: Settings, batch_id: str) -> int:
    from temporalio.service import RPCError

    from charmelio.batches import batch_handle, cancel_batch
    from charmelio.contract import validate_batch_id
    from charmelio.worker_runtime import connect

    try:
        validate_batch_id(batch_id)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    client = await connect(settings)
    try:
        await cancel_batch(batch_handle(client, batch_id))
    except RPCError as exc:
        raise CommandError(f"batch {batch_id}: {exc.message}") from None
    print(f"batch {batch_id}: cancelled; documents in flight finish, no new one starts")
    return 0


async def _watch(client: object, batch_id: str, console: Console) -> BatchProgress:
    """One live line (done/total, rate, ETA, failures) until the batch ends."""
    from temporalio.client import Client, WorkflowFailureError

    from charmelio.batches import batch_handle, follow_batch

    assert isinstance(client, Client)
    handle = batch_handle(client, batch_id)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[detail]}"),
    )
    last_plain = 0.0
    with Progress(*columns, console=console, transient=False) as live:
        task = live.add_task(batch_id, total=None, rate="", detail="")

        def show(progress: BatchProgress) -> None:
            nonlocal last_plain
            now = time.time()
            rate = _rate(progress, now)
            live.update(
                task,
                total=progress.total or None,
                completed=progress.finished,
                rate=f"{rate:.2f} docs/s" if rate else "",
                detail=_detail(progress),
            )
            if not console.is_terminal and (now - last_plain > 5 or progress.status != "running"):
                last_plain = now
                print(progress_line(progress, now), file=sys.stderr)

        try:
            return await follow_batch(handle, show)
        except WorkflowFailureError as exc:
            raise _ended_abnormally(batch_id, exc) from None


def _ended_abnormally(batch_id: str, error: BaseException) -> CommandError:
    """A batch terminated (or failed) leaves no progress to show; its documents say the rest."""
    cause = getattr(error, "cause", None) or error
    return CommandError(
        f"batch {batch_id} ended without a result ({cause}); documents it had started still"
        f" finish and store: see them with charmelio show DOCUMENT"
    )


def _rate(progress: BatchProgress, now: float) -> float:
    if not progress.started_at:
        return 0.0
    elapsed = now - datetime.fromisoformat(progress.started_at).timestamp()
    return progress.finished / elapsed if elapsed > 0 else 0.0


def _detail(progress: BatchProgress) -> str:
    parts = [f"{progress.in_flight} in flight"]
    if progress.reused:
        parts.append(f"{progress.reused} reused")
    if progress.failed:
        parts.append(f"{progress.failed} failed")
    if progress.skipped:
        parts.append(f"{progress.skipped} not started")
    return ", ".join(parts)


def progress_line(progress: BatchProgress, now: float) -> str:
    """The batch in one line, e.g. ``batch-x running 120/1000, 2.1 docs/s, ETA 7m, 1 failed``."""
    rate = _rate(progress, now)
    line = f"{progress.batch_id} {progress.status} {progress.finished}/{progress.total}"
    if rate:
        line += f", {rate:.2f} docs/s"
        left = progress.total - progress.finished
        if progress.status == "running" and left:
            line += f", ETA {_duration(left / rate)}"
    return f"{line}, {_detail(progress)}"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _finish(
    settings: Settings,
    progress: BatchProgress,
    names: dict[str, str],
    args: argparse.Namespace,
    console: Console,
) -> int:
    from charmelio.batches import batch_documents

    limit = None if args.documents else SUMMARY_ROWS
    members = batch_documents(
        settings.require_database_url(), progress.batch_id, limit=limit or 1_000_000
    )
    if args.json:
        print(json.dumps(progress.model_dump(mode="json")))
    else:
        out = Console()
        out.print(summary_table(members, names, progress))
        if limit is not None and progress.total > limit:
            out.print(
                f"… {progress.total - limit} more: charmelio batch status {progress.batch_id}"
                " --documents",
                markup=False,
                highlight=False,
            )
    console.print(progress_line(progress, time.time()), markup=False, highlight=False)
    for failure_type, count in sorted(progress.failures_by_type.items()):
        console.print(f"  {count} failed with {failure_type}", markup=False, highlight=False)
    return 1 if progress.failed else 0


def member_status(member: BatchDocument, progress: BatchProgress) -> str:
    """completed, reused (extracted before this batch began), failed, or where it stands."""
    if member.status == "completed":
        started = datetime.fromisoformat(progress.started_at) if progress.started_at else None
        if started and member.finished_at and member.finished_at < started:
            return "reused"
        return "completed"
    if member.status == "failed":
        return "failed"
    return "not started" if progress.status != "running" else "waiting"


def summary_table(
    members: Sequence[BatchDocument], names: dict[str, str], progress: BatchProgress
) -> Table:
    table = Table(title=f"batch {progress.batch_id}", title_justify="left")
    for column, style in (
        ("file", "bold"),
        ("parties", ""),
        ("governing law", ""),
        ("clauses", ""),
        ("status", ""),
        ("reason", "red"),
    ):
        table.add_column(column, style=style or None, overflow="fold")
    for member in members:
        status = member_status(member, progress)
        reason = ""
        if status == "failed":
            reason = f"{member.failed_stage}: {member.error_type}: {member.error_message or ''}"
        # Text, not markup: file names and contract text may hold "[...]".
        cells = (
            names.get(member.document_id) or member.filename or member.document_id,
            "; ".join(member.parties),
            member.governing_law or "",
            str(member.clause_count) if member.status == "completed" else "",
            status,
            reason[:300],
        )
        table.add_row(*(Text(cell) for cell in cells))
    return table
