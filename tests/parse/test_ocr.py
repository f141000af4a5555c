"""OCR of pages without a text layer, with the real Tesseract, on scans made from real fixtures.

The scans are the fixtures' own pages with their text objects removed (what a scanner without OCR
produces), so the text Tesseract should find is known. Tests marked with the ``tesseract`` fixture
are skipped only on a machine without Tesseract outside CI; in CI they must run.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from charmelio.errors import PDFValidationError
from charmelio.settings import ConfigurationError, Settings
from parse_worker._engine_process import EngineFailure
from parse_worker._pdf_text import ParseOptions, extract_pages
from parse_worker.worker import check_ocr
from tests.parse.pdfs import (
    PRINCIPAL_LIFE,
    SMALL_CONTRACT,
    awkward,
    blank_pdf,
    concatenate,
    cuad,
    one_page_pdf,
    pages_of,
    white_page_pdf,
    with_broken_root,
    with_text_label,
    without_text_layer,
)

LIMITS: dict[str, Any] = {"max_bytes": 50 * 1024 * 1024, "max_pages": 2000}
SIEGE = "pypdf_scanned_with_ocr_layer.pdf"
MISSING = "charmelio-no-such-tesseract"
# 200 dpi: about 40% faster than the default 300 and, on these pages, within a point of its
# accuracy (measured: 97% against 98% of the words of the original OCR layer).
OCR_ON = ParseOptions(ocr="on", ocr_dpi=200)


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{3,}", text.lower()))


@pytest.fixture(scope="module")
def siege_scan() -> bytes:
    """Page 1 of the Vicksburg scan without its OCR layer."""
    return without_text_layer(pages_of(awkward(SIEGE), [1]))


@pytest.mark.usefixtures("tesseract")
def test_a_scanned_page_is_read_by_ocr_and_marked(siege_scan: bytes) -> None:
    original, _ = extract_pages(awkward(SIEGE), **LIMITS, options=ParseOptions(ocr="off"))
    pages, stats = extract_pages(siege_scan, **LIMITS, options=OCR_ON)
    assert stats.ocr_pages == [1]
    assert stats.pages_without_text == []
    assert pages[0].ocr
    assert " + OCR tesseract " in stats.engine
    expected = words(original[0].text)
    assert len(words(pages[0].text) & expected) / len(expected) > 0.9
    assert "THE SIEGE OF VICKSBURG" in pages[0].text


@pytest.mark.usefixtures("tesseract")
def test_only_the_textless_pages_of_a_textual_contract_are_ocrd() -> None:
    # A CUAD contract followed by one of Principal Life's image-only commission schedules.
    mixed = concatenate(cuad(SMALL_CONTRACT), pages_of(cuad(PRINCIPAL_LIFE), [10]))
    pages, stats = extract_pages(mixed, **LIMITS, options=ParseOptions(ocr="auto", ocr_dpi=200))
    assert stats.ocr_pages == [5]
    assert [page.ocr for page in pages] == [False, False, False, False, True]
    assert "Commissions on Premium" in pages[4].text
    assert stats.pages_without_text == []

    _, without_ocr = extract_pages(mixed, **LIMITS, options=ParseOptions(ocr="off"))
    assert without_ocr.pages_without_text == [5]
    assert without_ocr.ocr_pages == []
    assert "OCR" not in without_ocr.engine


@pytest.mark.usefixtures("tesseract")
def test_a_scan_with_nothing_readable_is_refused_after_ocr() -> None:
    with pytest.raises(PDFValidationError) as caught:
        extract_pages(
            awkward("sf_image_only_ccittfax.pdf"), **LIMITS, options=ParseOptions(ocr="on")
        )
    assert caught.value.reason == "no_text_layer"
    assert caught.value.details[0]["ocr"] == "tried"
    assert "OCR found no readable text" in caught.value.message


@pytest.mark.usefixtures("tesseract")
def test_pages_with_a_text_layer_are_never_ocrd() -> None:
    _, stats = extract_pages(awkward(SIEGE), **LIMITS, options=ParseOptions(ocr="on"))
    assert stats.ocr_pages == []
    assert "OCR" not in stats.engine


@pytest.mark.usefixtures("tesseract")
def test_check_ocr_accepts_an_installed_tesseract() -> None:
    check_ocr(Settings(parse_ocr="on"))


# --- without Tesseract -------------------------------------------------------------------------


def test_auto_without_tesseract_refuses_a_scan_and_says_how_to_fix_it(siege_scan: bytes) -> None:
    options = ParseOptions(ocr="auto", tesseract_command=MISSING)
    with pytest.raises(PDFValidationError) as caught:
        extract_pages(siege_scan, **LIMITS, options=options)
    assert caught.value.reason == "no_text_layer"
    assert "OCR is not available on this worker" in caught.value.message
    assert "tesseract-ocr" in caught.value.message


def test_ocr_on_without_tesseract_is_a_retryable_engine_failure_not_a_bad_pdf(
    siege_scan: bytes,
) -> None:
    options = ParseOptions(ocr="on", tesseract_command=MISSING)
    with pytest.raises(EngineFailure, match="not installed"):
        extract_pages(siege_scan, **LIMITS, options=options)
    # The engine survives a configuration problem and serves the next document.
    pages, _ = extract_pages(cuad(SMALL_CONTRACT), **LIMITS, options=ParseOptions(ocr="off"))
    assert len(pages) == 4


def test_a_parse_worker_with_ocr_on_refuses_to_start_without_tesseract() -> None:
    with pytest.raises(ConfigurationError, match="CHARMELIO_PARSE_OCR=on"):
        check_ocr(Settings(parse_ocr="on", parse_tesseract_command=MISSING))
    check_ocr(Settings(parse_ocr="auto", parse_tesseract_command=MISSING))


def test_a_missing_language_is_named(tesseract: None) -> None:
    with pytest.raises(ConfigurationError, match="no language data for xyz"):
        check_ocr(Settings(parse_ocr="on", parse_ocr_language="xyz"))


def test_a_scan_pdfium_cannot_open_explains_that_ocr_needs_pdfium(siege_scan: bytes) -> None:
    with pytest.raises(PDFValidationError) as caught:
        extract_pages(with_broken_root(siege_scan), **LIMITS, options=ParseOptions(ocr="auto"))
    assert caught.value.reason == "no_text_layer"
    assert "OCR needs PDFium" in caught.value.message


@pytest.mark.usefixtures("tesseract")
def test_a_blank_page_is_not_ocrd_and_is_counted_as_blank() -> None:
    # A text contract, a page holding only a white box, and a page with no objects at all.
    mixed = concatenate(cuad(SMALL_CONTRACT), white_page_pdf(), blank_pdf(1))
    pages, stats = extract_pages(mixed, **LIMITS, options=ParseOptions(ocr="on", ocr_dpi=200))
    assert stats.blank_pages == [5, 6]
    assert stats.ocr_pages == []
    assert stats.pages_without_text == []
    assert "OCR" not in stats.engine
    assert [page.text for page in pages[4:]] == ["", ""]


def test_blank_pages_are_told_apart_from_unread_scans_with_ocr_off() -> None:
    mixed = concatenate(
        cuad(SMALL_CONTRACT), white_page_pdf(), pages_of(cuad(PRINCIPAL_LIFE), [10])
    )
    _, stats = extract_pages(mixed, **LIMITS, options=ParseOptions(ocr="off"))
    assert stats.blank_pages == [5]
    assert stats.pages_without_text == [6]


@pytest.mark.usefixtures("tesseract")
def test_a_scan_with_a_token_text_layer_is_ocrd(siege_scan: bytes) -> None:
    # The word "Background" in the text layer over a full-page scan: the scan is what counts.
    labelled = with_text_label(siege_scan, "Background", [1])
    _, before = extract_pages(labelled, **LIMITS, options=ParseOptions(ocr="off"))
    assert before.char_count == len("Background")
    pages, stats = extract_pages(labelled, **LIMITS, options=OCR_ON)
    assert stats.ocr_pages == [1]
    assert pages[0].ocr
    assert "THE SIEGE OF VICKSBURG" in pages[0].text


@pytest.mark.usefixtures("tesseract")
def test_a_short_text_page_without_a_scan_is_not_ocrd() -> None:
    # A born-digital page holding only a few words (a page number, "Schedule A") keeps its text.
    short = concatenate(
        cuad(SMALL_CONTRACT), one_page_pdf([b"BT /F1 12 Tf 72 720 Td (Schedule A) Tj ET\n"])
    )
    pages, stats = extract_pages(short, **LIMITS, options=ParseOptions(ocr="on", ocr_dpi=200))
    assert stats.ocr_pages == []
    assert pages[4].text == "Schedule A"
