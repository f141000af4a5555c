"""Schema bounds (CHARMELIO_OPENAI_SCHEMA_BOUNDS): the reply schema admits no reply longer than the
reply budget, so a looping model behind a grammar-constrained server closes its JSON in time."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from charmelio import stages
from charmelio.contract import ExtractionResult, ExtractionSummary
from charmelio.errors import CharmelioError, LLMRequestError, LLMResponseError
from charmelio.settings import Settings
from charmelio.storage.objects import ObjectStore
from llm_worker import OpenAIExtractor
from llm_worker._identity import identity_of
from llm_worker._llm_schema import (
    CONFIDENCE_STEPS,
    LLMExtraction,
    SchemaBounds,
    bounded_json_schema,
    response_format,
    strict_json_schema,
    worst_case_tokens,
)
from llm_worker.activities import LLMActivities
from operator_tools.fakes.openai_server import FakeOpenAIServer
from operator_tools.fakes.replies import looping_reply
from operator_tools.fakes.tokens import count_tokens
from tests.llm.conftest import openai_extractor
from tests.llm.cuad_pages import SAMPLE, contract_pages
from tests.llm.test_activity import _draft, _store_pages

URL = "http://127.0.0.1:9/v1"
SMALL_CONTEXT, SMALL_REPLY = 4_096, 1_024


def _leaves(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every schema node that is a string, array, integer or number, with where it is."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if node.get("type") in ("string", "array", "integer", "number"):
            found.append((path, node))
        for key, value in node.items():
            found.extend(_leaves(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found.extend(_leaves(item, f"{path}/{index}"))
    return found


def test_every_array_string_and_number_of_the_bounded_schema_is_bounded() -> None:
    schema = bounded_json_schema(LLMExtraction, SchemaBounds.for_reply(1_024, 3.0, (3, 7)))

    leaves = _leaves(schema)
    assert len(leaves) > 15
    for path, node in leaves:
        kind = node["type"]
        if kind == "array":
            assert node["maxItems"] >= 1, path
        elif path.endswith("/page"):
            assert node["enum"] == ["3", "4", "5", "6", "7"], path
        elif path.endswith("/confidence"):
            assert [float(step) for step in node["enum"]] == list(CONFIDENCE_STEPS), path
        else:
            assert kind == "string", path
            assert "enum" in node or node["maxLength"] >= 1, path
    # Without bounds the schema is the strict one, unchanged.
    assert response_format()["json_schema"]["schema"] == strict_json_schema(LLMExtraction)
    assert not any("maxLength" in node for _, node in _leaves(strict_json_schema(LLMExtraction)))


@pytest.mark.parametrize("reply_tokens", [SMALL_REPLY, 1_536, 2_048, 16_000])
@pytest.mark.parametrize("chars_per_token", [3.0, 4.0])
def test_the_longest_reply_the_schema_admits_fits_the_reply_budget(
    reply_tokens: int, chars_per_token: float
) -> None:
    schema = bounded_json_schema(
        LLMExtraction, SchemaBounds.for_reply(reply_tokens, chars_per_token, (1, 12))
    )

    assert worst_case_tokens(schema, chars_per_token) <= reply_tokens
    # The fake's looping model, counted by the fake's own tokenizer, agrees; and the reply a
    # bound cut short is still one the extraction model accepts.
    longest = looping_reply(100_000, schema)
    assert count_tokens(longest) <= reply_tokens
    reply = LLMExtraction.model_validate_json(longest)
    assert len(reply.findings) == schema["properties"]["findings"]["maxItems"]
    assert reply.termination is not None


def test_bounds_grow_with_the_budget_and_with_the_calibrated_ratio() -> None:
    def quote_and_findings(reply_tokens: int, chars_per_token: float) -> tuple[int, int]:
        bounds = SchemaBounds.for_reply(reply_tokens, chars_per_token)
        findings = bounds.item_limit(("LLMExtraction", "findings"))
        quote = bounds.length_limit(("LLMFinding", "quote"))
        assert findings is not None
        assert quote is not None
        return quote, findings

    small, larger, calibrated = (
        quote_and_findings(SMALL_REPLY, 3.0),
        quote_and_findings(4_000, 3.0),
        quote_and_findings(SMALL_REPLY, 4.0),
    )
    assert larger[0] > small[0]
    assert larger[1] > small[1]
    assert calibrated[0] > small[0]
    assert calibrated[1] == small[1]
    # "governed by the laws" once the estimate has learnt a real tokenizer's ratio
    assert calibrated[0] >= 20
    # A budget too small for the skeleton's arrays gives up findings before strings vanish; one
    # too small for the skeleton itself gets the smallest bounds (no longer a guarantee).
    assert small[1] < SMALL_REPLY // 256
    assert quote_and_findings(600, 3.0) == (1, 1)
    # The unbounded schema admits replies of any length.
    assert worst_case_tokens(strict_json_schema(LLMExtraction), 3.0) > 1_000_000


def _attempts(store: ObjectStore, extractor: OpenAIExtractor) -> list[object]:
    """The EXTRACT stage's attempts of one extraction, as Temporal would run them (no waits)."""
    request = _store_pages(store, contract_pages(SAMPLE, "doc-bounds"))
    request = request.model_copy(update={"extraction_id": str(uuid.uuid4())})
    activities = LLMActivities(store, extractor)
    outcomes: list[object] = []
    for attempt in range(1, stages.EXTRACT.retry.maximum_attempts + 1):
        env = ActivityEnvironment()
        env.info = dataclasses.replace(env.info, attempt=attempt)
        try:
            outcomes.append(env.run(activities.llm_extract, request))
            break
        except CharmelioError as error:
            outcomes.append(error)
            if error.non_retryable:
                break
    return outcomes


def test_without_bounds_a_looping_model_fails_the_document_at_the_reply_budget(
    object_store: ObjectStore,
) -> None:
    with FakeOpenAIServer("loop", context_tokens=SMALL_CONTEXT) as server:
        extractor = openai_extractor(
            server, context_tokens=SMALL_CONTEXT, reply_tokens=SMALL_REPLY, schema_bounds=False
        )
        outcomes = _attempts(object_store, extractor)
        billed = server.stats()

    assert len(outcomes) == stages.EXTRACT.retry.maximum_attempts
    assert all(isinstance(o, LLMResponseError) and o.reason == "truncated" for o in outcomes)
    assert billed.completion_tokens == SMALL_REPLY * len(outcomes)


def test_with_bounds_the_looping_model_closes_its_json_and_the_document_is_extracted(
    object_store: ObjectStore,
) -> None:
    pages = contract_pages(SAMPLE)
    with FakeOpenAIServer("loop", context_tokens=SMALL_CONTEXT) as server:
        extractor = openai_extractor(
            server, context_tokens=SMALL_CONTEXT, reply_tokens=SMALL_REPLY, schema_bounds=True
        )
        [summary] = _attempts(object_store, extractor)
        billed = server.stats()
        bodies = [request.body for request in server.requests]

    assert isinstance(summary, ExtractionSummary)
    result: ExtractionResult = _draft(object_store, summary)
    assert result.chunks_read == billed.requests == billed.answered > 1
    assert result.completion_tokens == billed.completion_tokens <= SMALL_REPLY * billed.requests
    # The looped words are in no contract: verification drops every quote, the result is honest.
    assert result.findings == []
    assert result.quotes_dropped > 0
    first_page, last_page = pages.pages[0].page, pages.pages[-1].page
    for body in bodies:
        schema = body["response_format"]["json_schema"]["schema"]
        reply = json.loads(looping_reply(100_000, schema))
        assert count_tokens(json.dumps(reply)) <= body["max_completion_tokens"] == SMALL_REPLY
        page = schema["$defs"]["LLMFinding"]["properties"]["page"]
        assert first_page <= int(page["enum"][0]) <= int(page["enum"][-1]) <= last_page
    # Each request's page range is its own chunk's, so they differ along the contract.
    schemas = {
        json.dumps(b["response_format"]["json_schema"]["schema"]["$defs"]["LLMTopic"])
        for b in bodies
    }
    assert len(schemas) > 1


def test_a_good_reply_is_unchanged_by_bounds_wide_enough_for_its_quotes() -> None:
    pages = contract_pages(SAMPLE)
    with FakeOpenAIServer() as server:
        plain = openai_extractor(server).extract(pages)
        bounded = openai_extractor(server, schema_bounds=True).extract(pages)
        body = server.requests[-1].body

    assert bounded.findings == plain.findings
    assert bounded.governing_law == plain.governing_law == "Delaware"
    assert body["response_format"]["json_schema"]["schema"]["properties"]["findings"]["maxItems"]


@pytest.mark.parametrize(
    ("base_url", "setting", "bounded"),
    [
        ("http://127.0.0.1:18080/v1", "auto", True),
        ("http://ollama.internal:11434/v1", "auto", True),
        ("https://api.openai.com/v1", "auto", False),
        ("https://acme.openai.azure.com/openai/deployments/x", "auto", False),
        ("https://api.openai.com/v1", "on", True),
        ("http://127.0.0.1:18080/v1", "off", False),
    ],
)
def test_auto_bounds_every_server_but_openais_own(
    base_url: str, setting: str, bounded: bool
) -> None:
    settings = Settings(_env_file=None, openai_base_url=base_url, openai_schema_bounds=setting)

    assert settings.openai_schema_bounds_enabled is bounded
    assert OpenAIExtractor.from_settings(settings).schema_bounds is bounded


def test_bounds_are_part_of_the_extractor_identity() -> None:
    plain = OpenAIExtractor(base_url=URL, model="m")
    bounded = OpenAIExtractor(base_url=URL, model="m", schema_bounds=True)

    assert identity_of(plain).version != identity_of(bounded).version
    assert identity_of(bounded).version.startswith(identity_of(plain).version)


def test_a_server_refusing_the_bounds_is_unsupported_and_names_the_setting() -> None:
    with FakeOpenAIServer("no_schema_bounds") as server:
        with pytest.raises(LLMRequestError) as raised:
            openai_extractor(server, schema_bounds=True).extract(contract_pages(SAMPLE))
        assert server.request_count == 1
        # the setting it names makes the same server work
        output = openai_extractor(server, schema_bounds=False).extract(contract_pages(SAMPLE))

    assert raised.value.reason == "unsupported"
    assert raised.value.non_retryable is True
    assert "CHARMELIO_OPENAI_SCHEMA_BOUNDS=off" in str(raised.value)
    assert output.governing_law == "Delaware"
