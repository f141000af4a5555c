"""The PDFs a load test sends: the bundled sample contract, lengthened on demand, in variants.

Documents are content-addressed (``doc_`` + SHA-256), so each variant carries a distinct PDF
comment after its end-of-file marker: every reader ignores it, every variant gets its own id.
"""

from __future__ import annotations

import io
from pathlib import Path

import charmelio

# The kernel ships the sample contract (charmelio/samples), as `charmelio demo` uses it too.
SAMPLE_CONTRACT = Path(charmelio.__file__).resolve().parent / "samples" / "supply_agreement.pdf"


def contract_pdf(pages: int | None = None) -> bytes:
    """The sample contract, or a contract of ``pages`` pages made by repeating its pages."""
    data = SAMPLE_CONTRACT.read_bytes()
    if pages is None:
        return data
    from pypdf import PdfReader, PdfWriter

    source = PdfReader(io.BytesIO(data))
    writer = PdfWriter()
    while len(writer.pages) < pages:
        writer.add_page(source.pages[len(writer.pages) % len(source.pages)])
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def variant(pdf: bytes, tag: str) -> bytes:
    return pdf + f"\n%charmelio-loadtest {tag}\n".encode()
