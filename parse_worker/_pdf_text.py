"""Page texts out of PDF bytes with pypdf: the checks, the extraction and nothing else.

Free of Temporal and storage so it can be tested (and replaced by another engine) on its own.
Every refusal is a typed error with a machine-readable ``reason``, so the workflow can tell a file
the user must fix (`PDFValidationError`) from one no engine could read (`PDFParseError`).
"""

from __future__ import annotations

import io
import logging
import re
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import pypdf
from pypdf import PasswordType, PdfReader
from pypdf.errors import PyPdfError

from charmelio.contract import PageText
from charmelio.errors import PDFParseError, PDFValidationError

ENGINE = f"pypdf {pypdf.__version__}"
HEADER_WINDOW = 1024
"""Readers (and pypdf) accept a ``%PDF-`` header anywhere in the first kilobyte, so we do too."""

# What pypdf raises on damaged input. Deliberately not `Exception`: in a sync Temporal activity a
# cancellation is thrown into the thread, possibly inside pypdf, and must not become a parse error.
_PYPDF_FAILURES: tuple[type[BaseException], ...] = (
    PyPdfError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    AssertionError,
    NotImplementedError,
    RecursionError,
    OverflowError,
    zlib.error,
    struct.error,
)


@dataclass(frozen=True)
class ParseStats:
    page_count: int
    char_count: int
    pages_without_text: list[int]
    engine: str
    engine_warnings: int
    """Problems pypdf logged and worked around (one per recovered object on damaged files)."""


class _PypdfLogCounter(logging.Handler):
    """Counts pypdf's log records per thread instead of printing them.

    pypdf logs each robustness fix it applies (over 1,400 lines for one 117-page file); the caller
    reports the count once. Per thread because a worker parses several documents concurrently.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        self._local.count = self.count() + 1

    def count(self) -> int:
        return getattr(self._local, "count", 0)

    def reset(self) -> None:
        self._local.count = 0


_log_counter = _PypdfLogCounter()
_install_lock = threading.Lock()


def _count_pypdf_logs() -> None:
    """Route the ``pypdf`` logger (and its children) to the counter, once per process."""
    with _install_lock:
        pypdf_logger = logging.getLogger("pypdf")
        if _log_counter not in pypdf_logger.handlers:
            pypdf_logger.addHandler(_log_counter)
            pypdf_logger.propagate = False
    _log_counter.reset()


def normalise_page_text(text: str) -> str:
    """Tidy whitespace but keep the line structure clause finding relies on."""
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{4,}", "\n\n\n", "\n".join(lines)).strip("\n")


def _check_bytes(data: bytes, max_bytes: int) -> None:
    if not data:
        raise PDFValidationError("The file is empty (0 bytes); upload it again.", reason="empty")
    if len(data) > max_bytes:
        raise PDFValidationError(
            f"The file is {len(data):,} bytes, over the {max_bytes:,}-byte limit; "
            "split it or raise CHARMELIO_MAX_PDF_BYTES.",
            reason="too_large",
            size_bytes=len(data),
            max_bytes=max_bytes,
        )
    if b"%PDF-" not in data[:HEADER_WINDOW]:
        raise PDFValidationError(
            "The file is not a PDF (no %PDF- header at its start); "
            "export or print the document to PDF and upload that.",
            reason="not_a_pdf",
        )


def _open(data: bytes) -> PdfReader:
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise PDFValidationError(
            "The PDF is protected by a password; upload a copy saved without one.",
            reason="encrypted",
        )
    return reader


def _unreadable(exc: BaseException, where: str) -> PDFParseError:
    return PDFParseError(
        f"The PDF is damaged and could not be read ({where}: {type(exc).__name__}: {exc}); "
        "it may be truncated or corrupt, so upload the original file again.",
        reason="unreadable",
        engine=ENGINE,
    )


def extract_pages(
    data: bytes,
    *,
    max_bytes: int,
    max_pages: int,
    on_page: Callable[[int, int], None] | None = None,
) -> tuple[list[PageText], ParseStats]:
    """Check ``data`` and return each page's text (1-based) with statistics.

    ``on_page(done, total)`` runs after every page, outside the error mapping, so whatever it raises
    (a heartbeat's cancellation, say) reaches the caller unchanged.
    """
    _check_bytes(data, max_bytes)
    _count_pypdf_logs()
    try:
        reader = _open(data)
        total = len(reader.pages)
    except _PYPDF_FAILURES as exc:
        raise _unreadable(exc, "opening the file") from exc
    if total > max_pages:
        raise PDFValidationError(
            f"The PDF has {total:,} pages, over the {max_pages:,}-page limit; "
            "split it or raise CHARMELIO_MAX_PDF_PAGES.",
            reason="too_many_pages",
            page_count=total,
            max_pages=max_pages,
        )

    pages: list[PageText] = []
    for number in range(1, total + 1):
        try:
            raw = reader.pages[number - 1].extract_text()
        except _PYPDF_FAILURES as exc:
            raise _unreadable(exc, f"page {number}") from exc
        pages.append(PageText(page=number, text=normalise_page_text(raw)))
        if on_page is not None:
            on_page(number, total)

    without_text = [page.page for page in pages if not page.text]
    if len(without_text) == total:
        raise PDFValidationError(
            f"No page of the PDF has a text layer ({total} page(s), likely scanned images); "
            "run OCR on it and upload the result."
            if total
            else "The PDF has no pages; upload the complete document.",
            reason="no_text_layer",
            page_count=total,
        )
    stats = ParseStats(
        page_count=total,
        char_count=sum(len(page.text) for page in pages),
        pages_without_text=without_text,
        engine=ENGINE,
        engine_warnings=_log_counter.count(),
    )
    return pages, stats
