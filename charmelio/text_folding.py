"""What PDF fonts put in place of ordinary characters, and the characters they stand for.

The parse stage folds page text with this table once, so every later reader (quotes, offsets,
evidence checks, the viewer) sees the same plain text; the API's evidence view uses the same
table to walk from that text back to PDFium's characters on the page. Standard library only: the
parse engine process imports it too.

- U+037E GREEK QUESTION MARK: many filings' fonts map every semicolon to it;
- no-break, figure, thin and other fixed-width spaces: a space;
- ligature glyphs (fi, fl, ffi ...): their letters;
- zero-width spaces, word joiners and byte-order marks: nothing.
"""

from __future__ import annotations

__all__ = ["FOLDING", "fold"]

FOLDING: dict[int, str] = str.maketrans(
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


def fold(text: str) -> str:
    return text.translate(FOLDING)
