"""Whitespace normalisation shared by every text source (PDFium, pypdf, Tesseract).

Free of any engine import: the engine process and the worker both use it.
"""

from __future__ import annotations

import re

from charmelio.text_folding import fold

__all__ = ["normalise_page_text"]

# PDFium writes U+FFFE where a word was hyphenated at the end of a line, and drops that line
# break; putting back "-\n" restores the printed line and matches what pypdf returns.
_PDFIUM_LINE_END_HYPHEN = "\ufffe"
# C0 controls other than tab and newline never carry contract text (NUL from pypdf, form feed
# from Tesseract, stray codes from broken font maps); lone surrogates cannot be stored as UTF-8.
_NOISE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_BLANK_RUN = re.compile(r"\n{4,}")
# Layout spacing inside a line (justified text, columns set with spaces): one space. Leading
# indentation is kept, and tabs are left alone (they separate table cells).
_INNER_SPACES = re.compile(r"(?<=\S) {2,}(?=\S)")


def normalise_page_text(text: str) -> str:
    """Tidy whitespace but keep the line structure clause finding relies on.

    Line breaks of every convention become ``\\n``, trailing spaces go, runs of spaces inside a
    line become one, runs of blank lines are capped at two, and leading indentation stays (it
    often marks list items). PDF font artefacts are folded to the characters they stand for.
    """
    text = text.replace(_PDFIUM_LINE_END_HYPHEN, "-\n")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = fold(_NOISE.sub("", text))
    lines = [_INNER_SPACES.sub(" ", line.rstrip()) for line in text.split("\n")]
    return _BLANK_RUN.sub("\n\n\n", "\n".join(lines)).strip("\n")
