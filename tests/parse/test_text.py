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
