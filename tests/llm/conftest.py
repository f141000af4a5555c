from __future__ import annotations

from collections.abc import Iterator

import pytest

from charmelio.contract import ParsedPages
from tests.fakes.openai_server import FakeOpenAIServer
from tests.llm.cuad_pages import SAMPLE, contract_pages

# Short, so the "hang" mode costs a second per test rather than the production two minutes.
CLIENT_TIMEOUT_SECONDS = 1.0
API_KEY = "sk-test-0123456789abcdef"


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def sample_pages() -> ParsedPages:
    return contract_pages(SAMPLE)
