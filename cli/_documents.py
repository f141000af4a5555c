"""`charmelio upload`, `extract` and `show`: documents in, extractions started, results read."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from charmelio.settings import Settings
from cli._common import CommandError, stack_client_settings
from cli._render import render_view

if TYPE_CHECKING:
    from charmelio.documents import UploadedDocument


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def upload_files(files: Sequence[Path], settings: Settings) -> dict[Path, str] | None:
    from charmelio.documents import UploadRejectedError, upload_pdf
    from charmelio.storage.objects import open_object_store

    store = open_object_store(settings)
    database_url = settings.require_database_url()
    ids: dict[Path, str] = {}
    failed = False
    for path in files:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            print(f"{path}: no such file", file=sys.stderr)
            failed = True
            continue
        except OSError as exc:
            print(f"{path}: cannot be read: {exc.strerror or exc}", file=sys.stderr)
            failed = True
            continue
        try:
            uploaded = upload_pdf(
                data,
                path.name,
                store=store,
                database_url=database_url,
                max_bytes=settings.max_pdf_bytes,
            )
        except UploadRejectedError as exc:
            print(f"{path}: refused: {exc}", file=sys.stderr)
            failed = True
            continue
        ids[path] = uploaded.document_id
        print(f"{uploaded.document_id}  {path}  ({_upload_state(uploaded)})")
    return None if failed else ids


def _upload_state(uploaded: UploadedDocument) -> str:
    if uploaded.created:
        return f"new, {uploaded.size_bytes:,} bytes"
    others = [name for name in uploaded.names if name != uploaded.filename]
    return "already uploaded" + (f" as {', '.join(others)}" if others else "")


def _upload(args: argparse.Namespace) -> int:
    return 0 if upload_files(args.files, stack_client_settings(args)) is not None else 1


def _extract(args: argparse.Namespace) -> int:
    from charmelio.contract import validate_document_id
    from charmelio.documents import document_exists
    from charmelio.storage.database import connect

    settings = stack_client_settings(args)
    database_url = settings.require_database_url()
    # Every target is checked before anything starts: a typo must not leave a failed extraction.
    for target in args.targets:
        if Path(target).is_file():
            continue
        try:
            validate_document_id(target)
        except ValueError:
            raise CommandError(f"{target}: no such file") from None
        with connect(database_url) as conn:
            known = document_exists(conn, target)
        if not known:
            raise CommandError(
                f"{target}: no such document (upload its PDF first, or give the file's path)"
            )
    document_ids: list[str] = []
    for target in args.targets:
        path = Path(target)
        if path.is_file():
            uploaded = upload_files([path], settings)
            if uploaded is None:
                return 1
            document_ids.append(uploaded[path])
        else:
            document_ids.append(target)
    return asyncio.run(extract_documents(settings, document_ids, wait=args.wait, as_json=args.json))


async def extract_documents(
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
    database_url = stack_client_settings(args).require_database_url()
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
