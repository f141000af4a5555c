"""Small-context models: settings and the llm pool agree on the smallest usable context, a 4,096
token server reads the sample contract, and the token estimate learns the provider's counts."""

from __future__ import annotations

import pytest

from charmelio.errors import LLMRequestError
from charmelio.settings import (
    LLM_MIN_CONTEXT_TOKENS,
    LLM_PROMPT_ROOM_TOKENS,
    ConfigurationError,
    Settings,
    load_settings,
)
from llm_worker import OpenAIExtractor
from llm_worker._openai import MIN_CHUNK_TOKENS
from operator_tools.fakes.openai_server import FakeOpenAIServer
from tests.llm.conftest import openai_extractor
from tests.llm.cuad_pages import SAMPLE, contract_pages

URL = "http://127.0.0.1:9/v1"


def _largest_reply(context: int) -> int:
    return min(context // 2, context - LLM_PROMPT_ROOM_TOKENS)


@pytest.mark.parametrize("context", [LLM_MIN_CONTEXT_TOKENS, 6_000, 8_192, 32_768, 128_000])
def test_every_context_and_reply_the_settings_accept_starts_a_worker(context: int) -> None:
    for reply in (None, 256, _largest_reply(context)):
        settings = Settings(
            _env_file=None,
            openai_base_url=URL,
            llm_context_tokens=context,
            llm_reply_tokens=reply,
        )
        extractor = OpenAIExtractor.from_settings(settings)
        assert extractor.chunk_tokens >= MIN_CHUNK_TOKENS
        assert extractor.reply_tokens == settings.llm_reply_budget
    with pytest.raises(ConfigurationError, match="CHARMELIO_LLM_REPLY_TOKENS"):
        load_settings(
            stack_env=False,
            llm_context_tokens=context,
            llm_reply_tokens=_largest_reply(context) + 1,
        )


def test_a_4096_token_context_is_accepted_with_a_quarter_for_the_reply() -> None:
    settings = Settings(_env_file=None, openai_base_url=URL, llm_context_tokens=4_096)
    assert settings.llm_reply_budget == 1_024
    assert Settings(_env_file=None).llm_reply_budget == 16_000
    with pytest.raises(ConfigurationError, match="CHARMELIO_LLM_CONTEXT_TOKENS"):
        load_settings(stack_env=False, llm_context_tokens=LLM_MIN_CONTEXT_TOKENS - 1)


def test_a_small_context_gets_the_compact_instructions_a_large_one_the_full() -> None:
    small = OpenAIExtractor(base_url=URL, model="m", context_tokens=4_096, reply_tokens=1_024)
    large = OpenAIExtractor(base_url=URL, model="m")
    assert small.plan()[0] is True
    assert large.plan()[0] is False
    assert small.instruction_tokens(True) < small.instruction_tokens(False) / 2


def test_a_4096_token_server_reads_the_whole_sample_contract() -> None:
    pages = contract_pages(SAMPLE)
    with FakeOpenAIServer(context_tokens=4_096) as server:
        extractor = openai_extractor(server, context_tokens=4_096, reply_tokens=1_024)
        output = extractor.extract(pages)
        stats = server.stats()
        bodies = [request.body for request in server.requests]

    assert stats.answered == stats.requests == output.chunks_read > 1
    assert output.governing_law == "Delaware"
    assert all(body["max_completion_tokens"] == 1_024 for body in bodies)
    # every token the server billed is counted, and they add up to tokens_used
    assert output.spent.requests == stats.requests
    assert (output.spent.prompt_tokens, output.spent.completion_tokens) == (
        stats.prompt_tokens,
        stats.completion_tokens,
    )
    assert output.tokens_used == stats.tokens


def test_the_estimate_learns_the_providers_count_and_plans_larger_chunks() -> None:
    pages = contract_pages(SAMPLE)
    with FakeOpenAIServer(context_tokens=8_192) as server:
        extractor = openai_extractor(server, context_tokens=8_192, reply_tokens=2_048)
        before = extractor.plan()[1] * extractor.tokens.chars_per_token  # characters per chunk
        first = extractor.extract(pages)
        after = extractor.plan()[1] * extractor.tokens.chars_per_token
        second = extractor.extract(pages)

    assert extractor.tokens.calibrated
    # the fake counts about four characters a token; the uncalibrated estimate assumes three
    assert 3.3 < extractor.tokens.chars_per_token < 4.5
    assert after > before * 1.1
    assert second.chunks_read <= first.chunks_read


def test_a_context_smaller_than_configured_is_a_final_error_naming_the_setting() -> None:
    pages = contract_pages(SAMPLE)
    with FakeOpenAIServer(context_tokens=2_048) as server:
        extractor = openai_extractor(server, context_tokens=32_000, reply_tokens=2_000)
        with pytest.raises(LLMRequestError) as raised:
            extractor.extract(pages)
        assert server.request_count == 1

    error = raised.value
    assert error.reason == "context_exceeded"
    assert error.non_retryable is True
    assert "CHARMELIO_LLM_CONTEXT_TOKENS=32000" in str(error)
    assert extractor.tokens.calibrated  # llama.cpp's 400 says how many tokens the prompt was
