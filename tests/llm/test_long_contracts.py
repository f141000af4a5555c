"""Long contracts against the real-HTTP fake: every page is read, in page-aligned chunks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from charmelio.contract import ExtractionResult, ObjectKeys, ParsedPages
from charmelio.errors import LLMRateLimitedError
from charmelio.settings import ConfigurationError, Settings
from charmelio.storage.objects import ObjectStore
from llm_worker import OpenAIExtractor
from llm_worker._chunks import estimate_tokens
from llm_worker._evidence import normalise, verify_evidence
from llm_worker._provider import ProviderOutput
from operator_tools.fakes.openai_server import FakeOpenAIServer, contract_pages
from tests.llm.conftest import openai_extractor
from tests.llm.cuad_pages import LARGEST
from tests.llm.cuad_pages import contract_pages as cuad_pages
from tests.llm.test_activity import _run, _store_pages

CONTEXT_TOKENS = 9_000
REPLY_TOKENS = 1_000


def _extractor(server: FakeOpenAIServer, context_tokens: int = CONTEXT_TOKENS) -> OpenAIExtractor:
    return openai_extractor(
        server, context_tokens=context_tokens, reply_tokens=REPLY_TOKENS, overlap_pages=1
    )


def test_every_page_is_sent_once_in_order_with_one_page_of_overlap(
    fake_openai: FakeOpenAIServer,
) -> None:
    pages = cuad_pages(LARGEST)
    progress: list[str] = []

    output = _extractor(fake_openai).extract(pages, on_progress=progress.append)

    requests = fake_openai.requests
    assert len(requests) == output.chunks_read > 2
    sent = [contract_pages(r.body["messages"][1]["content"]) for r in requests]
    original = {page.page: page.text.rstrip("\n") for page in pages.pages}
    for chunk in sent:
        numbers = [number for number, _ in chunk]
        assert numbers == list(range(numbers[0], numbers[-1] + 1))  # consecutive whole pages
        assert all(text == original[number] for number, text in chunk)  # verbatim
    firsts, lasts = [c[0][0] for c in sent], [c[-1][0] for c in sent]
    assert firsts[0] == 1
    assert lasts[-1] == len(pages.pages)
    assert firsts[1:] == lasts[:-1]  # each chunk starts on the page the previous one ended on
    for request in requests:
        system, user = (m["content"] for m in request.body["messages"])
        assert estimate_tokens(len(system) + len(user)) <= CONTEXT_TOKENS - REPLY_TOKENS
    assert f"part 2 of {len(requests)}" in requests[1].body["messages"][1]["content"]
    assert len(progress) == len(requests)


def test_merged_findings_are_deduplicated_and_counted_tokens_add_up(
    fake_openai: FakeOpenAIServer,
) -> None:
    pages = cuad_pages(LARGEST)

    output = _extractor(fake_openai).extract(pages)

    keys = [(f.category, normalise(f.quote)) for f in output.findings]
    assert len(keys) == len(set(keys))
    assert output.tokens_used is not None
    assert output.tokens_used > 0


def test_a_contract_that_fits_is_one_request(fake_openai: FakeOpenAIServer) -> None:
    output = _extractor(fake_openai, context_tokens=400_000).extract(cuad_pages(LARGEST))

    assert output.chunks_read == 1
    assert fake_openai.request_count == 1
    assert "part 1 of" not in fake_openai.requests[0].body["messages"][1]["content"]


def test_the_stored_result_records_how_many_chunks_were_read(
    object_store: ObjectStore, fake_openai: FakeOpenAIServer
) -> None:
    pages = cuad_pages(LARGEST, "doc-long")
    request = _store_pages(object_store, pages)
    heartbeats: list[tuple[object, ...]] = []

    summary = _run(object_store, _extractor(fake_openai), request, heartbeats)

    result = ExtractionResult.model_validate_json(object_store.get_bytes(summary.result_key))
    assert result.chunks_read == fake_openai.request_count > 2
    assert result.page_count == len(pages.pages)
    assert len(heartbeats) == 2 + result.chunks_read  # one per part, around the provider
    text = pages.full_text()
    for finding in result.findings:
        assert finding.start is not None
        assert text[finding.start : finding.end] == finding.quote


def test_a_context_too_small_for_the_instructions_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="CHARMELIO_LLM_CONTEXT_TOKENS"):
        OpenAIExtractor(
            base_url="http://127.0.0.1:9/v1", model="m", context_tokens=2_500, reply_tokens=1_000
        )
    with pytest.raises(ValidationError, match="CHARMELIO_LLM_REPLY_TOKENS"):
        Settings(_env_file=None, llm_context_tokens=20_000, llm_reply_tokens=16_000)


def test_a_retried_attempt_asks_only_for_the_parts_not_yet_answered(
    object_store: ObjectStore, fake_openai: FakeOpenAIServer
) -> None:
    pages = cuad_pages(LARGEST, "doc-resumed")
    request = _store_pages(object_store, pages)
    uninterrupted = _extractor(fake_openai).extract(pages)
    parts = fake_openai.request_count
    assert parts > 2
    fake_openai.reset()

    # Attempt 1: the provider answers two parts, then refuses the third with a 429.
    fake_openai.script(["good", "good", "rate_limited"])
    with pytest.raises(LLMRateLimitedError):
        _run(object_store, _extractor(fake_openai), request)
    assert fake_openai.request_count == 3
    workspace = ObjectKeys.extraction_workspace(request.extraction_id)
    assert len([k for k in object_store.list_keys(workspace) if "/chunks/" in k]) == 2

    # Attempt 2 (same extraction): parts 1 and 2 are not asked again.
    heartbeats: list[tuple[object, ...]] = []
    summary = _run(object_store, _extractor(fake_openai), request, heartbeats)
    assert fake_openai.request_count == 3 + parts - 2
    sent = [contract_pages(r.body["messages"][1]["content"])[0][0] for r in fake_openai.requests]
    assert sent[3] == sent[2]  # the refused part first, then on
    assert sum("kept from an earlier attempt" in str(h) for h in heartbeats) == 2
    result = ExtractionResult.model_validate_json(object_store.get_bytes(summary.result_key))
    assert result.chunks_read == parts
    assert len(result.findings) == len(_verified(pages, uninterrupted))
    assert result.tokens_used == uninterrupted.tokens_used  # kept parts' tokens still count


def test_a_kept_reply_is_used_only_for_the_same_request(
    object_store: ObjectStore, fake_openai: FakeOpenAIServer
) -> None:
    pages = cuad_pages(LARGEST, "doc-other-model")
    request = _store_pages(object_store, pages)
    _run(object_store, _extractor(fake_openai), request)
    first = fake_openai.request_count

    workspace = ObjectKeys.extraction_workspace(request.extraction_id)
    [kept, *_] = [k for k in object_store.list_keys(workspace) if "/chunks/" in k]
    object_store.put_bytes(kept, b'{"findings": "not a list"}', "application/json")
    _run(object_store, _extractor(fake_openai), request)
    assert fake_openai.request_count == first + 1  # only the damaged reply is asked for again

    other_model = _extractor(fake_openai)
    other_model.model = "another-model"
    _run(object_store, other_model, request)
    assert fake_openai.request_count == 2 * first + 1  # another model: every part asked again


def _verified(pages: ParsedPages, output: ProviderOutput) -> list[object]:
    return list(verify_evidence(pages, output).findings)


def test_a_contract_read_in_one_request_keeps_no_reply(
    object_store: ObjectStore, fake_openai: FakeOpenAIServer
) -> None:
    request = _store_pages(object_store, cuad_pages(LARGEST, "doc-one-request"))
    summary = _run(object_store, _extractor(fake_openai, context_tokens=400_000), request)
    workspace = ObjectKeys.extraction_workspace(request.extraction_id)
    assert list(object_store.list_keys(workspace)) == [summary.result_key]
