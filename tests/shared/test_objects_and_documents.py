"""Object storage (local and S3) and uploads: keys stay inside the store, uploads deduplicate."""

from __future__ import annotations

import pytest

from charmelio.contract import ObjectKeys, workflow_id_for
from charmelio.documents import UploadRejectedError, document_id_for, upload_pdf
from charmelio.storage.database import connect
from charmelio.storage.objects import ObjectNotFoundError, ObjectStore, check_key
from tests.conftest import CUAD_PDFS

SAMPLE = CUAD_PDFS / "FLOTEKINDUSTRIESINCCN_05_09_2019_EX_10_1_SUPPLY_AGREEMENT.pdf"


def test_round_trip_list_and_delete(object_store: ObjectStore) -> None:
    object_store.put_bytes("parsed/doc_a/pages.json", b'{"a": 1}', "application/json")
    object_store.put_bytes("parsed/doc_b/pages.json", b"{}")
    assert object_store.get_bytes("parsed/doc_a/pages.json") == b'{"a": 1}'
    assert object_store.exists("parsed/doc_a/pages.json")
    assert sorted(object_store.list_keys("parsed/")) == [
        "parsed/doc_a/pages.json",
        "parsed/doc_b/pages.json",
    ]
    object_store.delete("parsed/doc_a/pages.json")
    object_store.delete("parsed/doc_a/pages.json")  # deleting twice is fine
    assert not object_store.exists("parsed/doc_a/pages.json")
    with pytest.raises(ObjectNotFoundError):
        object_store.get_bytes("parsed/doc_a/pages.json")


@pytest.mark.parametrize(
    "key", ["../etc/passwd", "documents/../../x", "/abs/key", "a//b", "a/./b", "a\\b", "", "a/b/"]
)
def test_keys_that_could_escape_are_refused(key: str, object_store: ObjectStore) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        check_key(key)
    with pytest.raises(ValueError, match="invalid object key"):
        object_store.put_bytes(key, b"x")


@pytest.mark.parametrize("document_id", ["../x", "a/b", "", "-leading", "x" * 129, "doc id"])
def test_ids_that_could_escape_are_refused(document_id: str) -> None:
    with pytest.raises(ValueError, match="invalid document id"):
        ObjectKeys.document_pdf(document_id)
    with pytest.raises(ValueError, match="invalid document id"):
        workflow_id_for(document_id)
    with pytest.raises(ValueError, match="invalid extraction id"):
        ObjectKeys.extraction_draft("../" + document_id)


def test_upload_is_content_addressed_and_deduplicated(
    object_store: ObjectStore, database_url: str
) -> None:
    data = SAMPLE.read_bytes()
    first = upload_pdf(
        data, "a.pdf", store=object_store, database_url=database_url, max_bytes=1 << 30
    )
    again = upload_pdf(
        data, "b.pdf", store=object_store, database_url=database_url, max_bytes=1 << 30
    )
    assert first.created
    assert not again.created
    assert first.document_id == again.document_id == document_id_for(first.sha256)
    assert object_store.get_bytes(ObjectKeys.document_pdf(first.document_id)) == data
    with connect(database_url) as conn:
        rows = conn.execute("SELECT id, filename, size_bytes FROM documents").fetchall()
    assert rows == [(first.document_id, "a.pdf", len(data))]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"<html><body>invoice</body></html>", "not_a_pdf"),
        (b"%PDF-1.7" + b"x" * 100, "too_large"),
    ],
)
def test_upload_refuses_what_is_not_an_acceptable_pdf(
    data: bytes, reason: str, object_store: ObjectStore, database_url: str
) -> None:
    with pytest.raises(UploadRejectedError) as refused:
        upload_pdf(data, "x.pdf", store=object_store, database_url=database_url, max_bytes=50)
    assert refused.value.reason == reason
    assert list(object_store.list_keys("documents/")) == []
