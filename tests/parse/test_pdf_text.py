"""`extract_pages` against real awkward PDFs, real CUAD contracts and generated bad input.

Expected outcomes were observed with pypdf 7.1 in its default (non-strict) mode.
"""

from __future__ import annotations

import csv
import io
import logging
import random
import re
from pathlib import Path
from typing import Any

import pytest
from pypdf import PageObject, PdfWriter
from pypdf.errors import PdfReadError

from charmelio.contract import PageText
from charmelio.errors import CharmelioError, PDFParseError, PDFValidationError
from parse_worker._pdf_text import ParseStats, extract_pages, normalise_page_text
from tests.conftest import AWKWARD_PDFS, CUAD_PDFS, FIXTURES

LIMITS: dict[str, Any] = {"max_bytes": 50 * 1024 * 1024, "max_pages": 2000}
SMALL_CONTRACT = (
    "FEDERATEDGOVERNMENTINCOMESECURITIESINC_04_28_2020_EX_99_SERV_AGREE_SERVICES_AGREEMENT"
)

REFUSED = {
    "sf_encrypted_userpw_libreoffice.pdf": (PDFValidationError, "encrypted"),
    "sf_image_only_ccittfax.pdf": (PDFValidationError, "no_text_layer"),
    "qpdf_no_header_no_trailer.pdf": (PDFValidationError, "not_a_pdf"),
    "truncated_contract_55pct.pdf": (PDFParseError, "unreadable"),
}
ACCEPTED = {
    "pypdf_encrypted_owner_only_r5.pdf",
    "pypdf_scanned_with_ocr_layer.pdf",
    "sf_large_117pages_objstreams.pdf",
    "sf_two_column_layout.pdf",
    "pypdf_broken_xref_issue297.pdf",
    "qpdf_xref_loop.pdf",
}


def extract(data: bytes, **overrides: Any) -> tuple[list[PageText], ParseStats]:
    return extract_pages(data, **{**LIMITS, **overrides})


def awkward(name: str) -> bytes:
    return (AWKWARD_PDFS / name).read_bytes()


def cuad(slug: str) -> bytes:
    return (CUAD_PDFS / f"{slug}.pdf").read_bytes()


def blank_pdf(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def refusal(data: bytes, error: type[CharmelioError], **overrides: Any) -> CharmelioError:
    with pytest.raises(error) as caught:
        extract(data, **overrides)
    return caught.value


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("“", '"').replace("”", '"'))


@pytest.fixture(scope="module")
def large_pdf() -> tuple[list[PageText], ParseStats]:
    """The 117-page file takes about 3 s, so its tests share one parse."""
    return extract(awkward("sf_large_117pages_objstreams.pdf"))


# --- the awkward corpus ------------------------------------------------------------------------


def test_every_awkward_pdf_has_an_expected_outcome() -> None:
    assert {path.name for path in AWKWARD_PDFS.glob("*.pdf")} == set(REFUSED) | ACCEPTED


@pytest.mark.parametrize(("name", "error", "reason"), [(n, *e) for n, e in REFUSED.items()])
def test_awkward_pdf_is_refused_with_a_reason(
    name: str, error: type[CharmelioError], reason: str
) -> None:
    exc = refusal(awkward(name), error)
    assert exc.reason == reason
    assert exc.type == error.error_type
    assert exc.details[0]["reason"] == reason


def test_user_password_is_reported_as_encrypted_not_as_damage() -> None:
    exc = refusal(awkward("sf_encrypted_userpw_libreoffice.pdf"), PDFValidationError)
    assert "password" in exc.message


def test_truncated_upload_is_unreadable_and_says_what_failed() -> None:
    exc = refusal(awkward("truncated_contract_55pct.pdf"), PDFParseError)
    assert "PdfStreamError" in exc.message
    assert exc.details[0]["engine"].startswith("pypdf ")


def test_permissions_only_encryption_decrypts_transparently() -> None:
    pages, stats = extract(awkward("pypdf_encrypted_owner_only_r5.pdf"))
    assert pages == [PageText(page=1, text="pdf encryption test\npassword: asdfzxcv")]
    assert stats.page_count == 1
    assert stats.char_count == len(pages[0].text)


def test_scanned_pages_with_ocr_layer_give_text() -> None:
    pages, stats = extract(awkward("pypdf_scanned_with_ocr_layer.pdf"))
    assert stats.page_count == 6
    assert stats.pages_without_text == []
    assert all(len(page.text) > 1500 for page in pages)
    assert "SIEGE" in pages[0].text


def test_two_column_text_keeps_each_column_together() -> None:
    pages, stats = extract(awkward("sf_two_column_layout.pdf"))
    assert stats.page_count == 3
    first = pages[0].text
    assert "consectetuer adip-\niscing elit. Ut purus elit, vestibulum ut, placerat" in first
    assert first.index("Lorem ipsum dolor sit amet") < first.index("Fusce mauris")


def test_broken_xref_is_recovered_by_default_mode() -> None:
    pages, stats = extract(awkward("pypdf_broken_xref_issue297.pdf"))
    assert pages == [PageText(page=1, text="test example")]
    assert stats.engine_warnings >= 1


def test_xref_loop_is_recovered_with_all_pages() -> None:
    pages, stats = extract(awkward("qpdf_xref_loop.pdf"))
    assert stats.page_count == 30
    assert [page.page for page in pages] == list(range(1, 31))
    assert pages[0].text == "Potato 0 new"
    assert pages[29].text == "Potato 29"
    assert stats.engine_warnings > 50


def test_large_pdf_gives_every_page(large_pdf: tuple[list[PageText], ParseStats]) -> None:
    pages, stats = large_pdf
    assert stats.page_count == 117
    assert [page.page for page in pages] == list(range(1, 118))
    assert stats.pages_without_text == []
    assert stats.char_count == sum(len(page.text) for page in pages) > 100_000
    assert "Geometrie und Topologie" in pages[0].text


def test_large_pdf_warnings_are_counted(large_pdf: tuple[list[PageText], ParseStats]) -> None:
    assert large_pdf[1].engine_warnings > 1000


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_pypdf_warnings_do_not_reach_the_application_logs() -> None:
    # Our own handler: pytest's caplog also hooks non-propagating loggers, so it cannot tell.
    root_handler = Collect()
    logging.getLogger().addHandler(root_handler)
    try:
        _, stats = extract(awkward("qpdf_xref_loop.pdf"))
    finally:
        logging.getLogger().removeHandler(root_handler)
    assert stats.engine_warnings > 50
    assert root_handler.records == []


# --- generated bad input -----------------------------------------------------------------------


def test_empty_file_is_refused() -> None:
    assert refusal(b"", PDFValidationError).reason == "empty"


def test_random_bytes_are_not_a_pdf() -> None:
    data = random.Random(297).randbytes(4096)
    assert refusal(data, PDFValidationError).reason == "not_a_pdf"


def test_html_named_pdf_is_not_a_pdf(tmp_path: Path) -> None:
    page = tmp_path / "contract.pdf"
    page.write_text("<!DOCTYPE html>\n<html><body><h1>Services Agreement</h1></body></html>\n")
    assert refusal(page.read_bytes(), PDFValidationError).reason == "not_a_pdf"


def test_header_must_be_in_the_first_kilobyte() -> None:
    data = cuad(SMALL_CONTRACT)
    pages, _ = extract(b"\n" * 1000 + data)
    assert len(pages) == 4
    assert refusal(b"\n" * 1020 + data, PDFValidationError).reason == "not_a_pdf"


def test_file_over_the_size_limit_is_refused() -> None:
    data = cuad(SMALL_CONTRACT)
    extract(data, max_bytes=len(data))
    exc = refusal(data, PDFValidationError, max_bytes=len(data) - 1)
    assert exc.reason == "too_large"
    assert exc.details[0]["size_bytes"] == len(data)


def test_page_limit_is_checked_before_the_text_layer() -> None:
    data = blank_pdf(3)
    exc = refusal(data, PDFValidationError, max_pages=2)
    assert exc.reason == "too_many_pages"
    assert exc.details[0]["page_count"] == 3
    assert refusal(data, PDFValidationError, max_pages=3).reason == "no_text_layer"


def test_pdf_without_pages_is_not_an_empty_success() -> None:
    exc = refusal(blank_pdf(0), PDFValidationError)
    assert exc.reason == "no_text_layer"
    assert "no pages" in exc.message


def test_damaged_page_is_unreadable_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: PageObject, *args: Any, **kwargs: Any) -> str:
        raise PdfReadError("bad content stream")

    monkeypatch.setattr(PageObject, "extract_text", broken)
    exc = refusal(cuad(SMALL_CONTRACT), PDFParseError)
    assert exc.reason == "unreadable"
    assert "page 1" in exc.message


# --- progress ----------------------------------------------------------------------------------


def test_progress_is_reported_after_each_page() -> None:
    calls: list[tuple[int, int]] = []
    extract(cuad(SMALL_CONTRACT), on_page=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_progress_callback_errors_are_not_turned_into_parse_errors() -> None:
    class Cancelled(ValueError):
        pass

    def cancel(done: int, total: int) -> None:
        raise Cancelled

    with pytest.raises(Cancelled):
        extract(cuad(SMALL_CONTRACT), on_page=cancel)


# --- real contracts ----------------------------------------------------------------------------


def small_cuad_rows() -> list[dict[str, str]]:
    with (FIXTURES / "cuad" / "index.csv").open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if int(row["pdf_pages"]) <= 10]


@pytest.mark.parametrize("row", small_cuad_rows(), ids=lambda row: row["slug"][:40])
def test_cuad_page_counts_match_the_index(row: dict[str, str]) -> None:
    pages, stats = extract(cuad(row["slug"]))
    assert stats.page_count == len(pages) == int(row["pdf_pages"])
    assert len(stats.pages_without_text) == int(row["pdf_pages_without_text_pypdf"])


def test_cuad_contract_text_is_extracted() -> None:
    pages, stats = extract(cuad(SMALL_CONTRACT))
    text = collapse("\n".join(page.text for page in pages))
    assert "THIS AGREEMENT, dated and effective as of January 1, 2004" in text
    assert (
        "governed by and construed in accordance with the laws of the Commonwealth of Pennsylvania"
        in text
    )
    assert stats.engine.startswith("pypdf ")


def test_blank_pages_are_listed_one_based() -> None:
    _, stats = extract(
        cuad("Principal_Life_Insurance_Company_Broker_Dealer_Marketing_and_Servicing_Agreement")
    )
    assert stats.page_count == 13
    assert stats.pages_without_text == [10, 11, 12, 13]
    assert stats.char_count > 20_000


# --- whitespace --------------------------------------------------------------------------------


def test_normalise_keeps_lines_and_indentation() -> None:
    raw = "\n\n  1. Term.  \r\nThe term\x00 is one year.\t\r\n\n\n\n\n\n(a) renewal\rends\n  \n"
    assert normalise_page_text(raw) == ("  1. Term.\nThe term is one year.\n\n\n(a) renewal\nends")


def test_normalise_keeps_up_to_two_blank_lines() -> None:
    assert normalise_page_text("a\n\nb\n\n\nc") == "a\n\nb\n\n\nc"


def test_whitespace_only_page_has_no_text() -> None:
    assert normalise_page_text(" \n\t\n\x00\r\n") == ""
