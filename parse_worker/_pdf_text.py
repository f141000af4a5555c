"""Page texts out of PDF bytes: the checks, the engine process, and every refusal's wording.

Free of Temporal and storage so it can be tested and benchmarked on its own. Cheap checks on the
bytes run here; everything that touches the PDF's structure runs in the engine process
(`parse_worker._engine_process`) under the guards below. Every refusal is a typed error with a
machine-readable ``reason``, so the workflow can tell a file the user must fix
(`PDFValidationError`) from one no engine could read (`PDFParseError`); a failure of the machine
rather than the file (`EngineFailure`) stays retryable.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from charmelio.contract import PageText
from charmelio.errors import CharmelioError, PDFParseError, PDFValidationError
from charmelio.settings import Settings
from parse_worker._engine_process import (
    EngineDied,
    EngineOutcome,
    EngineRefused,
    Guards,
    GuardTripped,
    engine_for_this_thread,
)
from parse_worker._engines import PDFIUM_ENGINE
from parse_worker._protocol import EngineJob, OcrMode

__all__ = [
    "ENGINE",
    "HEADER_WINDOW",
    "ParseOptions",
    "ParseStats",
    "extract_pages",
]

ENGINE = PDFIUM_ENGINE
"""The primary text engine; `ParseStats.engine` says which one a document actually used."""
HEADER_WINDOW = 1024
"""Readers (and both engines) accept a ``%PDF-`` header anywhere in the first kilobyte, so we do."""
_CPU_BACKSTOP_SECONDS = 30.0
_RESERVED_DETAILS = frozenset({"message", "reason", "next_retry_delay"})


@dataclass(frozen=True)
class ParseOptions:
    """How the engine runs; defaults match `Settings` (see docs/parsing.md for why)."""

    ocr: OcrMode = "auto"
    ocr_language: str = "eng"
    ocr_dpi: int = 300
    tesseract_command: str = "tesseract"
    time_budget_seconds: float = 480.0
    page_timeout_seconds: float = 30.0
    memory_limit_mb: int = 512

    @classmethod
    def from_settings(cls, settings: Settings) -> ParseOptions:
        return cls(
            ocr=settings.parse_ocr,
            ocr_language=settings.parse_ocr_language,
            ocr_dpi=settings.parse_ocr_dpi,
            tesseract_command=settings.parse_tesseract_command,
            time_budget_seconds=settings.parse_time_budget_seconds,
            page_timeout_seconds=settings.parse_page_timeout_seconds,
            memory_limit_mb=settings.parse_memory_limit_mb,
        )


@dataclass(frozen=True)
class ParseStats:
    page_count: int
    char_count: int
    pages_without_text: list[int]
    """Pages that show something but have no text: no text layer, and OCR off, unavailable or
    empty-handed. Blank pages are not among them."""
    engine: str
    engine_warnings: int
    """Problems the engine logged and worked around (pypdf logs one per recovered object)."""
    ocr_pages: list[int] = field(default_factory=list)
    """Pages whose text comes from OCR because they had no text layer."""
    seconds: float = 0.0
    engine_peak_rss_bytes: int = 0
    fallbacks: list[str] = field(default_factory=list)
    """Why an engine was abandoned for the next one, in order (empty when PDFium read it all)."""
    javascript_actions: int = 0
    attachments: int = 0
    blank_pages: list[int] = field(default_factory=list)
    """Pages with nothing on them (no text, no ink): never OCR'd, not pages without text."""


def extract_pages(
    data: bytes,
    *,
    max_bytes: int,
    max_pages: int,
    on_page: Callable[[int, int], None] | None = None,
    options: ParseOptions | None = None,
) -> tuple[list[PageText], ParseStats]:
    """Check ``data`` and return each page's text (1-based) with statistics.

    ``on_page(done, total)`` reports progress at least every second while the engine works and
    once at the end; whatever it raises (a heartbeat's cancellation, say) stops the engine and
    reaches the caller unchanged.
    """
    options = options or ParseOptions()
    _check_bytes(data, max_bytes)
    job = EngineJob(
        max_pages=max_pages,
        ocr=options.ocr,
        ocr_language=options.ocr_language,
        ocr_dpi=options.ocr_dpi,
        tesseract_command=options.tesseract_command,
        ocr_page_timeout_seconds=options.page_timeout_seconds + 5.0,
        memory_limit_bytes=options.memory_limit_mb * 1024 * 1024,
        cpu_seconds=options.time_budget_seconds + _CPU_BACKSTOP_SECONDS,
    )
    guards = Guards(
        time_budget_seconds=options.time_budget_seconds,
        page_timeout_seconds=options.page_timeout_seconds,
    )
    try:
        outcome = engine_for_this_thread().run(data, job, guards, on_page)
    except EngineRefused as refused:
        event = refused.refused
        error = PDFValidationError if event.kind == "validation" else PDFParseError
        details: dict[str, Any] = {
            key: value for key, value in event.details.items() if key not in _RESERVED_DETAILS
        }
        raise error(event.message, reason=event.reason, **details) from None
    except GuardTripped as tripped:
        raise _guard_error(tripped, options) from None
    except EngineDied as died:
        raise _death_error(died, options) from None
    return _pages_and_stats(outcome)


def _pages_and_stats(outcome: EngineOutcome) -> tuple[list[PageText], ParseStats]:
    pages = [PageText(page=page.number, text=page.text, ocr=page.ocr) for page in outcome.pages]
    engine = outcome.opened.engine
    if outcome.finished.ocr_engine:
        engine = f"{engine} + OCR {outcome.finished.ocr_engine}"
    stats = ParseStats(
        page_count=len(pages),
        char_count=sum(len(page.text) for page in pages),
        pages_without_text=[e.number for e in outcome.pages if not e.text and not e.blank],
        blank_pages=[event.number for event in outcome.pages if event.blank],
        engine=engine,
        engine_warnings=outcome.finished.engine_warnings,
        ocr_pages=[page.page for page in pages if page.ocr],
        seconds=outcome.seconds,
        engine_peak_rss_bytes=outcome.finished.peak_rss_bytes,
        fallbacks=outcome.fallbacks,
        javascript_actions=outcome.opened.javascript_actions,
        attachments=outcome.opened.attachments,
    )
    return pages, stats


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


def _guard_error(tripped: GuardTripped, options: ParseOptions) -> CharmelioError:
    if tripped.guard == "page_timeout":
        seconds = options.page_timeout_seconds
        return PDFParseError(
            f"Page {tripped.page} of the PDF took longer than {seconds:g} s to parse, the limit "
            "for one page, so parsing was stopped (such pages usually hold millions of drawing "
            "operations); re-save or print the document to a new PDF, or raise "
            "CHARMELIO_PARSE_PAGE_TIMEOUT_SECONDS.",
            reason="page_timeout",
            page=tripped.page,
            page_timeout_seconds=seconds,
        )
    return _over_budget(tripped.page - 1, tripped.page_count, options)


def _over_budget(done: int, page_count: int, options: ParseOptions) -> CharmelioError:
    budget = options.time_budget_seconds
    of_pages = f" of {page_count:,}" if page_count else ""
    return PDFParseError(
        f"Parsing the PDF took longer than its {budget:g}-second budget ({done:,}{of_pages} "
        "pages done), so it was stopped; split the document or raise "
        "CHARMELIO_PARSE_TIME_BUDGET_SECONDS (and the workflow's parse timeout with it).",
        reason="time_budget_exceeded",
        pages_done=done,
        time_budget_seconds=budget,
    )


def _death_error(died: EngineDied, options: ParseOptions) -> CharmelioError:
    if died.returncode >= 0:
        how = f"exited with status {died.returncode}"
        name = ""
    else:
        try:
            name = signal.Signals(-died.returncode).name
        except ValueError:
            name = f"signal {-died.returncode}"
        how = f"was stopped by {name}"
    if name == "SIGXCPU":
        return _over_budget(died.page - 1, died.page_count, options)
    if name in ("SIGABRT", "SIGKILL"):
        # PDFium aborts when an allocation fails; the kernel's OOM killer sends SIGKILL.
        return PDFParseError(
            f"The PDF engine {how} on page {died.page}, which is what happens when a page needs "
            f"more than the {options.memory_limit_mb} MB memory limit (for example a compressed "
            "stream that expands enormously); re-save or print the document to a new PDF, or "
            "raise CHARMELIO_PARSE_MEMORY_LIMIT_MB.",
            reason="memory_limit",
            page=died.page,
            memory_limit_mb=options.memory_limit_mb,
        )
    return PDFParseError(
        f"The PDF engine {how} on page {died.page}: the file is malformed in a way PDFium "
        "cannot handle; re-save or print the document to a new PDF and upload that.",
        reason="engine_crashed",
        page=died.page,
    )
