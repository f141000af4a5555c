"""Against a real OpenAI-compatible server nobody here wrote (issue 15): skipped unless
``CHARMELIO_TEST_REAL_LLM_URL`` names one, e.g. llama.cpp's llama-server with a 4,096-token
context from ``../shared/tools/real-llm`` (see the README's LLM section). The outage test also
needs ``CHARMELIO_TEST_REAL_LLM_SCRIPT``: the script that stops and starts that server;
``CHARMELIO_TEST_REAL_LLM_TIMEOUT`` (default 300 s) bounds each request.

Answers of a tiny model are poor; these check protocol and robustness, never content.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from charmelio import stages
from charmelio.contract import ExtractionResult, ExtractionSummary, ProviderUsage
from charmelio.errors import CharmelioError, LLMRequestError, LLMResponseError
from charmelio.settings import Settings
from charmelio.storage.objects import ObjectStore
from llm_worker import OpenAIExtractor
from llm_worker import _openai as openai_module
from llm_worker._provider import usage_of
from llm_worker.activities import LLMActivities
from tests.llm.cuad_pages import SAMPLE, contract_pages
from tests.llm.test_activity import _store_pages

URL = os.environ.get("CHARMELIO_TEST_REAL_LLM_URL", "")
SCRIPT = os.environ.get("CHARMELIO_TEST_REAL_LLM_SCRIPT", "")
CONTEXT = int(os.environ.get("CHARMELIO_TEST_REAL_LLM_CONTEXT", "4096"))
# Per request: a 1,024-token reply at the 2 tokens/s a loaded 2-core machine gives takes ~9 min.
TIMEOUT = float(os.environ.get("CHARMELIO_TEST_REAL_LLM_TIMEOUT", "300"))
pytestmark = [
    pytest.mark.real_llm,
    pytest.mark.skipif(not URL, reason="set CHARMELIO_TEST_REAL_LLM_URL to a real server"),
]


class BilledUsage:
    """What the server put in each response's ``usage``, noted at the client, beside our tally."""

    def __init__(self) -> None:
        self.responses: list[dict[str, Any]] = []

    def wrap(self, create: Any) -> Any:
        def noted(*args: Any, **kwargs: Any) -> Any:
            try:
                completion = create(*args, **kwargs)
            except Exception:
                self.responses.append({})
                raise
            usage = completion.usage
            self.responses.append(json.loads(usage.model_dump_json()) if usage else {})
            return completion

        return noted

    @property
    def total(self) -> ProviderUsage:
        return ProviderUsage(
            requests=len(self.responses),
            prompt_tokens=sum(u.get("prompt_tokens", 0) for u in self.responses),
            completion_tokens=sum(u.get("completion_tokens", 0) for u in self.responses),
        )


def _extractor(billed: BilledUsage | None = None, **overrides: Any) -> OpenAIExtractor:
    """The provider as the settings make it for this server: a quarter of the context for the
    reply and, the server not being OpenAI's, schema bounds on."""
    settings = Settings(_env_file=None, openai_base_url=URL, llm_context_tokens=CONTEXT)
    arguments: dict[str, Any] = {
        "base_url": URL,
        "model": "real-model",
        "timeout_seconds": TIMEOUT,
        "context_tokens": CONTEXT,
        "reply_tokens": settings.llm_reply_budget,
        "schema_bounds": settings.openai_schema_bounds_enabled,
        **overrides,
    }
    extractor = OpenAIExtractor(**arguments)
    if billed is not None:
        completions = extractor._client.chat.completions
        completions.create = billed.wrap(completions.create)  # type: ignore[method-assign]
    return extractor


def _run_attempts(
    store: ObjectStore, extractor: OpenAIExtractor, log: list[str]
) -> tuple[Any, int]:
    """The EXTRACT stage as Temporal runs it: its attempts, each after the error's delay."""
    request = _store_pages(store, contract_pages(SAMPLE, "doc-real")).model_copy(
        update={"extraction_id": str(uuid.uuid4())}
    )
    activities = LLMActivities(store, extractor)
    attempts = stages.EXTRACT.retry.maximum_attempts
    for attempt in range(1, attempts + 1):
        env = ActivityEnvironment()
        env.info = env.info.__class__(**{**vars(env.info), "attempt": attempt})
        started = time.monotonic()
        try:
            return env.run(activities.llm_extract, request), attempt
        except CharmelioError as error:
            log.append(
                f"attempt {attempt}: {type(error).__name__} {error.reason} after "
                f"{time.monotonic() - started:.1f} s"
            )
            if error.non_retryable or attempt == attempts:
                return error, attempt
            delay = error.next_retry_delay
            time.sleep(delay.total_seconds() if delay else 2.0 * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def test_a_4096_token_context_reads_the_sample_contract_and_counts_every_token(
    object_store: ObjectStore,
) -> None:
    billed = BilledUsage()
    extractor = _extractor(billed)
    assert extractor.schema_bounds
    started = time.monotonic()
    log: list[str] = []
    outcome, attempts = _run_attempts(object_store, extractor, log)
    elapsed = time.monotonic() - started
    print(f"\n4k extraction: {attempts} attempt(s), {elapsed:.0f} s; {log}")
    print(f"server billed {billed.total}; chars/token now {extractor.tokens.chars_per_token:.2f}")
    # The bounded schema leaves the looping model no reply longer than the budget: every
    # request is answered with closed JSON, so the first attempt extracts the contract.
    assert isinstance(outcome, ExtractionSummary), outcome
    assert attempts == 1
    result = ExtractionResult.model_validate_json(object_store.get_bytes(outcome.result_key))
    print(
        f"result: {result.chunks_read} chunk(s), {result.llm_requests} requests, "
        f"{result.prompt_tokens} prompt + {result.completion_tokens} completion tokens, "
        f"{len(result.findings)} findings kept, {result.quotes_dropped} quotes dropped, "
        f"fields dropped {result.fields_dropped}"
    )
    assert result.chunks_read == result.llm_requests == billed.total.requests
    assert (result.prompt_tokens, result.completion_tokens) == (
        billed.total.prompt_tokens,
        billed.total.completion_tokens,
    )
    assert all(u["completion_tokens"] <= extractor.reply_tokens for u in billed.responses)


def test_a_looping_reply_is_cut_at_the_reply_budget_and_billed() -> None:
    billed = BilledUsage()
    # Without bounds (and in a budget too small for any bounded reply) the loop runs to the cut.
    extractor = _extractor(billed, reply_tokens=128, schema_bounds=False)
    started = time.monotonic()
    with pytest.raises(LLMResponseError) as raised:
        extractor.extract(contract_pages(SAMPLE))
    print(f"\ncut after {time.monotonic() - started:.1f} s; server billed {billed.total}")
    assert raised.value.reason == "truncated"
    [usage] = billed.responses
    assert usage["completion_tokens"] <= 128
    assert usage_of(raised.value) == billed.total


def test_an_incompatible_structured_output_request_ends_after_one_attempt_as_unsupported(
    object_store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # llama-server supports json_schema; a schema it cannot compile gets its real refusal.
    def unusable_schema(bounds: object = None) -> dict[str, Any]:
        schema = {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}
        return {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}

    monkeypatch.setattr(openai_module, "response_format", unusable_schema)
    billed = BilledUsage()
    log: list[str] = []
    outcome, attempts = _run_attempts(object_store, _extractor(billed), log)
    print(f"\n{log}: {outcome}")
    assert attempts == 1
    assert isinstance(outcome, LLMRequestError)
    assert outcome.reason == "unsupported"
    assert "CHARMELIO_OPENAI_RESPONSE_FORMAT" in str(outcome)


@pytest.fixture
def restartable() -> Iterator[str]:
    if not SCRIPT:
        pytest.skip("set CHARMELIO_TEST_REAL_LLM_SCRIPT to the script that stops/starts it")
    yield SCRIPT
    subprocess.run(["bash", SCRIPT, "start"], check=True, capture_output=True)


def test_a_20_second_outage_is_ridden_out(object_store: ObjectStore, restartable: str) -> None:
    subprocess.run(["bash", restartable, "stop"], check=True, capture_output=True)
    stopped = time.monotonic()

    def come_back() -> None:
        time.sleep(20)
        subprocess.run(["bash", restartable, "start"], check=True, capture_output=True)

    restarter = threading.Thread(target=come_back)
    restarter.start()
    log: list[str] = []
    outcome, attempts = _run_attempts(object_store, _extractor(), log)
    restarter.join()
    print(f"\noutage: {log}; ended after {time.monotonic() - stopped:.0f} s: {outcome!r}"[:600])
    assert attempts > 1
    assert "connection" in log[0]
    # Past the outage the server answered: whatever it said, it was not unreachable any more.
    assert not (isinstance(outcome, CharmelioError) and outcome.reason == "connection")
