"""Every request is bounded and counted: reply limit, sampling, outage delays, servers without
structured output, and the tokens of failed attempts carried to the extraction's result."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import pytest
from temporalio.testing import ActivityEnvironment

from charmelio import stages
from charmelio.contract import ObjectKeys, ProviderUsage
from charmelio.errors import CharmelioError, LLMRequestError, LLMResponseError, LLMUnavailableError
from charmelio.llm_usage import read_llm_usage
from charmelio.storage.objects import ObjectStore
from llm_worker import OpenAIExtractor
from llm_worker._openai import LLM_UNAVAILABLE_RETRY_DELAY
from llm_worker._provider import usage_of
from llm_worker.activities import LLMActivities
from operator_tools.fakes.openai_server import FakeOpenAIServer
from tests.llm.conftest import openai_extractor
from tests.llm.cuad_pages import SAMPLE, contract_pages
from tests.llm.test_activity import _draft, _store_pages


def test_requests_carry_the_reply_limit_temperature_and_seed(fake_openai: FakeOpenAIServer) -> None:
    openai_extractor(fake_openai, reply_tokens=3_000).extract(contract_pages(SAMPLE))
    openai_extractor(
        fake_openai, reply_tokens=3_000, temperature=None, seed=None, reply_limit_field="max_tokens"
    ).extract(contract_pages(SAMPLE))

    first, second = (request.body for request in fake_openai.requests)
    assert (first["max_completion_tokens"], first["temperature"], first["seed"]) == (3_000, 0, 0)
    assert "max_tokens" not in first
    assert second["max_tokens"] == 3_000
    assert not {"max_completion_tokens", "temperature", "seed"} & set(second)


def test_a_looping_model_is_cut_at_the_reply_budget_and_its_tokens_counted() -> None:
    with FakeOpenAIServer("loop") as server:
        with pytest.raises(LLMResponseError) as raised:
            openai_extractor(server, reply_tokens=500).extract(contract_pages(SAMPLE))
        billed = server.stats()

    assert raised.value.reason == "truncated"
    assert raised.value.non_retryable is False
    assert billed.completion_tokens == 500
    assert usage_of(raised.value) == ProviderUsage(
        requests=1, prompt_tokens=billed.prompt_tokens, completion_tokens=500
    )


@pytest.mark.parametrize("mode", ["server_error", "hang"])
def test_outages_wait_long_enough_for_the_attempts_to_outlast_30_seconds(mode: str) -> None:
    with (
        FakeOpenAIServer(mode, hang_seconds=5) as server,
        pytest.raises(LLMUnavailableError) as raised,
    ):
        openai_extractor(server, timeout_seconds=0.5).extract(contract_pages(SAMPLE))

    assert raised.value.next_retry_delay == LLM_UNAVAILABLE_RETRY_DELAY
    waits = (stages.EXTRACT.retry.maximum_attempts - 1) * LLM_UNAVAILABLE_RETRY_DELAY
    assert waits >= timedelta(seconds=30)
    assert usage_of(raised.value) == ProviderUsage(requests=1)


def test_a_refused_connection_waits_the_outage_delay_too() -> None:
    server = FakeOpenAIServer().start()
    url = server.base_url
    server.close()
    extractor = OpenAIExtractor(base_url=url, model="m", timeout_seconds=1.0)
    with pytest.raises(LLMUnavailableError) as raised:
        extractor.extract(contract_pages(SAMPLE))
    assert (raised.value.reason, raised.value.next_retry_delay) == (
        "connection",
        LLM_UNAVAILABLE_RETRY_DELAY,
    )


def test_a_server_without_json_schema_is_a_final_unsupported_error_naming_the_setting() -> None:
    with FakeOpenAIServer("no_json_schema") as server:
        with pytest.raises(LLMRequestError) as raised:
            openai_extractor(server).extract(contract_pages(SAMPLE))
        assert server.request_count == 1
        # the setting it names makes the same server work
        output = openai_extractor(server, response_format_type="json_object").extract(
            contract_pages(SAMPLE)
        )

    assert raised.value.reason == "unsupported"
    assert raised.value.non_retryable is True
    assert "CHARMELIO_OPENAI_RESPONSE_FORMAT=json_object" in str(raised.value)
    assert output.governing_law == "Delaware"


def _attempt(
    store: ObjectStore, server: FakeOpenAIServer, extraction_id: str, attempt: int
) -> object:
    pages = contract_pages(SAMPLE, "doc-usage")
    request = _store_pages(store, pages).model_copy(update={"extraction_id": extraction_id})
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    activities = LLMActivities(store, openai_extractor(server, reply_tokens=2_000))
    try:
        return env.run(activities.llm_extract, request)
    except CharmelioError as error:
        return error


def test_the_result_counts_the_requests_and_tokens_of_failed_attempts(
    object_store: ObjectStore,
) -> None:
    extraction_id = str(uuid.uuid4())
    with FakeOpenAIServer() as server:
        server.script(["loop"])
        failed = _attempt(object_store, server, extraction_id, attempt=1)
        after_first = server.stats()
        summary = _attempt(object_store, server, extraction_id, attempt=2)
        billed = server.stats()

    assert isinstance(failed, LLMResponseError)
    assert read_llm_usage(object_store, extraction_id) == ProviderUsage(
        requests=1,
        prompt_tokens=after_first.prompt_tokens,
        completion_tokens=after_first.completion_tokens,
    )
    result = _draft(object_store, summary)  # type: ignore[arg-type]
    assert result.llm_requests == billed.requests == 2
    assert (result.prompt_tokens, result.completion_tokens) == (
        billed.prompt_tokens,
        billed.completion_tokens,
    )
    assert result.tokens_used == billed.tokens
    assert ObjectKeys.extraction_usage(extraction_id).endswith("usage.json")
