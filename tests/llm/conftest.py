from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from charmelio.contract import ParsedPages
from llm_worker import OpenAIExtractor
from operator_tools.fakes.openai_server import FakeOpenAIServer
from tests.llm.cuad_pages import SAMPLE, contract_pages

# Short, so the "hang" mode costs a second per test rather than the production two minutes.
CLIENT_TIMEOUT_SECONDS = 1.0
API_KEY = "sk-test-0123456789abcdef"
MODEL = "fake-contract-model"


def openai_extractor(server: FakeOpenAIServer, **overrides: Any) -> OpenAIExtractor:
    """The OpenAI provider pointed at the fake, with the tests' key, model and short timeout."""
    arguments: dict[str, Any] = {
        "base_url": server.base_url,
        "model": MODEL,
        "api_key": API_KEY,
        "timeout_seconds": CLIENT_TIMEOUT_SECONDS,
        **overrides,
    }
    return OpenAIExtractor(**arguments)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def sample_pages() -> ParsedPages:
    return contract_pages(SAMPLE)
