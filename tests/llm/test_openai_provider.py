"""The OpenAI provider against a real HTTP fake: one request per call, every failure typed."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from openai.types.chat import ChatCompletion
from pydantic import SecretStr

from charmelio.contract import ParsedPages
from charmelio.errors import (
    LLMRateLimitedError,
    LLMRequestError,
    LLMResponseError,
    LLMUnavailableError,
)
from charmelio.settings import Settings
from llm_worker import OpenAIExtractor
from llm_worker._evidence import verify_evidence
from llm_worker._llm_schema import LLMExtraction, strict_json_schema
from llm_worker._openai import DEFAULT_RETRY_AFTER, parse_completion, retry_after
from operator_tools.fakes.openai_server import FakeOpenAIServer
from operator_tools.fakes.replies import plainest_value
from tests.llm.conftest import API_KEY, CLIENT_TIMEOUT_SECONDS, MODEL, openai_extractor


def _page_text(pages: ParsedPages, number: int) -> str:
    return next(page.text for page in pages.pages if page.page == number)


def test_good_reply_becomes_verified_findings(
    fake_openai: FakeOpenAIServer, sample_pages: ParsedPages
) -> None:
    output = openai_extractor(fake_openai).extract(sample_pages)

    assert output.governing_law == "Delaware"
    assert {f.category for f in output.findings} >= {"Governing Law", "Anti-Assignment"}
    assert output.tokens_used is not None
    assert output.tokens_used > 0
    evidence = verify_evidence(sample_pages, output)
    assert evidence.quotes_dropped == 0
    assert len(evidence.findings) == len(output.findings)
    for finding in evidence.findings:
        assert finding.quote in _page_text(sample_pages, finding.page)
    assert set(evidence.topics) == {"termination", "confidentiality"}


def test_the_request_asks_for_strict_json_schema_once(
    fake_openai: FakeOpenAIServer, sample_pages: ParsedPages
) -> None:
    openai_extractor(fake_openai).extract(sample_pages)

    [request] = fake_openai.requests
    assert request.path == "/v1/chat/completions"
    assert request.authorization == f"Bearer {API_KEY}"
    body = request.body
    assert body["model"] == MODEL
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["response_format"]["json_schema"]["schema"] == strict_json_schema(LLMExtraction)
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "[page 1]\n" in body["messages"][1]["content"]


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("malformed_json", "invalid_json"), ("schema_violation", "schema_violation")],
)
def test_unusable_replies_raise_llm_response_error(
    fake_openai: FakeOpenAIServer, sample_pages: ParsedPages, mode: str, reason: str
) -> None:
    fake_openai.mode = mode

    with pytest.raises(LLMResponseError) as raised:
        openai_extractor(fake_openai).extract(sample_pages)

    assert raised.value.type == "LLMResponseError"
    assert raised.value.reason == reason
    assert not raised.value.non_retryable  # another attempt may produce valid JSON
    assert fake_openai.request_count == 1


def test_invented_quotes_never_survive_verification(
    fake_openai: FakeOpenAIServer, sample_pages: ParsedPages
) -> None:
    fake_openai.mode = "bad_quotes"

    output = openai_extractor(fake_openai).extract(sample_pages)
    evidence = verify_evidence(sample_pages, output)

    assert output.findings
    assert evidence.findings == []
    assert evidence.topics == {}
    assert evidence.quotes_dropped == len(output.findings) + len(output.topics)


def test_rate_limit_carries_retry_after_as_the_next_retry_delay(
    fake_openai: FakeOpenAIServer, sample_pages: ParsedPages
) -> None:
    fake_openai.mode = "rate_limited"

    with pytest.raises(LLMRateLimitedError) as raised:
        openai_extractor(fake_openai).extract(sample_pages)

    assert raised.value.type == "LLMRateLimitedError"
    assert raised.value.next_retry_delay == timedelta(seconds=1)
    assert fake_openai.request_count == 1  # max_retries=0: Temporal is the only retry layer


def test_server_error_is_unavailable(
    fake_openai: FakeOpenAIServer, sample_pages: ParsedPages
) -> None:
    fake_openai.mode = "server_error"

    with pytest.raises(LLMUnavailableError) as raised:
        openai_extractor(fake_openai).extract(sample_pages)

    assert raised.value.type == "LLMUnavailableError"
    assert raised.value.reason == "server_error"
    assert fake_openai.request_count == 1


def test_a_hanging_provider_times_out_as_unavailable(
    fake_openai: FakeOpenAIServer, sample_pages: ParsedPages
) -> None:
    fake_openai.mode = "hang"
    started = time.monotonic()

    with pytest.raises(LLMUnavailableError) as raised:
        openai_extractor(fake_openai).extract(sample_pages)

    assert raised.value.reason == "timeout"
    assert time.monotonic() - started < CLIENT_TIMEOUT_SECONDS + 2
    assert fake_openai.request_count == 1


def test_unauthorized_is_final_and_never_shows_the_key(
    fake_openai: FakeOpenAIServer, sample_pages: ParsedPages
) -> None:
    fake_openai.mode = "unauthorized"

    with pytest.raises(LLMRequestError) as raised:
        openai_extractor(fake_openai).extract(sample_pages)

    error = raised.value
    assert error.type == "LLMRequestError"
    assert error.non_retryable
    assert "401" in str(error)
    assert API_KEY not in str(error)
    assert API_KEY not in repr(error.details)
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_unknown_path_is_a_request_error(
    fake_openai: FakeOpenAIServer, sample_pages: ParsedPages
) -> None:
    extractor = openai_extractor(fake_openai, base_url=f"http://127.0.0.1:{fake_openai.port}/v2")

    with pytest.raises(LLMRequestError) as raised:
        extractor.extract(sample_pages)

    assert raised.value.reason == "not_found"


def test_base_url_without_v1_also_works(
    fake_openai: FakeOpenAIServer, sample_pages: ParsedPages
) -> None:
    extractor = openai_extractor(fake_openai, base_url=f"http://127.0.0.1:{fake_openai.port}")

    extractor.extract(sample_pages)

    assert fake_openai.requests[0].path == "/chat/completions"


def test_nothing_listening_is_unavailable(sample_pages: ParsedPages) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    extractor = OpenAIExtractor(
        base_url=f"http://127.0.0.1:{port}/v1", model=MODEL, timeout_seconds=1
    )

    with pytest.raises(LLMUnavailableError) as raised:
        extractor.extract(sample_pages)

    assert raised.value.reason == "connection"


def test_a_scripted_rate_limit_then_success(
    fake_openai: FakeOpenAIServer, sample_pages: ParsedPages
) -> None:
    """What a Temporal retry sees: the first attempt is rate limited, the second succeeds."""
    fake_openai.script(["rate_limited", "good"])
    extractor = openai_extractor(fake_openai)

    with pytest.raises(LLMRateLimitedError):
        extractor.extract(sample_pages)
    output = extractor.extract(sample_pages)

    assert output.findings
    assert [r.mode for r in fake_openai.requests] == ["rate_limited", "good"]


def test_from_settings_uses_the_configured_endpoint(fake_openai: FakeOpenAIServer) -> None:
    settings = Settings(
        llm_provider="openai",
        openai_base_url=fake_openai.base_url,
        openai_api_key=SecretStr(API_KEY),
        openai_model="m-1",
        openai_timeout_seconds=3,
    )

    extractor = OpenAIExtractor.from_settings(settings)

    assert (extractor.name, extractor.model, extractor.timeout_seconds) == ("openai", "m-1", 3)


def test_retry_after_formats() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    in_seven = format_datetime(now + timedelta(seconds=7), usegmt=True)

    assert retry_after({"retry-after": "1"}) == timedelta(seconds=1)
    assert retry_after({"retry-after": "2.5"}) == timedelta(seconds=2.5)
    assert retry_after({"retry-after": in_seven}, now=now) == timedelta(seconds=7)
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == timedelta(seconds=1.5)
    assert retry_after({}) == DEFAULT_RETRY_AFTER
    assert retry_after({"retry-after": "soon"}) == DEFAULT_RETRY_AFTER
    assert retry_after({"retry-after": "0"}) == timedelta(seconds=1)  # never a zero delay
    assert retry_after({"retry-after": "86400"}) == timedelta(minutes=10)


def _completion(
    content: str | None, finish_reason: str = "stop", refusal: str | None = None
) -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "c-1",
            "object": "chat.completion",
            "created": 0,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": finish_reason,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
        }
    )


def _minimal_reply() -> str:
    schema = strict_json_schema(LLMExtraction)
    reply = plainest_value(schema, schema["$defs"])
    reply["governing_law"] = "Delaware"
    return json.dumps(reply)


def test_a_json_reply_in_a_code_fence_is_accepted() -> None:
    output = parse_completion(_completion(f"```json\n{_minimal_reply()}\n```"))

    assert output.governing_law == "Delaware"
    assert output.tokens_used == 12


@pytest.mark.parametrize(
    ("completion", "reason"),
    [
        (_completion(None), "empty_reply"),
        (_completion('{"findings": ['), "invalid_json"),
        (_completion("{}", finish_reason="length"), "truncated"),
        (_completion(None, refusal="I cannot help with that."), "refusal"),
    ],
)
def test_unusable_completions(completion: ChatCompletion, reason: str) -> None:
    with pytest.raises(LLMResponseError) as raised:
        parse_completion(completion)

    assert raised.value.reason == reason
