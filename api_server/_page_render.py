"""Finding a quote's characters on its PDF page, and drawing the page with them highlighted.

A finding's `start`/`end` are offsets into `ParsedPages.full_text()`: the parse stage's page
texts, which are PDFium's text of each page (`PdfTextPage.get_text_range()`) with whitespace
tidied and font artefacts folded. To find the characters on the page, the stored page text is
aligned back onto PDFium's raw text (tidying only ever drops whitespace and control characters,
folds characters by `charmelio.text_folding`, and turns PDFium's line-end-hyphen mark U+FFFE into
"-\\n"), the raw text's positions become PDFium character
indexes (`FPDFText_GetCharIndexFromTextIndex`), and each character's box comes from
`FPDFText_GetCharBox`. Boxes of one line are merged into one rectangle.

When the offsets no longer fit (the document was parsed again with another engine, the page was
read by OCR, older extractions), the quote is searched for on its page instead, ignoring
whitespace, and the answer says so.

PDFium is not thread-safe: every call into it holds `PDFIUM_LOCK`.
"""

from __future__ import annotations

import ctypes
import io
import math
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageDraw

from charmelio.contract import ParsedPages
from charmelio.text_folding import fold

PDFIUM_LOCK = threading.Lock()
# 1.5 x 72 = 108 dpi: a US-letter page is 918 x 1188 pixels, legible beside the quote.
RENDER_SCALE = 1.5
_HIGHLIGHT_FILL = (255, 214, 0, 90)
_HIGHLIGHT_EDGE = (214, 120, 0, 255)
_LINE_END_HYPHEN = "\ufffe"
_DROPPABLE = set(" \t\r\n\x0b\x0c") | {chr(code) for code in range(0x20)} | {"\x7f"}

LocatedBy = Literal["offsets", "text_search", "not_found"]


class PdfUnreadableError(ValueError):
    """PDFium cannot open the stored PDF."""


@dataclass(frozen=True)
class Box:
    """One highlighted rectangle: in image pixels (origin top left) and in PDF points."""

    left: int
    top: int
    right: int
    bottom: int
    pdf: tuple[float, float, float, float]  # left, bottom, right, top in PDF canvas units


@dataclass
class Location:
    located_by: LocatedBy
    note: str | None
    page_count: int
    boxes: dict[int, list[Box]] = field(default_factory=dict)  # page number → its boxes
    sizes: dict[int, tuple[int, int]] = field(default_factory=dict)  # page → image width, height


def open_pdf(data: bytes) -> Any:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise PdfUnreadableError(f"PDFium cannot open the stored PDF: {exc}") from exc


def page_count(data: bytes) -> int:
    with PDFIUM_LOCK:
        document = open_pdf(data)
        try:
            return len(document)
        finally:
            document.close()


def locate_quote(
    data: bytes,
    parsed: ParsedPages | None,
    *,
    quote: str,
    page: int,
    start: int | None,
    end: int | None,
) -> Location:
    """Where the finding's characters are, page by page."""
    with PDFIUM_LOCK:
        document = open_pdf(data)
        try:
            count = len(document)
            location = Location("not_found", None, count)
            if page > count:
                location.note = f"the PDF has {count} pages; the finding cites page {page}"
                return location
            spans = _spans_from_offsets(parsed, quote, start, end)
            if spans is not None:
                found: dict[int, list[Box]] = {}
                for number, (local_start, local_end, stored) in spans.items():
                    boxes = _boxes_for_stored_span(document, number, stored, local_start, local_end)
                    if boxes is None:
                        found = {}
                        break
                    if boxes:
                        found[number] = boxes
                if found:
                    location.located_by = "offsets"
                    location.boxes = found
            if location.located_by == "not_found":
                boxes = _boxes_by_search(document, page, quote)
                why = (
                    "the stored offsets no longer match this PDF's text"
                    if start is not None and end is not None
                    else "the finding has no stored offsets"
                )
                if boxes:
                    location.located_by = "text_search"
                    location.boxes = {page: boxes}
                    location.note = f"{why}: found by searching page {page} for the quote"
                else:
                    location.note = (
                        f"{why}, and the quote was not found in page {page}'s text layer"
                        " (a scanned page read by OCR has none)"
                    )
            for number in location.boxes:
                location.sizes[number] = _image_size(document[number - 1])
            return location
        finally:
            document.close()


def _spans_from_offsets(
    parsed: ParsedPages | None, quote: str, start: int | None, end: int | None
) -> dict[int, tuple[int, int, str]] | None:
    """Page number → (start, end, page text) of the span, in page-local stored-text offsets;
    None unless the stored text at those offsets is the quote (whitespace aside)."""
    if parsed is None or start is None or end is None or end <= start or not parsed.pages:
        return None
    full_text = parsed.full_text()
    if end > len(full_text) or full_text[start:end].split() != quote.split():
        return None
    spans: dict[int, tuple[int, int, str]] = {}
    for page_start, page in zip(parsed.page_starts(), parsed.pages, strict=True):
        page_end = page_start + len(page.text)
        low, high = max(start, page_start), min(end, page_end)
        if low < high:
            spans[page.page] = (low - page_start, high - page_start, page.text)
    return spans or None


def _boxes_for_stored_span(
    document: Any, number: int, stored: str, local_start: int, local_end: int
) -> list[Box] | None:
    """None when the stored page text cannot be aligned onto PDFium's text of that page."""
    if number > len(document):
        return None
    page = document[number - 1]
    text_page = page.get_textpage()
    try:
        raw = text_page.get_text_range()
        alignment = _align(stored, raw)
        if alignment is None:
            return None
        raw_positions = [alignment[index] for index in range(local_start, local_end)]
        chars = _char_indexes(text_page, raw, raw_positions)
        return _merge_boxes(page, text_page, chars)
    finally:
        text_page.close()
        page.close()


def _align(stored: str, raw: str) -> list[int] | None:
    """For each character of the stored (tidied) page text, its position in PDFium's raw text.

    Tidying drops whitespace and control characters, writes U+FFFE as "-\\n", and folds font
    artefacts (`charmelio.text_folding`: a ligature becomes its letters, U+037E a semicolon, a
    zero-width space nothing), so a greedy walk over the raw text, folding as it goes, aligns
    them; anything else means the stored text did not come from this PDF's text layer.
    """
    positions: list[int] = []
    at = 0
    index = 0
    while index < len(stored):
        char = stored[index]
        while at < len(raw):
            folded = fold(raw[at])
            if folded and stored.startswith(folded, index):
                break
            if raw[at] == _LINE_END_HYPHEN and stored.startswith("-\n", index):
                break
            if char == "\n" and raw[at] == "\r" and not raw.startswith("\n", at + 1):
                break  # a lone carriage return ends a line too
            droppable = not folded or folded in _DROPPABLE or "\ud800" <= raw[at] <= "\udfff"
            if not droppable:
                return None
            at += 1
        if at >= len(raw):
            return None
        folded = fold(raw[at])
        if raw[at] == _LINE_END_HYPHEN and char != _LINE_END_HYPHEN:
            width = 2
        elif folded and stored.startswith(folded, index):
            width = len(folded)
        else:
            width = 1
        positions += [at] * width
        index += width
        at += 1
    return positions


def _char_indexes(text_page: Any, raw: str, raw_positions: list[int]) -> list[int]:
    """PDFium character indexes for positions of get_text_range()'s string (UTF-16 units)."""
    units, unit = [], 0
    for char in raw:
        units.append(unit)
        unit += 2 if ord(char) > 0xFFFF else 1
    indexes: list[int] = []
    for position in raw_positions:
        char_index = pdfium_c.FPDFText_GetCharIndexFromTextIndex(text_page.raw, units[position])
        if char_index >= 0 and (not indexes or indexes[-1] != char_index):
            indexes.append(char_index)
    return indexes


def _boxes_by_search(document: Any, number: int, quote: str) -> list[Box]:
    """The quote on the page, ignoring whitespace and case; the first occurrence."""
    page = document[number - 1]
    text_page = page.get_textpage()
    try:
        raw = text_page.get_text_range()
        compact, where = [], []
        for position, char in enumerate(raw):
            for folded in "-" if char == _LINE_END_HYPHEN else fold(char):
                if not folded.isspace() and folded not in _DROPPABLE:
                    compact.append(folded)
                    where.append(position)
        haystack = "".join(compact).casefold()
        needle = "".join(char for char in quote if not char.isspace()).casefold()
        found = haystack.find(needle) if needle else -1
        if found < 0 or len(haystack) != len(compact):  # casefold changed lengths: give up
            return []
        chars = _char_indexes(text_page, raw, where[found : found + len(needle)])
        return _merge_boxes(page, text_page, chars)
    finally:
        text_page.close()
        page.close()


def _merge_boxes(page: Any, text_page: Any, chars: list[int]) -> list[Box]:
    """One rectangle per run of characters on one line, in image pixels and PDF points."""
    lines: list[list[float]] = []  # left, bottom, right, top
    for index in chars:
        if chr(pdfium_c.FPDFText_GetUnicode(text_page.raw, index) or 32).isspace():
            continue
        try:
            left, bottom, right, top = text_page.get_charbox(index, loose=True)
        except pdfium.PdfiumError:
            continue
        if right <= left or top <= bottom:
            continue
        if lines:
            last = lines[-1]
            overlap = min(top, last[3]) - max(bottom, last[1])
            same_line = overlap > 0.5 * min(top - bottom, last[3] - last[1])
            if same_line and left >= last[0] - 1:
                last[0], last[1] = min(last[0], left), min(last[1], bottom)
                last[2], last[3] = max(last[2], right), max(last[3], top)
                continue
        lines.append([left, bottom, right, top])
    width, height = _image_size(page)
    boxes = []
    for left, bottom, right, top in lines:
        x1, y1 = _to_device(page, width, height, left, top)
        x2, y2 = _to_device(page, width, height, right, bottom)
        boxes.append(
            Box(
                left=max(0, min(x1, x2)),
                top=max(0, min(y1, y2)),
                right=min(width, max(x1, x2)),
                bottom=min(height, max(y1, y2)),
                pdf=(round(left, 2), round(bottom, 2), round(right, 2), round(top, 2)),
            )
        )
    return boxes


def _image_size(page: Any) -> tuple[int, int]:
    """What `render(scale=RENDER_SCALE)` makes (the page's own /Rotate included)."""
    return (
        math.ceil(page.get_width() * RENDER_SCALE),
        math.ceil(page.get_height() * RENDER_SCALE),
    )


def _to_device(page: Any, width: int, height: int, x: float, y: float) -> tuple[int, int]:
    device_x, device_y = ctypes.c_int(), ctypes.c_int()
    pdfium_c.FPDF_PageToDevice(
        page.raw, 0, 0, width, height, 0, x, y, ctypes.byref(device_x), ctypes.byref(device_y)
    )
    return device_x.value, device_y.value


def render_page_png(data: bytes, number: int, boxes: list[Box]) -> bytes:
    """The page as a PNG, with `boxes` drawn as translucent highlights."""
    with PDFIUM_LOCK:
        document = open_pdf(data)
        try:
            page = document[number - 1]
            try:
                bitmap = page.render(scale=RENDER_SCALE, may_draw_forms=False)
                image = bitmap.to_pil().convert("RGB")
            finally:
                page.close()
        finally:
            document.close()
    if boxes:
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for box in boxes:
            area = (box.left - 1, box.top - 1, box.right + 1, box.bottom + 1)
            draw.rectangle(area, fill=_HIGHLIGHT_FILL, outline=_HIGHLIGHT_EDGE, width=1)
        image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    out = io.BytesIO()
    # Level 3 is a third of level 6's time for text pages, at a few per cent more bytes.
    image.save(out, format="PNG", compress_level=3)
    return out.getvalue()
