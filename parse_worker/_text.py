"""Whitespace normalisation shared by every text source (PDFium, pypdf, Tesseract).

Free of any engine import: the engine process and the worker both use it.
"""

from __future__ import annotations

import re

__all__ = ["normalise_page_text"]

# PDFium writes U+FFFE where a word was hyphenated at the end of a line, and drops that line
# break; putting back "-\n" restores the printed line and matches what pypdf returns.
_PDFIUM_LINE_END_HYPHEN = "\ufffe"
# C0 controls other than tab and newline never carry contract text (NUL from pypdf, form feed
# from Tesseract, stray codes from broken font maps); lone surrogates cannot be stored as UTF-8.
_NOISE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_BLANK_RUN = re.compile(r"\n{4,}")


def normalise_page_text(text: str) -> str:
    """Tidy whitespace but keep the line structure clause finding relies on.

    Line breaks of every convention become ``\\n``, trailing spaces go, runs of blank lines are
    capped at two, and leading indentation stays (it often marks list items).
    """
    text = text.replace(_PDFIUM_LINE_END_HYPHEN, "-\n")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _NOISE.sub("", text)
    lines = [line.rstrip() for line in text.split("\n")]
    return _BLANK_RUN.sub("\n\n\n", "\n".join(lines)).strip("\n")
