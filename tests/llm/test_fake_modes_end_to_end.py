"""Every fake-provider mode through the ``llm_extract`` activity: each ends as specified, and no
invalid finding ever reaches the stored draft."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from charmelio.contract import ExtractionResult, ObjectKeys, ProviderUsage
from charmelio.errors import (
    CharmelioError,
    LLMRateLimitedError,
    LLMRequestError,
    LLMResponseError,
    LLMUnavailableError,
)
from charmelio.llm_usage import read_llm_usage
from charmelio.storage.objects import ObjectStore
from operator_tools.fakes.openai_server import INVENTED_QUOTES, FakeOpenAIServer
from tests.llm.conftest import openai_extractor
from tests.llm.cuad_pages import SAMPLE, contract_pages
from tests.llm.test_activity import _run, _store_pages


@pytest.mark.parametrize(
    ("mode", "error", "retryable", "reason"),
    [
        ("malformed_json", LLMResponseError, True, "invalid_json"),
        ("schema_violation", LLMResponseError, True, "schema_violation"),
        ("rate_limited", LLMRateLimitedError, True, "rate_limited"),
        ("server_error", LLMUnavailableError, True, "server_error"),
        ("hang", LLMUnavailableError, True, "timeout"),
        ("unauthorized", LLMRequestError, False, "unauthorized"),
    ],
)
def test_failures_are_typed_and_store_nothing(
    object_store: ObjectStore,
    fake_openai: FakeOpenAIServer,
    mode: str,
    error: type[CharmelioError],
    retryable: bool,
    reason: str,
) -> None:
    fake_openai.mode = mode
    request = _store_pages(object_store, contract_pages(SAMPLE, "doc-modes"))

    with pytest.raises(error) as raised:
        _run(object_store, openai_extractor(fake_openai), request)

    assert raised.value.non_retryable is not retryable
    assert raised.value.reason == reason
    if mode == "rate_limited":
        assert raised.value.next_retry_delay == timedelta(seconds=1)  # the Retry-After
    assert not object_store.exists(ObjectKeys.extraction_draft(request.extraction_id))
    # Only what the failed attempt spent is kept, for the next attempt and record_failure.
    usage_key = ObjectKeys.extraction_usage(request.extraction_id)
    assert list(object_store.list_keys("work/")) == [usage_key]
    billed = fake_openai.stats()
    assert read_llm_usage(object_store, request.extraction_id) == ProviderUsage(
        requests=1, prompt_tokens=billed.prompt_tokens, completion_tokens=billed.completion_tokens
    )
    assert fake_openai.request_count == 1  # one HTTP request per attempt: Temporal retries


def test_a_good_reply_stores_only_verified_quotes(
    object_store: ObjectStore, fake_openai: FakeOpenAIServer
) -> None:
    pages = contract_pages(SAMPLE, "doc-modes")
    request = _store_pages(object_store, pages)

    summary = _run(object_store, openai_extractor(fake_openai), request)

    result = ExtractionResult.model_validate_json(object_store.get_bytes(summary.result_key))
    text = pages.full_text()
    assert result.findings
    assert result.quotes_dropped == 0
    for finding in result.findings:
        assert finding.start is not None
        assert text[finding.start : finding.end] == finding.quote
        page = next(p for p in pages.pages if p.page == finding.page)
        assert finding.quote in page.text


def test_a_reply_mixing_real_and_invented_quotes_keeps_only_the_real_ones(
    object_store: ObjectStore, fake_openai: FakeOpenAIServer
) -> None:
    pages = contract_pages(SAMPLE, "doc-modes")
    request = _store_pages(object_store, pages)
    good = _run(object_store, openai_extractor(fake_openai), request)
    good_result = ExtractionResult.model_validate_json(object_store.get_bytes(good.result_key))
    fake_openai.mode = "mixed_quotes"
    # A new extraction of the same document: one extraction would reuse the replies it kept.
    again = request.model_copy(update={"extraction_id": str(uuid.uuid4())})

    mixed = _run(object_store, openai_extractor(fake_openai), again)

    result = ExtractionResult.model_validate_json(object_store.get_bytes(mixed.result_key))
    assert {f.quote for f in result.findings}.isdisjoint(INVENTED_QUOTES)
    assert result.findings == good_result.findings
    assert result.quotes_dropped == mixed.quotes_dropped == len(INVENTED_QUOTES)


def test_invented_quotes_alone_leave_an_empty_but_honest_result(
    object_store: ObjectStore, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.mode = "bad_quotes"
    request = _store_pages(object_store, contract_pages(SAMPLE, "doc-modes"))

    summary = _run(object_store, openai_extractor(fake_openai), request)

    result = ExtractionResult.model_validate_json(object_store.get_bytes(summary.result_key))
    assert result.findings == []
    assert result.termination is None
    assert result.quotes_dropped > 0
