"""`parse_pdf` run as an activity (ActivityEnvironment) against both object-store backends."""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.exceptions import CancelledError
from temporalio.testing import ActivityEnvironment

from charmelio.contract import ActivityName, ObjectKeys, ParsedDocument, ParsedPages, ParseRequest
from charmelio.errors import DocumentNotFoundError, PDFParseError, PDFValidationError
from charmelio.settings import Settings
from charmelio.storage.objects import LocalObjectStore, ObjectStore
from parse_worker import ParseActivities, activities_for
from parse_worker._engine_process import live_engine_pids
from parse_worker._pdf_text import ParseOptions, extract_pages
from parse_worker.worker import pool_spec
from tests.parse.pdfs import SMALL_CONTRACT, awkward, cuad, slow_page

CONTRACT = cuad(SMALL_CONTRACT)
DOCUMENT_ID = "federated-services-2004"


def upload(store: ObjectStore, data: bytes, document_id: str = DOCUMENT_ID) -> None:
    store.put_bytes(ObjectKeys.document_pdf(document_id), data, content_type="application/pdf")


def run_parse(
    store: ObjectStore,
    settings: Settings,
    document_id: str = DOCUMENT_ID,
    heartbeats: list[tuple[object, ...]] | None = None,
) -> ParsedDocument:
    env = ActivityEnvironment()
    if heartbeats is not None:
        env.on_heartbeat = lambda *details: heartbeats.append(details)
    parse_pdf = ParseActivities(store, settings).parse_pdf
    return env.run(parse_pdf, ParseRequest(document_id=document_id))


@pytest.fixture
def local_store(tmp_path: Path) -> tuple[LocalObjectStore, Settings]:
    settings = Settings(storage_backend="local", storage_dir=tmp_path / "objects", parse_ocr="off")
    return LocalObjectStore(settings.storage_dir), settings


def test_page_texts_are_stored_and_stats_returned(
    object_store: ObjectStore, storage_settings: Settings
) -> None:
    upload(object_store, CONTRACT)
    result = run_parse(object_store, storage_settings)

    expected_pages, expected_stats = extract_pages(
        CONTRACT,
        max_bytes=storage_settings.max_pdf_bytes,
        max_pages=storage_settings.max_pdf_pages,
        options=ParseOptions.from_settings(storage_settings),
    )
    assert result.pages_key == ObjectKeys.parsed_pages(DOCUMENT_ID)
    stored = ParsedPages.model_validate_json(object_store.get_bytes(result.pages_key))
    assert stored == ParsedPages(
        document_id=DOCUMENT_ID, engine=expected_stats.engine, pages=expected_pages
    )
    assert result.model_dump(exclude={"parse_seconds"}) == {
        "document_id": DOCUMENT_ID,
        "pages_key": ObjectKeys.parsed_pages(DOCUMENT_ID),
        "sha256": hashlib.sha256(CONTRACT).hexdigest(),
        "page_count": 4,
        "char_count": sum(len(page.text) for page in expected_pages),
        "pages_without_text": [],
        "engine": expected_stats.engine,
        "ocr_pages": [],
        "engine_warnings": 0,
        "javascript_actions": 0,
        "attachments": 0,
        "blank_pages": [],
    }
    assert result.engine.startswith("pdfium ")
    assert result.parse_seconds > 0


def test_rerun_rewrites_the_same_content(
    object_store: ObjectStore, storage_settings: Settings
) -> None:
    upload(object_store, CONTRACT)
    first = run_parse(object_store, storage_settings)
    stored = object_store.get_bytes(first.pages_key)
    second = run_parse(object_store, storage_settings)
    assert object_store.get_bytes(second.pages_key) == stored
    assert second.model_copy(update={"parse_seconds": 0}) == first.model_copy(
        update={"parse_seconds": 0}
    )
    assert list(object_store.list_keys("parsed/")) == [first.pages_key]


def test_heartbeats_report_page_progress(local_store: tuple[LocalObjectStore, Settings]) -> None:
    store, settings = local_store
    upload(store, CONTRACT)
    heartbeats: list[tuple[object, ...]] = []
    run_parse(store, settings, heartbeats=heartbeats)
    assert heartbeats[-1] == (4, 4)
    assert all(len(beat) == 2 for beat in heartbeats)


def test_heartbeats_keep_coming_while_a_slow_page_is_parsed(
    local_store: tuple[LocalObjectStore, Settings],
) -> None:
    store, settings = local_store
    upload(store, slow_page(8))
    beats: list[tuple[float, tuple[object, ...]]] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append((time.monotonic(), details))
    started = time.monotonic()
    env.run(
        ParseActivities(
            store, settings.model_copy(update={"parse_memory_limit_mb": 4096})
        ).parse_pdf,
        ParseRequest(document_id=DOCUMENT_ID),
    )
    elapsed = time.monotonic() - started
    assert elapsed > 1.3  # one page, about two seconds inside one PDFium call
    during_the_page = [details for _, details in beats if details == (0, 1)]
    assert len(during_the_page) >= 2
    assert beats[-1][1] == (1, 1)
    times = [started] + [moment for moment, _ in beats]
    assert max(later - earlier for earlier, later in itertools.pairwise(times)) < 1.6


def test_cancellation_stops_the_engine_within_a_second(
    local_store: tuple[LocalObjectStore, Settings],
) -> None:
    store, settings = local_store
    upload(store, slow_page(12))
    env = ActivityEnvironment()
    started = threading.Event()
    env.on_heartbeat = lambda *details: started.set()
    outcome: list[BaseException] = []
    parse_pdf = ParseActivities(
        store, settings.model_copy(update={"parse_memory_limit_mb": 4096})
    ).parse_pdf

    def run() -> None:
        try:
            env.run(parse_pdf, ParseRequest(document_id=DOCUMENT_ID))
        except BaseException as exc:
            outcome.append(exc)

    # Engines of earlier tests' threads go away when those threads are collected; only the one
    # this activity started must be gone right after the cancellation.
    earlier = set(live_engine_pids())
    thread = threading.Thread(target=run)
    thread.start()
    assert started.wait(10)
    engines = set(live_engine_pids()) - earlier
    assert engines
    cancelled_at = time.monotonic()
    env.cancel()
    thread.join(10)
    assert time.monotonic() - cancelled_at < 1.5
    assert len(outcome) == 1
    assert isinstance(outcome[0], CancelledError)
    assert not engines & set(live_engine_pids())


def test_missing_document_is_a_final_not_found_error(
    object_store: ObjectStore, storage_settings: Settings
) -> None:
    with pytest.raises(DocumentNotFoundError) as caught:
        run_parse(object_store, storage_settings, document_id="never-uploaded")
    assert caught.value.type == "DocumentNotFoundError"
    assert caught.value.non_retryable
    assert caught.value.details[0]["key"] == ObjectKeys.document_pdf("never-uploaded")


def test_bad_file_is_a_validation_error_with_its_reason(
    object_store: ObjectStore, storage_settings: Settings
) -> None:
    upload(object_store, b"<!DOCTYPE html><html><body>Not found</body></html>")
    with pytest.raises(PDFValidationError) as caught:
        run_parse(object_store, storage_settings)
    assert caught.value.type == "PDFValidationError"
    assert caught.value.details[0]["reason"] == "not_a_pdf"
    assert not object_store.exists(ObjectKeys.parsed_pages(DOCUMENT_ID))


@pytest.mark.parametrize(
    ("limit", "value", "reason"),
    [
        ("max_pdf_pages", 3, "too_many_pages"),
        ("max_pdf_bytes", 3, "too_large"),
        ("parse_page_timeout_seconds", 0.05, "page_timeout"),
        ("parse_time_budget_seconds", 0.05, "time_budget_exceeded"),
        ("parse_memory_limit_mb", 128, "memory_limit"),
    ],
)
def test_limits_come_from_settings(
    local_store: tuple[LocalObjectStore, Settings], limit: str, value: float, reason: str
) -> None:
    store, settings = local_store
    # Four pages, or one page of PDFium work that takes over half a second and 300 MB.
    upload(store, CONTRACT if limit.startswith("max_") else slow_page(3))
    with pytest.raises((PDFValidationError, PDFParseError)) as caught:
        run_parse(store, settings.model_copy(update={limit: value}))
    assert caught.value.details[0]["reason"] == reason


def test_ocr_setting_reaches_the_engine(local_store: tuple[LocalObjectStore, Settings]) -> None:
    store, settings = local_store
    upload(store, awkward("sf_image_only_ccittfax.pdf"))
    with pytest.raises(PDFValidationError) as caught:
        run_parse(store, settings)
    assert caught.value.details[0]["reason"] == "no_text_layer"
    assert caught.value.details[0]["ocr"] == "not_run"


def test_activities_for_opens_the_configured_store(
    object_store: ObjectStore, storage_settings: Settings
) -> None:
    [parse_pdf] = activities_for(storage_settings)
    definition = activity._Definition.must_from_callable(parse_pdf)
    assert definition.name == ActivityName.PARSE_PDF
    upload(object_store, CONTRACT)
    result = ActivityEnvironment().run(parse_pdf, ParseRequest(document_id=DOCUMENT_ID))
    assert object_store.exists(result.pages_key)


def test_the_pool_checks_ocr_before_it_starts(tmp_path: Path) -> None:
    spec = pool_spec(Settings(storage_dir=tmp_path, parse_concurrency=2))
    assert spec.task_queue == "parse-queue"
    assert spec.concurrency == 2
    assert len(spec.on_start) == 1
    spec.on_start[0]()  # OCR "auto" never stops a worker from starting
