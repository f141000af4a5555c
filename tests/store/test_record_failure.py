from __future__ import annotations

import uuid

from charmelio.contract import ObjectKeys, ProviderUsage, Stage
from charmelio.llm_usage import write_llm_usage
from tests.store.harness import StoreHarness, failure, sample_result

DOC = "doc-1"


def test_records_a_failed_row_without_a_document(harness: StoreHarness) -> None:
    extraction_id = str(uuid.uuid4())

    harness.record_failure(failure(DOC, extraction_id, stage=Stage.PARSING))

    assert harness.rows(
        "SELECT document_id, workflow_id, status, failed_stage, error_type, error_message,"
        " artifact_key, fields FROM extractions WHERE id = %s",
        extraction_id,
    ) == [
        (
            DOC,
            "extraction-doc-1",
            "failed",
            "parsing",
            "LLMResponseError",
            "the provider answered with invalid JSON",
            None,
            None,
        )
    ]
    assert harness.rows("SELECT count(*) FROM documents") == [(0,)]


def test_is_idempotent_and_keeps_the_first_failure(harness: StoreHarness) -> None:
    extraction_id = str(uuid.uuid4())
    harness.record_failure(failure(DOC, extraction_id))
    before = harness.snapshot()

    harness.record_failure(failure(DOC, extraction_id))
    harness.record_failure(failure(DOC, extraction_id, message="a later, different message"))

    assert harness.snapshot() == before


def test_never_overwrites_a_stored_extraction(harness: StoreHarness) -> None:
    harness.upload(DOC)
    stored = harness.store_results(harness.draft(sample_result(DOC)))
    before = harness.snapshot()

    harness.record_failure(failure(DOC, stored.extraction_id))

    assert harness.snapshot() == before
    assert harness.artifacts(DOC) == [stored.artifact_key]


def test_removes_the_draft_and_artifact_of_the_failed_extraction(harness: StoreHarness) -> None:
    harness.upload(DOC)
    kept = harness.store_results(harness.draft(sample_result(DOC)))
    request = harness.draft(sample_result(DOC))
    orphan = ObjectKeys.extraction_artifact(DOC, request.extraction_id)
    harness.store.put_bytes(orphan, b"{}")  # as if a store attempt died before its commit
    reply = ObjectKeys.extraction_chunk_reply(request.extraction_id, "a" * 32)
    harness.store.put_bytes(reply, b"{}")  # a provider reply llm_extract kept between attempts

    harness.record_failure(failure(DOC, request.extraction_id, stage=Stage.STORING))

    assert not harness.store.exists(request.extraction.result_key)
    assert not harness.store.exists(reply)
    assert harness.artifacts(DOC) == [kept.artifact_key]
    assert harness.statuses(DOC) == {
        kept.extraction_id: "completed",
        request.extraction_id: "failed",
    }


def test_hostile_and_oversized_messages(harness: StoreHarness) -> None:
    extraction_id = str(uuid.uuid4())
    hostile = "'); DROP TABLE extractions; -- Ünïcödé 合同 \x00 end"

    harness.record_failure(
        failure(DOC, extraction_id, error_type=f"Weird\x00{hostile}", message=hostile * 200)
    )

    [(error_type, message)] = harness.rows("SELECT error_type, error_message FROM extractions")
    clean = hostile.replace("\x00", "")
    assert error_type == f"Weird{clean}"
    assert len(message) == 4000
    assert message == (clean * 200)[:4000]


def test_records_what_the_provider_billed_the_failed_attempts(harness: StoreHarness) -> None:
    extraction_id = str(uuid.uuid4())
    usage = ProviderUsage(requests=3, prompt_tokens=5_000, completion_tokens=1_024)
    write_llm_usage(harness.store, extraction_id, usage)

    harness.record_failure(failure(DOC, extraction_id))

    assert harness.rows(
        "SELECT llm_requests, prompt_tokens, completion_tokens, tokens_used FROM extractions"
        " WHERE id = %s",
        extraction_id,
    ) == [(3, 5_000, 1_024, 6_024)]
    assert not harness.store.exists(ObjectKeys.extraction_usage(extraction_id))  # scratch space
