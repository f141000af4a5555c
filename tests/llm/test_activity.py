"""`llm_extract` run as an activity (ActivityEnvironment) against both object-store backends."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from charmelio.contract import (
    ActivityName,
    DescribeExtractorRequest,
    ExtractionResult,
    ExtractionSummary,
    ExtractRequest,
    ObjectKeys,
    ParsedDocument,
    ParsedPages,
)
from charmelio.errors import DocumentNotFoundError, InvalidInputError, LLMRateLimitedError
from charmelio.settings import Settings
from charmelio.storage.objects import LocalObjectStore, ObjectStore
from llm_worker import (
    ClauseExtractor,
    LLMActivities,
    OpenAIExtractor,
    RulesExtractor,
    activities_for,
    extractor_for,
)
from llm_worker._rules import RULES_MODEL
from operator_tools.fakes.openai_server import FakeOpenAIServer
from tests.llm.conftest import API_KEY, openai_extractor
from tests.llm.cuad_pages import SAMPLE, contract_pages

DOCUMENT_ID = "doc-flotek"


def _store_pages(store: ObjectStore, pages: ParsedPages) -> ExtractRequest:
    key = ObjectKeys.parsed_pages(pages.document_id)
    store.put_bytes(key, pages.model_dump_json().encode(), content_type="application/json")
    parsed = ParsedDocument(
        document_id=pages.document_id,
        pages_key=key,
        sha256="0" * 64,
        page_count=len(pages.pages),
        char_count=len(pages.full_text()),
        engine=pages.engine,
        parse_seconds=0.1,
    )
    return ExtractRequest(
        document_id=pages.document_id, extraction_id=str(uuid.uuid4()), parsed=parsed
    )


def _run(
    store: ObjectStore,
    extractor: ClauseExtractor,
    request: ExtractRequest,
    heartbeats: list[tuple[object, ...]] | None = None,
) -> ExtractionSummary:
    env = ActivityEnvironment()
    if heartbeats is not None:
        env.on_heartbeat = lambda *details: heartbeats.append(details)
    return env.run(LLMActivities(store, extractor).llm_extract, request)


def _draft(store: ObjectStore, summary: ExtractionSummary) -> ExtractionResult:
    return ExtractionResult.model_validate_json(store.get_bytes(summary.result_key))


def test_rules_extraction_is_written_under_the_draft_key(object_store: ObjectStore) -> None:
    pages = contract_pages(SAMPLE, DOCUMENT_ID)
    request = _store_pages(object_store, pages)
    heartbeats: list[tuple[object, ...]] = []

    summary = _run(object_store, RulesExtractor(), request, heartbeats)

    assert summary.result_key == ObjectKeys.extraction_draft(request.extraction_id)
    assert (summary.provider, summary.model) == ("rules", RulesExtractor().model)
    assert summary.model.startswith(f"{RULES_MODEL}+cuad-lr-")
    assert summary.quotes_dropped == 0
    assert summary.tokens_used is None
    result = _draft(object_store, summary)
    assert result.document_id == DOCUMENT_ID
    assert (result.provider, result.model) == ("rules", summary.model)
    assert result.page_count == len(pages.pages)
    assert summary.finding_count == len(result.findings) > 10
    assert result.governing_law == "Delaware"
    text = pages.full_text()
    for finding in result.findings:
        assert finding.start is not None
        assert finding.end is not None
        assert text[finding.start : finding.end] == finding.quote
    assert len(heartbeats) == 2


def test_rerun_overwrites_the_same_draft(object_store: ObjectStore) -> None:
    request = _store_pages(object_store, contract_pages(SAMPLE, DOCUMENT_ID))

    first = _run(object_store, RulesExtractor(), request)
    content = object_store.get_bytes(first.result_key)
    second = _run(object_store, RulesExtractor(), request)

    assert second == first
    assert object_store.get_bytes(second.result_key) == content
    assert list(object_store.list_keys("work/")) == [first.result_key]


def test_openai_extraction_records_provider_model_and_tokens(
    object_store: ObjectStore, fake_openai: FakeOpenAIServer
) -> None:
    request = _store_pages(object_store, contract_pages(SAMPLE, DOCUMENT_ID))

    summary = _run(object_store, openai_extractor(fake_openai), request)

    assert (summary.provider, summary.model) == ("openai", "fake-contract-model")
    assert summary.tokens_used is not None
    assert summary.tokens_used > 0
    result = _draft(object_store, summary)
    assert (result.provider, result.model, result.tokens_used) == (
        "openai",
        "fake-contract-model",
        summary.tokens_used,
    )
    assert result.governing_law == "Delaware"
    assert result.termination is not None
    assert result.confidentiality is not None
    assert summary.finding_count == len(result.findings) >= 2
    assert fake_openai.request_count == 1


def test_invented_quotes_are_counted_not_stored(
    object_store: ObjectStore, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.mode = "bad_quotes"
    request = _store_pages(object_store, contract_pages(SAMPLE, DOCUMENT_ID))

    summary = _run(object_store, openai_extractor(fake_openai), request)

    result = _draft(object_store, summary)
    assert summary.quotes_dropped == result.quotes_dropped > 0
    assert result.findings == []
    assert summary.finding_count == 0
    assert result.termination is None
    assert result.confidentiality is None


def test_provider_errors_propagate_typed_and_nothing_is_written(
    object_store: ObjectStore, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.mode = "rate_limited"
    request = _store_pages(object_store, contract_pages(SAMPLE, DOCUMENT_ID))

    with pytest.raises(LLMRateLimitedError):
        _run(object_store, openai_extractor(fake_openai), request)

    assert not object_store.exists(ObjectKeys.extraction_draft(request.extraction_id))


def test_missing_pages_are_a_final_not_found_error(object_store: ObjectStore) -> None:
    request = _store_pages(object_store, contract_pages(SAMPLE, DOCUMENT_ID))
    object_store.delete(request.parsed.pages_key)

    with pytest.raises(DocumentNotFoundError) as raised:
        _run(object_store, RulesExtractor(), request)

    assert raised.value.non_retryable
    assert raised.value.reason == "pages_missing"


def test_pages_of_another_document_are_refused(object_store: ObjectStore) -> None:
    request = _store_pages(object_store, contract_pages(SAMPLE, DOCUMENT_ID))
    other = contract_pages(SAMPLE, "doc-other")
    object_store.put_bytes(request.parsed.pages_key, other.model_dump_json().encode())

    with pytest.raises(InvalidInputError) as raised:
        _run(object_store, RulesExtractor(), request)

    assert raised.value.reason == "document_mismatch"


def test_corrupt_pages_are_refused(object_store: ObjectStore) -> None:
    request = _store_pages(object_store, contract_pages(SAMPLE, DOCUMENT_ID))
    object_store.put_bytes(request.parsed.pages_key, b"{not json")

    with pytest.raises(InvalidInputError) as raised:
        _run(object_store, RulesExtractor(), request)

    assert raised.value.reason == "pages_invalid"


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(storage_backend="local", storage_dir=tmp_path / "objects", **values)  # type: ignore[arg-type]


def test_extractor_for_follows_the_effective_provider(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/v1"

    assert isinstance(extractor_for(_settings(tmp_path, llm_provider="auto")), RulesExtractor)
    assert isinstance(extractor_for(_settings(tmp_path, llm_provider="rules")), RulesExtractor)
    auto = extractor_for(_settings(tmp_path, llm_provider="auto", openai_base_url=url))
    assert isinstance(auto, OpenAIExtractor)
    chosen = extractor_for(
        _settings(
            tmp_path,
            llm_provider="openai",
            openai_base_url=url,
            openai_api_key=SecretStr(API_KEY),
            openai_model="m-2",
        )
    )
    assert (chosen.name, chosen.model) == ("openai", "m-2")
    forced_rules = _settings(tmp_path, llm_provider="rules", openai_base_url=url)
    assert isinstance(extractor_for(forced_rules), RulesExtractor)


def test_activities_for_registers_llm_extract(tmp_path: Path) -> None:
    settings = _settings(tmp_path, llm_provider="rules")
    llm_extract, describe_extractor = activities_for(settings)
    definition = activity._Definition.must_from_callable(llm_extract)
    assert definition.name == ActivityName.LLM_EXTRACT

    pages = contract_pages(SAMPLE, DOCUMENT_ID)  # stored where activities_for's store looks
    request = _store_pages(LocalObjectStore(settings.storage_dir), pages)
    summary = ActivityEnvironment().run(llm_extract, request)

    assert summary.provider == "rules"
    assert (settings.storage_dir / summary.result_key).is_file()
    # The identity a batch compares is the one recorded with the extraction.
    identity = ActivityEnvironment().run(describe_extractor, DescribeExtractorRequest())
    assert summary.extractor == identity.key
    assert (identity.provider, identity.model) == ("rules", summary.model)
