from __future__ import annotations

import hashlib
import threading
from typing import Any

import pytest

from charmelio.contract import ExtractionResult, ObjectKeys
from charmelio.errors import InvalidInputError
from store_worker import StoreActivities
from store_worker import _repository as repository
from tests.store.harness import PDF_BYTES, StoreHarness, failure, sample_result

DOC = "doc-1"


class SimulatedCrash(Exception):
    """Stands in for a worker killed at a chosen step."""


def test_first_store_writes_rows_and_artifact_and_deletes_draft(harness: StoreHarness) -> None:
    harness.upload(DOC)
    result = sample_result(DOC)
    request = harness.draft(result)

    stored = harness.store_results(request)

    artifact_key = ObjectKeys.extraction_artifact(DOC, request.extraction_id)
    assert stored.created is True
    assert stored.artifact_key == artifact_key
    assert stored.clause_count == 3
    [row] = harness.rows(
        "SELECT document_id, workflow_id, status, provider, model, artifact_key, clause_count,"
        " quotes_dropped, tokens_used, fields FROM extractions WHERE id = %s",
        request.extraction_id,
    )
    assert row[:9] == (
        DOC,
        request.workflow_id,
        "completed",
        "rules",
        "rules-v1",
        artifact_key,
        3,
        2,
        1234,
    )
    fields = row[9]
    assert fields["parties"] == [
        {"name": "Acme Corp", "role": "Supplier"},
        {"name": "Globex Ltd", "role": None},
    ]
    assert fields["effective_date"] == "2024-01-15"
    assert fields["governing_law"] == "Delaware"
    assert fields["termination"]["page"] == 4
    assert fields["confidentiality"] is None
    assert fields["summary"] == "A supply agreement."
    assert "findings" not in fields
    clauses = harness.rows(
        "SELECT ordinal, category, quote, page, start_offset, end_offset FROM clauses"
        " WHERE extraction_id = %s ORDER BY ordinal",
        request.extraction_id,
    )
    assert clauses == [
        (1, "Governing Law", "governed by the laws of the State of Delaware", 7, 120, 166),
        (2, "Anti-Assignment", "may not assign", 5, None, None),
        (3, "Parties", "Acme Corp", 1, None, None),
    ]
    assert harness.artifacts(DOC) == [artifact_key]
    assert ExtractionResult.model_validate_json(harness.store.get_bytes(artifact_key)) == result
    assert not harness.store.exists(request.extraction.result_key)


def test_storing_empties_the_extractions_scratch_space_and_only_its_own(
    harness: StoreHarness,
) -> None:
    harness.upload(DOC)
    request = harness.draft(sample_result(DOC))
    other = harness.draft(sample_result(DOC))
    for extraction_id in (request.extraction_id, other.extraction_id):
        # Provider replies llm_extract kept between its attempts.
        for fingerprint in ("0" * 32, "f" * 32):
            key = ObjectKeys.extraction_chunk_reply(extraction_id, fingerprint)
            harness.store.put_bytes(key, b"{}")

    harness.store_results(request)

    assert (
        list(harness.store.list_keys(ObjectKeys.extraction_workspace(request.extraction_id))) == []
    )
    assert (
        len(list(harness.store.list_keys(ObjectKeys.extraction_workspace(other.extraction_id))))
        == 3
    )


def test_repeated_store_changes_nothing(harness: StoreHarness) -> None:
    harness.upload(DOC)
    request = harness.draft(sample_result(DOC))
    first = harness.store_results(request)
    before = harness.snapshot()
    artifact = harness.store.get_bytes(first.artifact_key)

    again = harness.store_results(request)  # the draft is gone by now

    assert again == first.model_copy(update={"created": False})
    assert harness.snapshot() == before
    assert harness.artifacts(DOC) == [first.artifact_key]
    assert harness.store.get_bytes(first.artifact_key) == artifact


def test_crash_before_commit_then_retry_stores_one_set(
    harness: StoreHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.upload(DOC)
    request = harness.draft(sample_result(DOC))

    def crash(*args: Any) -> None:
        raise SimulatedCrash

    with monkeypatch.context() as patch:
        patch.setattr(repository, "insert_clauses", crash)
        with pytest.raises(SimulatedCrash):
            harness.store_results(request)
    # The artifact was put before the commit that never happened; no row points at it yet.
    assert harness.rows("SELECT count(*) FROM extractions") == [(0,)]
    assert harness.store.exists(request.extraction.result_key)

    stored = harness.store_results(request)

    assert stored.created is True
    assert harness.rows("SELECT status, clause_count FROM extractions") == [("completed", 3)]
    assert harness.rows("SELECT count(*) FROM clauses") == [(3,)]
    assert harness.artifacts(DOC) == [stored.artifact_key]


def test_crash_after_commit_then_retry_finishes_the_cleanup(
    harness: StoreHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.upload(DOC)
    first = harness.store_results(harness.draft(sample_result(DOC)))
    request = harness.draft(sample_result(DOC, summary="Second reading."))

    def crash(*args: Any) -> None:
        raise SimulatedCrash

    with monkeypatch.context() as patch:
        patch.setattr(StoreActivities, "_remove_stale_artifacts", crash)
        with pytest.raises(SimulatedCrash):
            harness.store_results(request)
    assert len(harness.artifacts(DOC)) == 2  # the superseded artifact is still there

    stored = harness.store_results(request)

    assert stored.created is False
    assert harness.statuses(DOC) == {
        first.extraction_id: "superseded",
        request.extraction_id: "completed",
    }
    assert harness.artifacts(DOC) == [stored.artifact_key]
    assert not harness.store.exists(request.extraction.result_key)


def test_new_extraction_supersedes_the_previous_one(harness: StoreHarness) -> None:
    harness.upload(DOC)
    first_request = harness.draft(sample_result(DOC))
    first = harness.store_results(first_request)
    second_result = sample_result(DOC, findings=sample_result(DOC).findings[:1])

    second = harness.store_results(harness.draft(second_result))

    assert second.created is True
    assert harness.statuses(DOC) == {
        first.extraction_id: "superseded",
        second.extraction_id: "completed",
    }
    assert harness.rows("SELECT extraction_id::text, count(*) FROM clauses GROUP BY 1") == [
        (second.extraction_id, 1)
    ]
    assert harness.artifacts(DOC) == [second.artifact_key]

    # A late retry of the first store must not bring its artifact or clauses back.
    before = harness.snapshot()
    assert harness.store_results(first_request).created is False
    assert harness.snapshot() == before
    assert harness.artifacts(DOC) == [second.artifact_key]


def test_concurrent_extractions_of_one_document_leave_one_current_set(
    harness: StoreHarness,
) -> None:
    harness.upload(DOC)
    requests = [harness.draft(sample_result(DOC)) for _ in range(6)]
    errors: list[BaseException] = []

    def store(index: int) -> None:
        try:
            harness.store_results(requests[index])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=store, args=(index,)) for index in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    statuses = harness.statuses(DOC)
    [current] = [eid for eid, status in statuses.items() if status == "completed"]
    assert sorted(statuses.values()) == ["completed"] + ["superseded"] * 5
    assert harness.rows("SELECT DISTINCT extraction_id::text FROM clauses") == [(current,)]
    assert harness.artifacts(DOC) == [ObjectKeys.extraction_artifact(DOC, current)]


def test_creates_the_document_row_when_the_upload_did_not(harness: StoreHarness) -> None:
    harness.upload(DOC, record=False)
    request = harness.draft(sample_result(DOC))

    harness.store_results(request)

    assert harness.rows(
        "SELECT id, sha256, filename, size_bytes, object_key, page_count FROM documents"
    ) == [
        (
            DOC,
            hashlib.sha256(PDF_BYTES).hexdigest(),
            None,
            len(PDF_BYTES),
            ObjectKeys.document_pdf(DOC),
            9,
        )
    ]


def test_document_row_without_pdf_gets_size_zero(harness: StoreHarness) -> None:
    harness.store_results(harness.draft(sample_result(DOC)))

    assert harness.rows("SELECT id, size_bytes FROM documents") == [(DOC, 0)]


def test_keeps_the_document_row_of_the_upload_but_fills_its_page_count(
    harness: StoreHarness,
) -> None:
    harness.upload(DOC)
    [before] = harness.rows("SELECT * FROM documents")

    harness.store_results(harness.draft(sample_result(DOC, page_count=9)))
    harness.store_results(harness.draft(sample_result(DOC, page_count=12)))

    [after] = harness.rows("SELECT * FROM documents")
    assert before[5] is None
    assert after == (*before[:5], 9, before[6])


def test_sha256_of_another_document_is_rejected(harness: StoreHarness) -> None:
    harness.upload("other-doc")  # same PDF bytes, so the same sha256
    request = harness.draft(sample_result(DOC))

    with pytest.raises(InvalidInputError) as caught:
        harness.store_results(request)

    assert caught.value.non_retryable
    assert harness.rows("SELECT count(*) FROM extractions") == [(0,)]
    assert harness.artifacts(DOC) == []


def test_missing_draft_is_a_final_error(harness: StoreHarness) -> None:
    harness.upload(DOC)
    request = harness.draft(sample_result(DOC))
    harness.store.delete(request.extraction.result_key)

    with pytest.raises(InvalidInputError, match="does not exist") as caught:
        harness.store_results(request)

    assert caught.value.type == "InvalidInputError"
    assert caught.value.non_retryable
    assert harness.rows("SELECT count(*) FROM extractions") == [(0,)]


@pytest.mark.parametrize(
    ("draft", "message"),
    [
        (b"{not json", "not a valid ExtractionResult"),
        (sample_result("another-doc").model_dump_json().encode(), "belongs to document"),
    ],
    ids=["invalid-json", "other-document"],
)
def test_unusable_draft_is_a_final_error(harness: StoreHarness, draft: bytes, message: str) -> None:
    harness.upload(DOC)
    request = harness.draft(sample_result(DOC))
    harness.store.put_bytes(request.extraction.result_key, draft)

    with pytest.raises(InvalidInputError, match=message):
        harness.store_results(request)

    assert harness.rows("SELECT count(*) FROM extractions") == [(0,)]
    assert harness.artifacts(DOC) == []


def test_extraction_recorded_as_failed_is_not_stored(harness: StoreHarness) -> None:
    harness.upload(DOC)
    request = harness.draft(sample_result(DOC))
    harness.record_failure(failure(DOC, request.extraction_id))
    harness.draft(sample_result(DOC), request.extraction_id)  # a late draft, written again

    with pytest.raises(InvalidInputError, match="recorded as failed"):
        harness.store_results(request)

    assert harness.statuses(DOC) == {request.extraction_id: "failed"}
    assert harness.artifacts(DOC) == []


def test_draft_outside_the_extraction_scratch_space_is_left_alone(harness: StoreHarness) -> None:
    harness.upload(DOC)
    request = harness.draft(sample_result(DOC))
    elsewhere = ObjectKeys.parsed_pages(DOC)
    harness.store.put_bytes(elsewhere, harness.store.get_bytes(request.extraction.result_key))
    request = request.model_copy(
        update={"extraction": request.extraction.model_copy(update={"result_key": elsewhere})}
    )

    assert harness.store_results(request).created is True
    assert harness.store.exists(elsewhere)


def test_hostile_text_is_stored_verbatim_except_nul(harness: StoreHarness) -> None:
    harness.upload(DOC)
    hostile = "'); DROP TABLE clauses; -- \\u0000 %s %(x)s Ünïcödé 合同 🚀\u202e"
    result = sample_result(
        DOC,
        provider="rules'--",
        parties=[{"name": hostile}, {"name": "Nul\x00Corp"}],
        findings=[
            {"category": "Parties", "quote": hostile, "page": 1, "confidence": 0.5},
            {"category": "Insurance", "quote": "before\x00after", "page": 2, "confidence": 0.5},
        ],
    )
    request = harness.draft(result)

    stored = harness.store_results(request)

    assert harness.rows("SELECT quote FROM clauses ORDER BY ordinal") == [
        (hostile,),
        ("beforeafter",),
    ]
    [(provider, fields)] = harness.rows("SELECT provider, fields FROM extractions")
    assert provider == "rules'--"
    assert fields["parties"] == [{"name": hostile, "role": None}, {"name": "NulCorp", "role": None}]
    # Object storage has no NUL problem: the artifact keeps the exact text.
    assert ExtractionResult.model_validate_json(harness.store.get_bytes(stored.artifact_key)) == (
        result
    )


def test_failure_recorded_while_storing_wins_and_leaves_no_artifact(
    harness: StoreHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.upload(DOC)
    request = harness.draft(sample_result(DOC))
    insert_completed = repository.insert_completed

    def failure_first(*args: Any, **kwargs: Any) -> bool:
        # record_failure takes no document lock, so it can commit between the check and the insert.
        harness.record_failure(failure(DOC, request.extraction_id))
        return insert_completed(*args, **kwargs)

    monkeypatch.setattr(repository, "insert_completed", failure_first)
    harness.draft(sample_result(DOC), request.extraction_id)  # record_failure deleted the draft

    with pytest.raises(InvalidInputError, match="recorded as failed"):
        harness.store_results(request)

    assert harness.statuses(DOC) == {request.extraction_id: "failed"}
    assert harness.artifacts(DOC) == []
