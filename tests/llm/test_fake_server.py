"""The fake OpenAI server itself: scripting, logging, prompt shutdown, standalone process."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest

from charmelio.contract import ParsedPages
from charmelio.errors import CharmelioError, LLMRateLimitedError, LLMUnavailableError
from llm_worker import OpenAIExtractor
from operator_tools.fakes.openai_server import FakeOpenAIServer
from tests.conftest import ROOT
from tests.llm.conftest import API_KEY


def _extractor(base_url: str, timeout: float = 1.0) -> OpenAIExtractor:
    return OpenAIExtractor(base_url=base_url, model="m", api_key=API_KEY, timeout_seconds=timeout)


def test_script_runs_once_then_falls_back_to_mode(
    fake_openai: FakeOpenAIServer, sample_pages: ParsedPages
) -> None:
    fake_openai.mode = "good"
    fake_openai.script(["server_error"])
    extractor = _extractor(fake_openai.base_url)

    with pytest.raises(LLMUnavailableError):
        extractor.extract(sample_pages)
    extractor.extract(sample_pages)
    extractor.extract(sample_pages)

    assert [r.mode for r in fake_openai.requests] == ["server_error", "good", "good"]
    assert all(r.authorization == f"Bearer {API_KEY}" for r in fake_openai.requests)


def test_unknown_modes_are_refused(fake_openai: FakeOpenAIServer) -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        fake_openai.mode = "sulking"
    with pytest.raises(ValueError, match="unknown mode"):
        fake_openai.script(["good", "sulking"])


def test_latency_delays_the_reply(sample_pages: ParsedPages) -> None:
    with FakeOpenAIServer(latency_seconds=0.3) as server:
        started = time.monotonic()
        _extractor(server.base_url).extract(sample_pages)

    assert time.monotonic() - started >= 0.3


def test_closing_releases_a_hanging_request(sample_pages: ParsedPages) -> None:
    server = FakeOpenAIServer("hang", hang_seconds=60).start()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            _extractor(server.base_url, timeout=30).extract(sample_pages)
        except CharmelioError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    while server.request_count == 0:
        time.sleep(0.01)
    started = time.monotonic()
    server.close()
    caller.join(timeout=10)

    assert time.monotonic() - started < 3
    assert not caller.is_alive()
    assert [type(e) for e in errors] == [LLMUnavailableError]


FAKE_SERVER_MODULE = "operator_tools.fakes.openai_server"


def test_runs_standalone_and_prints_its_base_url(sample_pages: ParsedPages) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "operator_tools.fakes.openai_server",
            "--port",
            "0",
            "--mode",
            "good",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/v1")

        output = _extractor(base_url, timeout=10).extract(sample_pages)

        assert output.governing_law == "Delaware"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_request_limit_refuses_with_retry_after_and_charges_nothing(
    sample_pages: ParsedPages,
) -> None:
    with FakeOpenAIServer(requests_per_minute=60, burst_seconds=1) as server:  # 1 now, then 1/s
        extractor = _extractor(server.base_url)
        extractor.extract(sample_pages)

        with pytest.raises(LLMRateLimitedError) as raised:
            extractor.extract(sample_pages)

        assert raised.value.next_retry_delay == timedelta(seconds=1)
        assert server.refused == 1
        assert len(server.accepted) == 1
        time.sleep(1.05)
        extractor.extract(sample_pages)  # refilled
        assert len(server.accepted) == 2


def test_token_limit_refuses_what_does_not_fit(sample_pages: ParsedPages) -> None:
    with FakeOpenAIServer(tokens_per_minute=9000) as server:  # 150 tokens/s, 9,000 at most
        extractor = _extractor(server.base_url)
        extractor.extract(sample_pages)  # about 7,500 tokens: fits the full bucket

        with pytest.raises(LLMRateLimitedError) as raised:
            extractor.extract(sample_pages)

        [accepted] = server.accepted
        assert 6000 < accepted.tokens < 9000
        delay = raised.value.next_retry_delay
        assert delay is not None
        # the same request again needs what is left of the bucket's deficit, refilled at 150/s
        needed = (2 * accepted.tokens - 9000) / 150
        assert needed - 1 <= delay.total_seconds() <= needed + 1
        assert server.refused == 1
