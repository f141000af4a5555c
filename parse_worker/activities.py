"""The ``parse_pdf`` activity: PDF bytes from object storage in, page texts to object storage out.

The page texts travel as a claim check (`ParsedPages` under `ObjectKeys.parsed_pages`) because a
long contract's text would bloat workflow history; the workflow only sees `ParsedDocument`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from temporalio import activity

from charmelio.contract import ActivityName, ObjectKeys, ParsedDocument, ParsedPages, ParseRequest
from charmelio.errors import DocumentNotFoundError
from charmelio.settings import Settings
from charmelio.storage.objects import ObjectNotFoundError, ObjectStore, open_object_store
from parse_worker._pdf_text import extract_pages

_log = logging.getLogger(__name__)


def _heartbeat_progress(done: int, total: int) -> None:
    # A long contract can take over a minute with pypdf; per-page heartbeats let a short timeout
    # catch a dead worker without failing slow but healthy parses (the SDK throttles the calls).
    activity.heartbeat(done, total)


class ParseActivities:
    """``parse_pdf`` bound to the worker's object store and parse limits.

    The method is synchronous because pypdf is CPU-bound pure Python: the worker runs it in a thread
    pool sized by ``parse_concurrency`` rather than blocking the event loop.
    """

    def __init__(self, store: ObjectStore, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    @activity.defn(name=ActivityName.PARSE_PDF)
    def parse_pdf(self, request: ParseRequest) -> ParsedDocument:
        """Parse the stored PDF and store its page texts; re-running rewrites the same object."""
        document_id = request.document_id
        pdf_key = ObjectKeys.document_pdf(document_id)
        try:
            data = self._store.get_bytes(pdf_key)
        except ObjectNotFoundError:
            raise DocumentNotFoundError(
                f"No PDF is stored for document {document_id!r} (looked for {pdf_key!r}); "
                "upload the document before starting its extraction.",
                reason="not_found",
                key=pdf_key,
            ) from None

        started = time.monotonic()
        pages, stats = extract_pages(
            data,
            max_bytes=self._settings.max_pdf_bytes,
            max_pages=self._settings.max_pdf_pages,
            on_page=_heartbeat_progress,
        )
        parse_seconds = time.monotonic() - started
        if stats.engine_warnings:
            _log.info(
                "pdf engine worked around damage",
                extra={
                    "document_id": document_id,
                    "engine": stats.engine,
                    "engine_warnings": stats.engine_warnings,
                },
            )

        pages_key = ObjectKeys.parsed_pages(document_id)
        parsed = ParsedPages(document_id=document_id, engine=stats.engine, pages=pages)
        self._store.put_bytes(
            pages_key, parsed.model_dump_json().encode(), content_type="application/json"
        )
        return ParsedDocument(
            document_id=document_id,
            pages_key=pages_key,
            sha256=hashlib.sha256(data).hexdigest(),
            page_count=stats.page_count,
            char_count=stats.char_count,
            pages_without_text=stats.pages_without_text,
            engine=stats.engine,
            parse_seconds=parse_seconds,
        )


def activities_for(settings: Settings) -> list[Callable[..., Any]]:
    """The parse pool's activities, sharing one object-store client across the worker's threads."""
    return [ParseActivities(open_object_store(settings), settings).parse_pdf]
