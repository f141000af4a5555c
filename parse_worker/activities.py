"""The ``parse_pdf`` activity: PDF bytes from object storage in, page texts to object storage out.

The page texts travel as a claim check (`ParsedPages` under `ObjectKeys.parsed_pages`) because a
long contract's text would bloat workflow history; the workflow only sees `ParsedDocument`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from temporalio import activity

from charmelio.contract import ActivityName, ObjectKeys, ParsedDocument, ParsedPages, ParseRequest
from charmelio.errors import DocumentNotFoundError
from charmelio.settings import Settings
from charmelio.storage.objects import ObjectNotFoundError, ObjectStore, open_object_store
from parse_worker._pdf_text import ParseOptions, extract_pages

__all__ = ["ParseActivities", "activities_for"]

_log = logging.getLogger(__name__)


def _heartbeat_progress(done: int, total: int) -> None:
    # Called at least every second while the engine works, so a heartbeat timeout of a few
    # seconds would catch a dead worker, and a cancellation reaches this thread within a second.
    activity.heartbeat(done, total)


class ParseActivities:
    """``parse_pdf`` bound to the worker's object store and parse settings.

    The method is synchronous: the worker runs it in a thread pool sized by ``parse_concurrency``,
    and each thread drives its own engine process (`parse_worker._engine_process`), where the
    CPU-bound parsing happens. A thread spends its time waiting on a pipe, so threads scale like
    processes up to the number of cores (docs/parsing.md).
    """

    def __init__(self, store: ObjectStore, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self._options = ParseOptions.from_settings(settings)

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

        pages, stats = extract_pages(
            data,
            max_bytes=self._settings.max_pdf_bytes,
            max_pages=self._settings.max_pdf_pages,
            on_page=_heartbeat_progress,
            options=self._options,
        )
        _log.info(
            "pdf parsed",
            extra={
                "document_id": document_id,
                "engine": stats.engine,
                "pages": stats.page_count,
                "chars": stats.char_count,
                "pages_without_text": len(stats.pages_without_text),
                "blank_pages": len(stats.blank_pages),
                "ocr_pages": len(stats.ocr_pages),
                "engine_warnings": stats.engine_warnings,
                "fallbacks": stats.fallbacks,
                "parse_ms": round(stats.seconds * 1000, 1),
                "engine_peak_rss_mb": round(stats.engine_peak_rss_bytes / 2**20, 1),
                "javascript_actions": stats.javascript_actions,
                "attachments": stats.attachments,
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
            blank_pages=stats.blank_pages,
            engine=stats.engine,
            parse_seconds=stats.seconds,
            ocr_pages=stats.ocr_pages,
            engine_warnings=stats.engine_warnings,
            javascript_actions=stats.javascript_actions,
            attachments=stats.attachments,
        )


def activities_for(settings: Settings) -> list[Callable[..., Any]]:
    """The parse pool's activities, sharing one object-store client across the worker's threads."""
    return [ParseActivities(open_object_store(settings), settings).parse_pdf]
