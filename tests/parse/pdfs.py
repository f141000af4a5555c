"""Generated PDFs for the parse tests: damage, limits, bombs and scans made from real fixtures."""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterable
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from tests.conftest import AWKWARD_PDFS, CUAD_PDFS
from tests.pdf_objects import assemble_pdf

SMALL_CONTRACT = (
    "FEDERATEDGOVERNMENTINCOMESECURITIESINC_04_28_2020_EX_99_SERV_AGREE_SERVICES_AGREEMENT"
)
PRINCIPAL_LIFE = "Principal_Life_Insurance_Company_Broker_Dealer_Marketing_and_Servicing_Agreement"
ZOGENIX = "ZogenixInc_20190509_10_Q_EX_10_2_11663313_EX_10_2_Distributor_Agreement"


def awkward(name: str) -> bytes:
    return (AWKWARD_PDFS / name).read_bytes()


def cuad(slug: str) -> bytes:
    return (CUAD_PDFS / f"{slug}.pdf").read_bytes()


def blank_pdf(pages: int) -> bytes:
    document = pdfium.PdfDocument.new()
    for _ in range(pages):
        document.new_page(612, 792)
    return _save(document)


def one_page_pdf(content_chunks: Iterable[bytes]) -> bytes:
    """A one-page PDF (Helvetica) whose content stream is ``content_chunks`` Flate-compressed."""
    compressor = zlib.compressobj(1)
    stream = b"".join(compressor.compress(chunk) for chunk in content_chunks) + compressor.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return assemble_pdf(objects)


def decompression_bomb(megabytes: int = 300) -> bytes:
    """One visible line, then ``megabytes`` MB of spaces: a few KB on disk per MB of stream."""
    chunk = b" " * (1 << 20)
    return one_page_pdf(
        [b"BT /F1 12 Tf 72 720 Td (Hello from a bomb) Tj ET\n", *([chunk] * megabytes)]
    )


def slow_page(megabytes: int = 3) -> bytes:
    """A page of about 450,000 text-show operators per 3 MB: PDFium needs a good half second."""
    unit = b"(A) Tj "
    body = unit * ((megabytes << 20) // len(unit))
    return one_page_pdf([b"BT /F1 1 Tf 72 720 Td ", body, b" ET"])


def with_broken_root(data: bytes) -> bytes:
    """The trailer's /Root key garbled: PDFium refuses the file, pypdf finds the catalog."""
    assert data.count(b"/Root") == 1
    return data.replace(b"/Root", b"/Roox")


def with_false_page_count(data: bytes, count: int = 999) -> bytes:
    """The page tree claims ``count`` pages: PDFium fails to load the missing ones."""
    changed, found = re.subn(rb"/Count \d+", b"/Count %d" % count, data)
    assert found == 1
    return changed


def _document(data: bytes) -> Any:
    return pdfium.PdfDocument(data)


def _save(document: Any) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def pages_of(data: bytes, page_numbers: list[int]) -> bytes:
    """A new PDF with the given 1-based pages of ``data``."""
    target = pdfium.PdfDocument.new()
    target.import_pages(_document(data), [number - 1 for number in page_numbers])
    return _save(target)


def concatenate(*documents: bytes) -> bytes:
    target = pdfium.PdfDocument.new()
    for data in documents:
        target.import_pages(_document(data))
    return _save(target)


def repeat_pages(data: bytes, total: int) -> bytes:
    """``total`` pages made by importing ``data``'s pages over and over."""
    source = _document(data)
    target = pdfium.PdfDocument.new()
    while len(target) < total:
        target.import_pages(source, list(range(min(len(source), total - len(target)))))
    return _save(target)


def without_text_layer(data: bytes) -> bytes:
    """The same pages with every text object removed: what a scan without OCR looks like."""
    document = _document(data)
    for index in range(len(document)):
        page = document[index]
        for item in list(page.get_objects()):
            if item.type == pdfium_c.FPDF_PAGEOBJ_TEXT:
                page.remove_obj(item)
        page.gen_content()
    return _save(document)


def with_text_label(data: bytes, label: str, page_numbers: list[int]) -> bytes:
    """The same pages with a small visible text object (``label``) added to the given pages:
    what a scanner that stamps a word or two into the text layer produces."""
    import ctypes

    document = _document(data)
    for number in page_numbers:
        page = document[number - 1]
        text = pdfium_c.FPDFPageObj_NewTextObj(document.raw, b"Helvetica", ctypes.c_float(12.0))
        encoded = (label + "\0").encode("utf-16-le")
        buffer = ctypes.create_string_buffer(encoded, len(encoded))
        pdfium_c.FPDFText_SetText(text, ctypes.cast(buffer, ctypes.POINTER(pdfium_c.FPDF_WCHAR)))
        pdfium_c.FPDFPageObj_Transform(text, 1, 0, 0, 1, 72, 740)
        pdfium_c.FPDFPage_InsertObject(page.raw, text)
        page.gen_content()
    return _save(document)


def white_page_pdf() -> bytes:
    """One page whose only content is a white rectangle: objects, but no ink."""
    return one_page_pdf([b"1 1 1 rg 0 0 612 792 re f\n"])
