"""Hand-built hostile PDFs: active content, a parser-recursion bomb, and a page-count bomb."""

from __future__ import annotations

import zlib

from tests.pdf_objects import assemble_pdf

INJECTED_SCRIPT = b"app.alert('pwned'); this.exportDataObject({cName: 'payload.exe', nLaunch: 2});"
ATTACHMENT = b"MZ\x90\x00 pretend executable: must never be opened or extracted"
VISIBLE_LINE = "This Services Agreement is governed by the laws of the State of Delaware."


def _content(line: str) -> bytes:
    text = line.encode("latin-1").replace(b"(", b"\\(").replace(b")", b"\\)")
    stream = zlib.compress(b"BT /F1 11 Tf 72 720 Td (" + text + b") Tj ET")
    return (
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"
    )


def javascript_and_attachment() -> bytes:
    """One page of text, a document-open JavaScript action, a named script and an attached file."""
    attachment = zlib.compress(ATTACHMENT)
    return assemble_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /OpenAction 6 0 R"
            b" /Names << /JavaScript << /Names [(init) 6 0 R] >>"
            b" /EmbeddedFiles << /Names [(payload.exe) 7 0 R] >> >> >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >>"
            b" /AA << /O << /S /JavaScript"
            b" /JS (app.launchURL\\('http://example.invalid'\\);) >> >> >>",
            _content(VISIBLE_LINE),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Type /Action /S /JavaScript /JS (" + INJECTED_SCRIPT + b") >>",
            b"<< /Type /Filespec /F (payload.exe) /UF (payload.exe) /EF << /F 8 0 R >> >>",
            b"<< /Type /EmbeddedFile /Length %d /Filter /FlateDecode >>\nstream\n" % len(attachment)
            + attachment
            + b"\nendstream",
        ]
    )


def deeply_nested(depth: int = 100_000) -> bytes:
    """A page whose dictionary holds ``depth`` nested arrays and, in another key, ``depth``
    nested dictionaries: a recursive-descent parser without a depth limit overflows its stack."""
    arrays = b"[" * depth + b"0" + b"]" * depth
    dicts = b"<< /A " * depth + b"0" + b" >>" * depth
    return assemble_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            # Inline in the page dictionary, so reading the page means parsing them.
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> /Nested "
            + arrays
            + b" /Deeper "
            + dicts
            + b" >>",
            _content(VISIBLE_LINE),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def many_pages(count: int) -> bytes:
    """``count`` pages sharing one content stream: a few hundred KB for thousands of pages."""
    kids = b" ".join(b"%d 0 R" % (5 + index) for index in range(count))
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R"
        b" /Resources << /Font << /F1 4 0 R >> >> >>"
    )
    return assemble_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % count,
            _content(VISIBLE_LINE),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            *([page] * count),
        ]
    )
