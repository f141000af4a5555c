"""Whitespace normalisation: line structure kept, engine artefacts removed."""

from __future__ import annotations

from parse_worker._text import normalise_page_text


def test_normalise_keeps_lines_and_indentation() -> None:
    raw = "\n\n  1. Term.  \r\nThe term\x00 is one year.\t\r\n\n\n\n\n\n(a) renewal\rends\n  \n"
    assert normalise_page_text(raw) == ("  1. Term.\nThe term is one year.\n\n\n(a) renewal\nends")


def test_normalise_keeps_up_to_two_blank_lines() -> None:
    assert normalise_page_text("a\n\nb\n\n\nc") == "a\n\nb\n\n\nc"


def test_whitespace_only_page_has_no_text() -> None:
    assert normalise_page_text(" \n\t\n\x00\r\n\x0c") == ""


def test_pdfium_line_end_hyphen_becomes_a_hyphen_and_a_line_break() -> None:
    # PDFium joins "dan-" / "gerous" into "dan\ufffegerous"; the printed lines come back.
    assert normalise_page_text("too conspicuous and dan\ufffegerous for use.\r\nA report") == (
        "too conspicuous and dan-\ngerous for use.\nA report"
    )


def test_control_characters_and_lone_surrogates_are_dropped() -> None:
    assert normalise_page_text("Sec\x02tion 1\x0c\ud800.\x7f") == "Section 1."


def test_tabs_inside_a_line_are_kept() -> None:
    assert normalise_page_text("Price:\t$10\t") == "Price:\t$10"


def test_pdf_font_artefacts_are_folded() -> None:
    # Filings' fonts map ';' to U+037E and set spaces as U+00A0/U+2009; ligature glyphs stand for
    # their letters. Quotes, offsets and evidence checks all read the folded text.
    raw = "Seller\u037e Buyer\u00a0and\u2009the \ufb01rm\u037e its af\ufb01liates\u200b"
    assert normalise_page_text(raw) == "Seller; Buyer and the firm; its affiliates"


def test_layout_spaces_inside_a_line_become_one_but_indentation_stays() -> None:
    assert normalise_page_text("    (a)   the    Term\u00a0\u00a0 ends") == "    (a) the Term ends"
