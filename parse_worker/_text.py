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
# What PDF fonts put in place of ordinary characters, folded here once so every later reader
# (quotes, offsets, evidence checks, the viewer) sees the same, plain text:
# - U+037E GREEK QUESTION MARK: many filings' fonts map every semicolon to it;
# - no-break, figure, thin and other fixed-width spaces: a space;
# - ligature glyphs (fi, fl, ffi ...): their letters;
# - zero-width spaces, word joiners and byte-order marks: nothing.
_FOLDED = str.maketrans(
    {
        "\u037e": ";",
        "\u00a0": " ",
        "\u1680": " ",
        **{chr(code): " " for code in range(0x2000, 0x200B)},
        "\u202f": " ",
        "\u205f": " ",
        "\u3000": " ",
        "\u200b": "",
        "\u2060": "",
        "\ufeff": "",
        "\ufb00": "ff",
        "\ufb01": "fi",
        "\ufb02": "fl",
        "\ufb03": "ffi",
        "\ufb04": "ffl",
        "\ufb05": "st",
        "\ufb06": "st",
    }
)
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
    text = _NOISE.sub("", text).translate(_FOLDED)
    lines = [_INNER_SPACES.sub(" ", line.rstrip()) for line in text.split("\n")]
    return _BLANK_RUN.sub("\n\n\n", "\n".join(lines)).strip("\n")
