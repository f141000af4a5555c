"""`parse_pdf` run as an activity (ActivityEnvironment) against both object-store backends."""

from __future__ import annotations

import hashlib

import pytest
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from charmelio.contract import ActivityName, ObjectKeys, ParsedDocument, ParsedPages, ParseRequest
from charmelio.errors import DocumentNotFoundError, PDFValidationError
from charmelio.settings import Settings
from charmelio.storage.objects import ObjectStore
from parse_worker import ParseActivities, activities_for
from parse_worker._pdf_text import extract_pages
from tests.conftest import CUAD_PDFS

CONTRACT_SLUG = (
    "FEDERATEDGOVERNMENTINCOMESECURITIESINC_04_28_2020_EX_99_SERV_AGREE_SERVICES_AGREEMENT"
)
CONTRACT = (CUAD_PDFS / f"{CONTRACT_SLUG}.pdf").read_bytes()
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


def test_page_texts_are_stored_and_stats_returned(
    object_store: ObjectStore, storage_settings: Settings
) -> None:
    upload(object_store, CONTRACT)
    result = run_parse(object_store, storage_settings)

    expected_pages, expected_stats = extract_pages(
        CONTRACT, max_bytes=storage_settings.max_pdf_bytes, max_pages=storage_settings.max_pdf_pages
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
    }
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


def test_heartbeats_report_page_progress(
    object_store: ObjectStore, storage_settings: Settings
) -> None:
    upload(object_store, CONTRACT)
    heartbeats: list[tuple[object, ...]] = []
    run_parse(object_store, storage_settings, heartbeats=heartbeats)
    assert heartbeats == [(1, 4), (2, 4), (3, 4), (4, 4)]


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
    ("limit", "reason"), [("max_pdf_pages", "too_many_pages"), ("max_pdf_bytes", "too_large")]
)
def test_limits_come_from_settings(
    object_store: ObjectStore, storage_settings: Settings, limit: str, reason: str
) -> None:
    upload(object_store, CONTRACT)
    settings = storage_settings.model_copy(update={limit: 3})
    with pytest.raises(PDFValidationError) as caught:
        run_parse(object_store, settings)
    assert caught.value.details[0]["reason"] == reason


def test_activities_for_opens_the_configured_store(
    object_store: ObjectStore, storage_settings: Settings
) -> None:
    [parse_pdf] = activities_for(storage_settings)
    definition = activity._Definition.must_from_callable(parse_pdf)
    assert definition.name == ActivityName.PARSE_PDF
    upload(object_store, CONTRACT)
    result = ActivityEnvironment().run(parse_pdf, ParseRequest(document_id=DOCUMENT_ID))
    assert object_store.exists(result.pages_key)
