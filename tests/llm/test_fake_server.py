"""The fake OpenAI server itself: scripting, logging, prompt shutdown, standalone process."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from charmelio.contract import ParsedPages
from charmelio.errors import CharmelioError, LLMUnavailableError
from llm_worker import OpenAIExtractor
from tests.conftest import ROOT
from tests.fakes.openai_server import FakeOpenAIServer
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


def test_runs_standalone_and_prints_its_base_url(sample_pages: ParsedPages) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_server", "--port", "0", "--mode", "good"],
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
