"""`extract_pages` through the real engine process: the awkward corpus, CUAD contracts, generated
bad input, engine fallback and the guards that bound time and memory.

OCR is off here unless a test says otherwise (tests/parse/test_ocr.py covers it), so outcomes do
not depend on whether Tesseract is installed.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from charmelio.contract import PageText, ParsedPages
from charmelio.errors import CharmelioError, PDFParseError, PDFValidationError
from parse_worker._engine_process import engine_for_this_thread, live_engine_pids
from parse_worker._engines import _name_tree_size, _pypdf_names
from parse_worker._pdf_text import ParseOptions, ParseStats, extract_pages
from tests.conftest import AWKWARD_PDFS, FIXTURES
from tests.parse.pdfs import (
    PRINCIPAL_LIFE,
    SMALL_CONTRACT,
    ZOGENIX,
    awkward,
    blank_pdf,
    cuad,
    decompression_bomb,
    repeat_pages,
    slow_page,
    with_broken_root,
    with_false_page_count,
)
from tests.pdf_objects import assemble_pdf
from tests.security.hostile_pdfs import javascript_and_attachment

LIMITS: dict[str, Any] = {"max_bytes": 50 * 1024 * 1024, "max_pages": 2000}
TEXT_ONLY = ParseOptions(ocr="off")

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


def extract(
    data: bytes, options: ParseOptions = TEXT_ONLY, **overrides: Any
) -> tuple[list[PageText], ParseStats]:
    return extract_pages(data, **{**LIMITS, **overrides}, options=options)


def refusal(
    data: bytes,
    error: type[CharmelioError],
    options: ParseOptions = TEXT_ONLY,
    **overrides: Any,
) -> CharmelioError:
    with pytest.raises(error) as caught:
        extract(data, options, **overrides)
    return caught.value


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("“", '"').replace("”", '"'))


def wait_until_gone(pid: int, seconds: float = 5.0) -> bool:
    """True once ``pid`` has exited (a zombie waiting to be reaped counts as gone)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


@pytest.fixture(scope="module")
def large_pdf() -> tuple[list[PageText], ParseStats]:
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


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_awkward_pdf_is_read_by_pdfium_with_every_page_numbered(name: str) -> None:
    pages, stats = extract(awkward(name))
    assert [page.page for page in pages] == list(range(1, stats.page_count + 1))
    assert stats.engine.startswith("pdfium ")
    assert stats.fallbacks == []
    assert stats.char_count == sum(len(page.text) for page in pages) > 0
    assert stats.seconds > 0


def test_user_password_is_reported_as_encrypted_not_as_damage() -> None:
    exc = refusal(awkward("sf_encrypted_userpw_libreoffice.pdf"), PDFValidationError)
    assert "password" in exc.message


def test_truncated_upload_is_unreadable_and_says_what_each_engine_found() -> None:
    exc = refusal(awkward("truncated_contract_55pct.pdf"), PDFParseError)
    assert "PDFium could not open it: data format error" in exc.message
    assert "PdfStreamError" in exc.message
    assert exc.details[0]["engine"].startswith("pdfium ")
    assert "pypdf " in exc.details[0]["engine"]


def test_scanned_pdf_without_ocr_is_refused_never_an_empty_success() -> None:
    exc = refusal(awkward("sf_image_only_ccittfax.pdf"), PDFValidationError)
    assert exc.reason == "no_text_layer"
    assert "CHARMELIO_PARSE_OCR=off" in exc.message
    assert exc.details[0]["ocr"] == "not_run"


def test_permissions_only_encryption_decrypts_transparently() -> None:
    pages, stats = extract(awkward("pypdf_encrypted_owner_only_r5.pdf"))
    assert pages == [PageText(page=1, text="pdf encryption test\npassword: asdfzxcv")]
    assert stats.page_count == 1
    assert stats.char_count == len(pages[0].text)


def test_scanned_pages_with_ocr_layer_give_text() -> None:
    pages, stats = extract(awkward("pypdf_scanned_with_ocr_layer.pdf"))
    assert stats.page_count == 6
    assert stats.pages_without_text == []
    assert stats.ocr_pages == []
    assert all(len(page.text) > 1500 for page in pages)
    assert "SIEGE" in pages[0].text
    # PDFium's end-of-line hyphen marker comes back as the printed hyphen and line break.
    assert "too conspicuous and dan-\ngerous for use." in pages[0].text


def test_two_column_text_keeps_each_column_together() -> None:
    pages, stats = extract(awkward("sf_two_column_layout.pdf"))
    assert stats.page_count == 3
    first = pages[0].text
    assert "consectetuer adip-\niscing elit. Ut purus elit, vestibulum ut, placerat" in first
    assert first.index("Lorem ipsum dolor sit amet") < first.index("Fusce mauris")


def test_broken_xref_is_recovered() -> None:
    pages, _ = extract(awkward("pypdf_broken_xref_issue297.pdf"))
    assert pages == [PageText(page=1, text="test example")]


def test_xref_loop_is_recovered_with_all_pages() -> None:
    pages, stats = extract(awkward("qpdf_xref_loop.pdf"))
    assert stats.page_count == 30
    assert [page.page for page in pages] == list(range(1, 31))
    assert pages[0].text == "Potato 0 new"
    assert pages[29].text == "Potato 29"


def test_large_pdf_gives_every_page(large_pdf: tuple[list[PageText], ParseStats]) -> None:
    pages, stats = large_pdf
    assert stats.page_count == 117
    assert [page.page for page in pages] == list(range(1, 118))
    assert stats.pages_without_text == []
    assert stats.char_count == sum(len(page.text) for page in pages) > 100_000
    assert "Geometrie und Topologie" in pages[0].text
    assert 0 < stats.engine_peak_rss_bytes < 400 * 1024 * 1024


# --- generated bad input -----------------------------------------------------------------------


def test_empty_file_is_refused() -> None:
    assert refusal(b"", PDFValidationError).reason == "empty"


def test_random_bytes_are_not_a_pdf() -> None:
    data = random.Random(297).randbytes(4096)
    assert refusal(data, PDFValidationError).reason == "not_a_pdf"


def test_random_bytes_behind_a_pdf_header_are_unreadable() -> None:
    data = b"%PDF-1.7\n" + random.Random(298).randbytes(4096)
    assert refusal(data, PDFParseError).reason == "unreadable"


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


def test_file_over_the_default_50_mb_limit_is_refused_before_the_engine_sees_it() -> None:
    data = cuad(SMALL_CONTRACT) + b"\n" * (50 * 1024 * 1024)
    pids = live_engine_pids()
    exc = refusal(data, PDFValidationError)
    assert exc.reason == "too_large"
    assert exc.details[0]["max_bytes"] == 50 * 1024 * 1024
    assert live_engine_pids() == pids


def test_page_limit_is_checked_before_the_text_layer() -> None:
    data = blank_pdf(3)
    exc = refusal(data, PDFValidationError, max_pages=2)
    assert exc.reason == "too_many_pages"
    assert exc.details[0]["page_count"] == 3
    assert refusal(data, PDFValidationError, max_pages=3).reason == "no_text_layer"


def test_pdf_over_the_default_page_limit_is_refused() -> None:
    exc = refusal(blank_pdf(2001), PDFValidationError)
    assert exc.reason == "too_many_pages"
    assert exc.details[0]["max_pages"] == 2000


def test_pdf_without_pages_is_not_an_empty_success() -> None:
    exc = refusal(blank_pdf(0), PDFValidationError)
    assert exc.reason == "no_text_layer"
    assert "no pages" in exc.message


def test_decompression_bomb_is_refused_without_growing_the_worker(bomb: bytes) -> None:
    assert len(bomb) < 2 * 1024 * 1024  # 300 MB of content stream in about a megabyte
    worker_peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    exc = refusal(bomb, PDFParseError)
    assert exc.reason == "memory_limit"
    assert exc.details[0]["memory_limit_mb"] == 512
    assert "CHARMELIO_PARSE_MEMORY_LIMIT_MB" in exc.message
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - worker_peak_before
    assert grown_kb < 100 * 1024
    # A fresh engine takes the next document.
    pages, _ = extract(cuad(SMALL_CONTRACT))
    assert len(pages) == 4


def test_a_smaller_bomb_within_the_memory_limit_parses_and_reports_its_peak() -> None:
    pages, stats = extract(decompression_bomb(100))
    assert pages == [PageText(page=1, text="Hello from a bomb")]
    assert 100 * 1024 * 1024 < stats.engine_peak_rss_bytes < 512 * 1024 * 1024


# --- fallback to pypdf -------------------------------------------------------------------------


def test_pdfium_refusing_the_file_falls_back_to_pypdf() -> None:
    original, _ = extract(cuad(SMALL_CONTRACT))
    pages, stats = extract(with_broken_root(cuad(SMALL_CONTRACT)))
    assert stats.engine.startswith("pypdf ")
    assert stats.fallbacks == ["PDFium could not open it: data format error"]
    assert len(pages) == 4
    assert collapse(pages[0].text)[:200] == collapse(original[0].text)[:200]


def test_pdfium_failing_on_a_page_starts_the_document_over_with_pypdf() -> None:
    pages, stats = extract(with_false_page_count(cuad(SMALL_CONTRACT)))
    assert stats.engine.startswith("pypdf ")
    assert stats.fallbacks == ["PDFium could not read page 5: Failed to load page."]
    assert [page.page for page in pages] == [1, 2, 3, 4]
    assert "Commonwealth of Pennsylvania" in collapse(" ".join(p.text for p in pages))


def test_fallback_respects_the_page_limit() -> None:
    exc = refusal(with_broken_root(cuad(SMALL_CONTRACT)), PDFValidationError, max_pages=3)
    assert exc.reason == "too_many_pages"


# --- active content: counted, never run or read ------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [lambda data: data, with_broken_root, lambda data: with_false_page_count(data, 5)],
    ids=["pdfium", "pypdf after pdfium refused", "pypdf after pdfium failed a page"],
)
def test_javascript_and_attachments_are_counted_by_whichever_engine_reads(
    damage: Callable[[bytes], bytes],
) -> None:
    pages, stats = extract(damage(javascript_and_attachment()))
    assert (stats.javascript_actions, stats.attachments) == (1, 1)
    assert stats.engine.startswith("pdfium" if not stats.fallbacks else "pypdf")
    assert "app.alert" not in pages[0].text


def test_a_plain_contract_has_no_active_content() -> None:
    _, stats = extract(cuad(SMALL_CONTRACT))
    assert (stats.javascript_actions, stats.attachments) == (0, 0)


def test_name_trees_are_counted_through_kids_and_a_cycle_ends() -> None:
    from pypdf import PdfReader

    leaf = b"<< /Names [(a) 9 0 R (b) 9 0 R] >>"
    data = assemble_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles 4 0 R"
            b" /JavaScript 6 0 R >> >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
            b"<< /Kids [5 0 R 7 0 R] >>",
            leaf,
            b"<< /Kids [6 0 R] >>",  # its own kid: a loop only the depth bound ends
            b"<< /Names [(c) 9 0 R] >>",
            b"<< >>",
            b"<< /Type /Filespec /F (x) >>",
        ]
    )
    names = _pypdf_names(PdfReader(io.BytesIO(data)))
    assert _name_tree_size(names.get("/EmbeddedFiles")) == 3
    assert _name_tree_size(names.get("/JavaScript")) == 0
    assert _name_tree_size(None) == 0


# --- guards: time, pages, crashes, cancellation ------------------------------------------------


def test_a_pathological_page_is_stopped_by_the_page_guard() -> None:
    engine = engine_for_this_thread()
    extract(cuad(SMALL_CONTRACT))
    pid_before = engine.pid
    started = time.monotonic()
    exc = refusal(slow_page(3), PDFParseError, ParseOptions(ocr="off", page_timeout_seconds=0.1))
    assert time.monotonic() - started < 2.0  # the page alone needs over half a second
    assert exc.reason == "page_timeout"
    assert exc.details[0]["page"] == 1
    assert pid_before is not None
    assert wait_until_gone(pid_before)  # killed in the middle of a PDFium call
    pages, _ = extract(cuad(SMALL_CONTRACT))
    assert len(pages) == 4
    assert engine.pid not in (None, pid_before)


def test_a_long_document_is_stopped_by_the_time_budget() -> None:
    thousand = repeat_pages(cuad(ZOGENIX), 1000)
    exc = refusal(thousand, PDFParseError, ParseOptions(ocr="off", time_budget_seconds=0.2))
    assert exc.reason == "time_budget_exceeded"
    assert 0 <= exc.details[0]["pages_done"] < 1000
    assert "of 1,000 pages done" in exc.message


def test_an_engine_crash_is_a_parse_error_and_the_next_document_gets_a_new_engine() -> None:
    engine = engine_for_this_thread()
    thousand = repeat_pages(cuad(ZOGENIX), 1000)
    crashed: list[int] = []

    def crash(done: int, total: int) -> None:
        if not crashed and engine.pid is not None:
            crashed.append(engine.pid)
            os.kill(engine.pid, signal.SIGSEGV)

    exc = refusal(thousand, PDFParseError, on_page=crash)
    assert exc.reason == "engine_crashed"
    assert "SIGSEGV" in exc.message
    pages, _ = extract(cuad(SMALL_CONTRACT))
    assert len(pages) == 4
    assert engine.pid != crashed[0]


def test_progress_is_reported_while_parsing_and_at_the_end() -> None:
    calls: list[tuple[int, int]] = []
    extract(cuad(ZOGENIX), on_page=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (68, 68)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert all(done <= total or total == 0 for done, total in calls)


def test_a_progress_callback_error_stops_the_engine_and_reaches_the_caller_unchanged() -> None:
    class Cancelled(BaseException):
        pass

    engine = engine_for_this_thread()
    extract(cuad(SMALL_CONTRACT))
    pid = engine.pid

    def cancel(done: int, total: int) -> None:
        raise Cancelled

    with pytest.raises(Cancelled):
        extract(slow_page(3), ParseOptions(ocr="off", memory_limit_mb=2048), on_page=cancel)
    assert pid is not None
    assert wait_until_gone(pid)
    assert len(extract(cuad(SMALL_CONTRACT))[0]) == 4


def test_each_thread_has_its_own_engine_and_results_match_serial_parsing() -> None:
    slugs = [SMALL_CONTRACT, PRINCIPAL_LIFE, SMALL_CONTRACT, PRINCIPAL_LIFE]
    serial = [extract(cuad(slug))[0] for slug in slugs]
    pids: set[int] = set()

    def parse(slug: str) -> list[PageText]:
        pages, _ = extract(cuad(slug))
        pid = engine_for_this_thread().pid
        assert pid is not None
        pids.add(pid)
        return pages

    with ThreadPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(parse, slugs)) == serial
    assert len(pids) == 2


def test_an_engine_dies_with_the_thread_that_started_it() -> None:
    pids: list[int] = []

    def parse_once() -> None:
        extract(cuad(SMALL_CONTRACT))
        pid = engine_for_this_thread().pid
        assert pid is not None
        pids.append(pid)

    thread = threading.Thread(target=parse_once)
    thread.start()
    thread.join()
    assert wait_until_gone(pids[0])


def test_an_engine_dies_with_its_worker_process(tmp_path: Path) -> None:
    # A worker busy on a slow page is killed outright; its engine must not run on as an orphan.
    script = tmp_path / "worker.py"
    script.write_text(
        "import json, sys\n"
        "from parse_worker._engine_process import engine_for_this_thread\n"
        "from parse_worker._pdf_text import ParseOptions, extract_pages\n"
        "from tests.parse.pdfs import slow_page\n"
        "def report(done, total):\n"
        "    print(json.dumps(engine_for_this_thread().pid), flush=True)\n"
        "extract_pages(slow_page(12), max_bytes=1 << 30, max_pages=10, on_page=report,\n"
        "              options=ParseOptions(ocr='off', memory_limit_mb=4096))\n"
    )
    root = str(Path(__file__).parents[2])
    worker = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": root},
    )
    assert worker.stdout is not None
    engine_pid = json.loads(worker.stdout.readline())
    worker.kill()
    worker.wait()
    assert wait_until_gone(engine_pid)


# --- real contracts ----------------------------------------------------------------------------


def cuad_rows() -> list[dict[str, str]]:
    with (FIXTURES / "cuad" / "index.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("row", cuad_rows(), ids=lambda row: row["slug"][:40])
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
    assert stats.engine.startswith("pdfium ")


def test_pages_without_text_inside_a_textual_contract_are_listed_one_based() -> None:
    _, stats = extract(cuad(PRINCIPAL_LIFE))
    assert stats.page_count == 13
    assert stats.pages_without_text == [10, 11, 12, 13]
    assert stats.char_count > 20_000


def test_offsets_in_the_full_text_map_back_to_their_pages() -> None:
    pages, _ = extract(cuad(ZOGENIX))
    parsed = ParsedPages(document_id="zogenix", engine="pdfium", pages=pages)
    text = parsed.full_text()
    for page, start in zip(pages, parsed.page_starts(), strict=True):
        assert text[start : start + len(page.text)] == page.text
        assert parsed.page_at(start) == page.page
        assert parsed.page_at(start + len(page.text) - 1) == page.page
    quote = "Supply of Product"
    offset = text.index(quote)
    holder = parsed.page_at(offset)
    assert quote in pages[holder - 1].text


def test_cuad_labelled_clauses_are_found_in_the_text() -> None:
    """Every labelled span of a clean contract is in the extracted text (letters and digits)."""
    labels = json.loads((FIXTURES / "cuad" / "contracts" / f"{SMALL_CONTRACT}.json").read_text())
    pages, _ = extract(cuad(SMALL_CONTRACT))

    def letters(text: str) -> str:
        return re.sub(r"[^a-z0-9]", "", text.lower())

    text = letters(" ".join(page.text for page in pages))
    spans = [span for found in labels["labels"].values() for span in found]
    assert spans
    assert all(letters(span) in text for span in spans)


def test_a_name_tree_sharing_its_kids_is_walked_once_per_node() -> None:
    from pypdf import PdfReader

    # Node N (objects 4..23) has kids [N+1, N+1]: walked as a tree, 2**20 visits; as a graph, 20.
    nodes = [b"<< /Kids [%d 0 R %d 0 R] >>" % (n + 1, n + 1) for n in range(4, 23)]
    data = assemble_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles 4 0 R >> >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
            *nodes,
            b"<< /Names [(a) 3 0 R] >>",
        ]
    )
    names = _pypdf_names(PdfReader(io.BytesIO(data)))
    # Walked as a tree, the one leaf would be counted once per path to it (up to the node cap).
    assert _name_tree_size(names.get("/EmbeddedFiles")) == 1
