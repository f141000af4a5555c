"""Page texts out of PDF bytes: PDFium first, pypdf when PDFium cannot read the file, Tesseract for
pages without a text layer.

This runs inside the engine process (`parse_worker._engine_main`), never in a worker thread: PDFium
is not thread-safe and its C calls cannot be interrupted. It imports no Temporal, storage or
pydantic code, so tests can also run it in-process. Whatever the document itself gets wrong is a
`Refusal` with a machine-readable reason; the worker turns it into a typed error.

PDFium was chosen by measurement (docs/parsing.md): about ten times faster than pypdf on the CUAD
contracts, with the same share of CUAD's labelled clauses found in its text. pypdf stays as the
fallback because it recovers some damage PDFium refuses (a trailer whose /Root is broken, a page
tree whose /Count lies).
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from pypdfium2.version import PDFIUM_INFO, PYPDFIUM_INFO

from parse_worker._ocr import Tesseract
from parse_worker._protocol import EngineJob, Finished, Opened, Page, RefusalKind, Refused
from parse_worker._text import normalise_page_text

__all__ = [
    "PDFIUM_ENGINE",
    "OcrSetup",
    "Refusal",
    "extract_document",
    "pypdf_engine",
]

PDFIUM_ENGINE = f"pdfium {PDFIUM_INFO.tag} (pypdfium2 {PYPDFIUM_INFO.version})"


def pypdf_engine() -> str:
    import pypdf

    return f"pypdf {pypdf.__version__}"


class Refusal(Exception):
    """The document cannot be turned into page texts, for a reason a person can act on."""

    def __init__(self, kind: RefusalKind, reason: str, message: str, **details: int | str) -> None:
        super().__init__(message)
        self.kind: RefusalKind = kind
        self.reason = reason
        self.message = message
        self.details = details

    def event(self) -> Refused:
        return Refused(
            kind=self.kind, reason=self.reason, message=self.message, details=self.details
        )


@dataclass(frozen=True)
class OcrSetup:
    """Whether pages without a text layer are OCR'd, and if not, why not (for the refusal)."""

    tesseract: Tesseract | None
    why_not: str | None = None
    dpi: int = 300
    page_timeout_seconds: float = 60.0


@dataclass
class _Tally:
    pages_with_text: int = 0
    ocr_pages: int = 0
    warnings: int = 0


INK_CHECK_DPI = 24
"""Resolution of the ink check: a letter-size page is 204 x 264 pixels, rendered in about a
millisecond, and a line of 10-point text still leaves dark pixels at it."""
INK_LEVEL = 160
"""A pixel darker than this (0 black, 255 white) is ink."""
MIN_INK_PIXELS = 4
"""A page with fewer dark pixels than this at `INK_CHECK_DPI` is blank: nothing to read."""
TOKEN_TEXT_CHARS = 100
"""A text layer with fewer non-space characters than this over a page-filling image is a scan's
stray label ("Background"), not the page's text: the page is OCR'd."""
PAGE_IMAGE_SHARE = 0.5
"""An image covering at least this share of the page makes it a scanned page."""


@dataclass(frozen=True)
class PageRead:
    """One page's text and how it was obtained."""

    text: str
    ocr: bool = False
    blank: bool = False


class _PageFailed(Exception):
    def __init__(self, page: int, cause: BaseException) -> None:
        super().__init__(f"page {page}: {cause}")
        self.page = page


def extract_document(
    data: bytes, job: EngineJob, ocr: OcrSetup
) -> Iterator[Opened | Page | Finished]:
    """Events for one document: `Opened`, one `Page` per page (1-based), then `Finished`.

    A second `Opened` means PDFium gave up part-way and pypdf starts the document over; the
    receiver drops the pages it had. Raises `Refusal` for documents that must be refused.
    """
    pdfium_failure: str | None = None
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        _refuse_if_locked(exc)
        pdfium_failure = f"PDFium could not open it: {_pdfium_reason(exc)}"
    else:
        try:
            tally = yield from _pdfium_pages(document, job, ocr)
        except _PageFailed as exc:
            pdfium_failure = f"PDFium could not read {exc}"
        finally:
            document.close()
        if pdfium_failure is None:
            yield _finish(tally, ocr)
            return
    tally = yield from _pypdf_pages(data, job, pdfium_failure)
    no_ocr = OcrSetup(
        tesseract=None,
        why_not="OCR needs PDFium to render pages, and PDFium could not read this file",
    )
    yield _finish(tally, no_ocr)


def _finish(tally: _Tally, ocr: OcrSetup) -> Finished:
    if tally.pages_with_text == 0:
        raise _no_text_layer(ocr)
    return Finished(
        engine_warnings=tally.warnings,
        ocr_engine=ocr.tesseract.engine if ocr.tesseract and tally.ocr_pages else None,
        peak_rss_bytes=0,  # measured by the engine process, which knows when the document began
    )


def _check_page_count(count: int, max_pages: int) -> None:
    if count > max_pages:
        raise Refusal(
            "validation",
            "too_many_pages",
            f"The PDF has {count:,} pages, over the {max_pages:,}-page limit; "
            "split it or raise CHARMELIO_MAX_PDF_PAGES.",
            page_count=count,
            max_pages=max_pages,
        )
    if count == 0:
        raise Refusal(
            "validation",
            "no_text_layer",
            "The PDF has no pages; upload the complete document.",
            page_count=0,
        )


def _no_text_layer(ocr: OcrSetup) -> Refusal:
    if ocr.tesseract is not None:
        message = (
            "No page of the PDF has a text layer, and OCR found no readable text on them "
            "either; upload a clearer scan or a PDF with text."
        )
    else:
        message = (
            "No page of the PDF has a text layer (likely scanned images) and "
            f"{ocr.why_not or 'OCR is off'}; run OCR on it and upload the result."
        )
    ocr_state = "tried" if ocr.tesseract is not None else "not_run"
    return Refusal("validation", "no_text_layer", message, ocr=ocr_state)


# --- PDFium ------------------------------------------------------------------------------------


def _refuse_if_locked(exc: Any) -> None:
    if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
        raise Refusal(
            "validation",
            "encrypted",
            "The PDF is protected by a password; upload a copy saved without one.",
        )
    if exc.err_code == pdfium_c.FPDF_ERR_SECURITY:
        raise Refusal(
            "validation",
            "encrypted",
            "The PDF is locked by a security handler other than a password (certificate or "
            "DRM encryption); upload a copy saved without protection.",
        )


def _pdfium_reason(exc: Any) -> str:
    """``Failed to load document (PDFium: Data format error).`` → ``data format error``."""
    text = str(exc)
    if "(" in text:
        text = text[text.find("(") + 1 : text.rfind(")")]
    return text.removeprefix("PDFium: ").lower()


def _pdfium_pages(
    document: Any, job: EngineJob, ocr: OcrSetup
) -> Generator[Opened | Page, None, _Tally]:
    count = len(document)
    _check_page_count(count, job.max_pages)
    yield Opened(
        engine=PDFIUM_ENGINE,
        page_count=count,
        # Both return -1 on error: count nothing rather than fail a readable document.
        javascript_actions=max(0, pdfium_c.FPDFDoc_GetJavaScriptActionCount(document.raw)),
        attachments=max(0, pdfium_c.FPDFDoc_GetAttachmentCount(document.raw)),
    )
    tally = _Tally()
    for number in range(1, count + 1):
        read = _pdfium_page_text(document, number, ocr)
        tally.pages_with_text += bool(read.text)
        tally.ocr_pages += read.ocr
        yield Page(number=number, text=read.text, ocr=read.ocr, blank=read.blank)
    return tally


def _pdfium_page_text(document: Any, number: int, ocr: OcrSetup) -> PageRead:
    """The text layer, or what OCR reads when the page is a scan; blank pages are not rendered
    at OCR resolution at all."""
    try:
        page = document[number - 1]
    except pdfium.PdfiumError as exc:
        raise _PageFailed(number, exc) from exc
    try:
        try:
            text_page = page.get_textpage()
            try:
                text = normalise_page_text(text_page.get_text_range())
            finally:
                text_page.close()
        except pdfium.PdfiumError as exc:
            raise _PageFailed(number, exc) from exc
        if text and not _is_token_layer_over_scan(page, text):
            return PageRead(text)
        if not _has_ink(page):
            return PageRead(text, blank=not text)
        if ocr.tesseract is None:
            return PageRead(text)
        read = normalise_page_text(
            ocr.tesseract.read_page(page, dpi=ocr.dpi, timeout=ocr.page_timeout_seconds)
        )
        if _visible_chars(read) > _visible_chars(text):
            return PageRead(read, ocr=True)
        return PageRead(text)
    finally:
        page.close()


def _visible_chars(text: str) -> int:
    return sum(not char.isspace() for char in text)


def _is_token_layer_over_scan(page: Any, text: str) -> bool:
    """A few characters of text layer over an image filling most of the page: a scan."""
    if _visible_chars(text) >= TOKEN_TEXT_CHARS:
        return False
    width, height = page.get_size()
    page_area = max(width * height, 1.0)
    for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
        left, bottom, right, top = image.get_bounds()
        if (right - left) * (top - bottom) >= PAGE_IMAGE_SHARE * page_area:
            return True
    return False


def _has_ink(page: Any) -> bool:
    """Whether the page shows anything at all, judged on a cheap low-resolution rendering.

    A page with no objects is blank without rendering; one whose objects draw nothing dark
    (white boxes, an empty form, a scan of a blank sheet) is blank after it.
    """
    if pdfium_c.FPDFPage_CountObjects(page.raw) <= 0:
        return False
    bitmap = page.render(
        scale=INK_CHECK_DPI / 72, grayscale=True, force_bitmap_format=pdfium_c.FPDFBitmap_Gray
    )
    try:
        columns, rows, stride = bitmap.width, bitmap.height, bitmap.stride
        pixels = bytes(memoryview(bitmap.buffer).cast("B")[: rows * stride])
    finally:
        bitmap.close()
    dark = bytes(range(INK_LEVEL))
    # Count dark bytes per row within the bitmap's width (rows may be padded to the stride).
    ink = 0
    for row in range(rows):
        line = pixels[row * stride : row * stride + columns]
        ink += len(line) - len(line.translate(None, dark))
        if ink >= MIN_INK_PIXELS:
            return True
    return False


# --- pypdf -------------------------------------------------------------------------------------

# What pypdf raises on damaged input. Deliberately not `Exception`, so that a bug of ours is not
# reported to the user as a damaged file.
_PYPDF_FAILURES: tuple[type[BaseException], ...] = (
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


class _LogCounter(logging.Handler):
    """Counts pypdf's log records instead of printing them.

    pypdf logs each robustness fix it applies (over 1,400 lines for one 117-page file); the worker
    reports the count once per document.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def _count_pypdf_logs() -> _LogCounter:
    pypdf_logger = logging.getLogger("pypdf")
    for handler in list(pypdf_logger.handlers):
        if isinstance(handler, _LogCounter):
            pypdf_logger.removeHandler(handler)
    counter = _LogCounter()
    pypdf_logger.addHandler(counter)
    pypdf_logger.propagate = False
    return counter


_log = logging.getLogger(__name__)
# A name tree of a real contract has a few nodes; a hostile one can nest or share kids so a walk
# would never end. Nodes past this many are not counted.
_NAME_TREE_MAX_NODES = 10_000


def _pypdf_names(reader: Any) -> Any:
    """The catalog's /Names dictionary, or an empty one when it is missing or damaged."""
    try:
        names = reader.root_object.get("/Names")
        names = names.get_object() if names is not None else None
        return names if hasattr(names, "get") else {}
    except Exception:  # a damaged catalog only means nothing is counted
        return {}


def _name_tree_size(root: Any) -> int:
    """Entries of a PDF name tree (/Names pairs, /Kids followed), each node read once."""
    size = 0
    pending = [root] if root is not None else []
    seen: set[tuple[int, int]] = set()
    visited = 0
    while pending and visited < _NAME_TREE_MAX_NODES:
        node = pending.pop()
        reference = getattr(node, "indirect_reference", None) or node
        key = (getattr(reference, "idnum", -1), getattr(reference, "generation", -1))
        if key != (-1, -1):
            if key in seen:
                continue
            seen.add(key)
        visited += 1
        try:
            node = node.get_object()
            size += len(node.get("/Names") or ()) // 2
            pending.extend(node.get("/Kids") or ())
        except Exception:  # a damaged node only means it is not counted
            _log.debug("name tree node %s unreadable", key, exc_info=True)
    return size


def _pypdf_pages(
    data: bytes, job: EngineJob, pdfium_failure: str
) -> Generator[Opened | Page, None, _Tally]:
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import PyPdfError

    failures: tuple[type[BaseException], ...] = (PyPdfError, *_PYPDF_FAILURES)
    engine = pypdf_engine()
    counter = _count_pypdf_logs()

    def unreadable(exc: BaseException, where: str) -> Refusal:
        return Refusal(
            "parse",
            "unreadable",
            f"The PDF is damaged and could not be read ({pdfium_failure}; pypdf failed "
            f"{where}: {type(exc).__name__}: {exc}); it may be truncated or corrupt, so upload "
            "the original file again.",
            engine=f"{PDFIUM_ENGINE}, {engine}",
        )

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise Refusal(
                "validation",
                "encrypted",
                "The PDF is protected by a password; upload a copy saved without one.",
            )
        count = len(reader.pages)
    except failures as exc:
        raise unreadable(exc, "opening the file") from exc
    _check_page_count(count, job.max_pages)
    names = _pypdf_names(reader)
    yield Opened(
        engine=engine,
        page_count=count,
        fallback_from=pdfium_failure,
        javascript_actions=_name_tree_size(names.get("/JavaScript")),
        attachments=_name_tree_size(names.get("/EmbeddedFiles")),
    )
    tally = _Tally()
    for number in range(1, count + 1):
        try:
            text = normalise_page_text(reader.pages[number - 1].extract_text())
        except failures as exc:
            raise unreadable(exc, f"on page {number}") from exc
        tally.pages_with_text += bool(text)
        yield Page(number=number, text=text)
    tally.warnings = counter.count
    return tally
