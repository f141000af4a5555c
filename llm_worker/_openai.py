"""The LLM provider: one chat completion against any OpenAI-compatible endpoint.

The client is built with ``max_retries=0``: Temporal's retry policy is the only retry layer, so an
attempt is exactly one HTTP request and every failure surfaces as a typed error the policy can see
(with the 429 ``Retry-After`` carried as the next retry delay). Errors are raised ``from None``
and their messages are built here, because Temporal serialises the cause chain into workflow
history and a provider's own error text may echo the API key.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from pydantic import ValidationError

from charmelio.contract import ParsedPages, Party
from charmelio.errors import (
    CharmelioError,
    LLMRateLimitedError,
    LLMRequestError,
    LLMResponseError,
    LLMUnavailableError,
)
from charmelio.settings import ConfigurationError, Settings
from llm_worker._budget import Limits, ProviderBudget, Reservation
from llm_worker._chunks import estimate_tokens, plan_chunks
from llm_worker._llm_schema import LLMExtraction, LLMTopic, response_format
from llm_worker._merge import merge_outputs
from llm_worker._prompt import build_messages, system_message
from llm_worker._provider import (
    CandidateFinding,
    CandidateTopic,
    ChunkReplies,
    ProgressCallback,
    ProviderOutput,
)

DEFAULT_RETRY_AFTER = timedelta(seconds=5)
_MIN_RETRY_AFTER = timedelta(seconds=1)
_MAX_RETRY_AFTER = timedelta(minutes=10)
# Local OpenAI-compatible servers (vLLM, Ollama, llama.cpp) need no key; the client insists on one.
_NO_KEY = "not-set"
_KEY_LIKE = re.compile(r"\b(?:sk|pk|rk|key)-[A-Za-z0-9_\-*]{6,}")
_MAX_MESSAGE_CHARS = 300
# Compatible servers that ignore "strict" sometimes wrap the JSON in a Markdown code fence.
_CODE_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)
# The user message's heading, delimiters and per-page markers overhead, and JSON's escaping.
_FRAMING_CHARS = 2_000
_MIN_CHUNK_TOKENS = 1_000


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> timedelta:
    """The wait a 429 asks for: ``retry-after-ms``, else ``Retry-After`` (seconds or HTTP date)."""
    delay: float | None = None
    if milliseconds := headers.get("retry-after-ms"):
        try:
            delay = float(milliseconds) / 1000
        except ValueError:
            delay = None
    value = headers.get("retry-after")
    if delay is None and value:
        try:
            delay = float(value)
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                delay = (when - (now or datetime.now(UTC))).total_seconds()
    if delay is None or math.isnan(delay):
        return DEFAULT_RETRY_AFTER
    return min(max(timedelta(seconds=delay), _MIN_RETRY_AFTER), _MAX_RETRY_AFTER)


def _iso_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def _optional_text(value: str | None) -> str | None:
    return value.strip() or None if value else None


def _topic(topic: LLMTopic | None) -> CandidateTopic | None:
    if topic is None:
        return None
    return CandidateTopic(topic.summary, topic.quote, topic.page, topic.confidence)


def to_provider_output(reply: LLMExtraction, tokens_used: int | None) -> ProviderOutput:
    topics = {
        name: candidate
        for name, candidate in (
            ("termination", _topic(reply.termination)),
            ("confidentiality", _topic(reply.confidentiality)),
            ("indemnification", _topic(reply.indemnification)),
            ("limitation_of_liability", _topic(reply.limitation_of_liability)),
            ("dispute_resolution", _topic(reply.dispute_resolution)),
            ("payment_terms", _topic(reply.payment_terms)),
            ("intellectual_property", _topic(reply.intellectual_property)),
        )
        if candidate is not None
    }
    return ProviderOutput(
        findings=[
            CandidateFinding(f.category, f.quote, f.page, f.confidence) for f in reply.findings
        ],
        topics=topics,
        parties=[
            Party(name=p.name.strip(), role=_optional_text(p.role))
            for p in reply.parties
            if p.name.strip()
        ],
        effective_date=_iso_date(reply.effective_date),
        termination_date=_iso_date(reply.termination_date),
        term_length=_optional_text(reply.term_length),
        governing_law=_optional_text(reply.governing_law),
        summary=reply.summary.strip(),
        confidence=reply.confidence,
        tokens_used=tokens_used,
    )


def parse_completion(completion: ChatCompletion) -> ProviderOutput:
    """The reply as candidates, or `LLMResponseError` when it is not JSON for our schema."""
    if not completion.choices:
        raise LLMResponseError("the LLM reply has no choices", reason="empty_reply")
    choice = completion.choices[0]
    if choice.message.refusal:
        raise LLMResponseError(
            f"the LLM refused: {choice.message.refusal[:_MAX_MESSAGE_CHARS]}", reason="refusal"
        )
    if choice.finish_reason == "length":
        raise LLMResponseError("the LLM reply was cut off at its token limit", reason="truncated")
    content = choice.message.content
    if not content:
        raise LLMResponseError("the LLM reply is empty", reason="empty_reply")
    fenced = _CODE_FENCE.fullmatch(content.strip())
    try:
        reply = LLMExtraction.model_validate_json(fenced.group(1) if fenced else content)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if any(error["type"] == "json_invalid" for error in errors):
            raise LLMResponseError(
                "the LLM reply is not valid JSON", reason="invalid_json"
            ) from None
        where = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in errors[:5]
        )
        raise LLMResponseError(
            f"the LLM reply does not match the extraction schema ({exc.error_count()} errors: "
            f"{where})",
            reason="schema_violation",
        ) from None
    tokens = completion.usage.total_tokens if completion.usage else None
    return to_provider_output(reply, tokens)


class OpenAIExtractor:
    """Clause extraction by an LLM behind the OpenAI chat-completions API.

    A contract longer than the context budget is read in page-aligned chunks (`_chunks`), one
    request each, and the replies merged (`_merge`). With a `ProviderBudget`, every request first
    reserves its estimated tokens from the limits shared by the whole llm pool.
    """

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_seconds: float = 120.0,
        context_tokens: int = 128_000,
        reply_tokens: int = 16_000,
        overlap_pages: int = 1,
        budget: ProviderBudget | None = None,
        expected_reply_tokens: int = 2_000,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.timeout_seconds = timeout_seconds
        self.overlap_pages = overlap_pages
        self.budget = budget
        self.expected_reply_tokens = expected_reply_tokens
        self._api_key = api_key
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or _NO_KEY,
            timeout=timeout_seconds,
            max_retries=0,
        )
        # What is left for contract text once the instructions and the reply are provided for.
        instructions = estimate_tokens(len(system_message("contract-" + "0" * 12)) + _FRAMING_CHARS)
        self.chunk_tokens = context_tokens - reply_tokens - instructions
        if self.chunk_tokens < _MIN_CHUNK_TOKENS:
            raise ConfigurationError(
                f"CHARMELIO_LLM_CONTEXT_TOKENS={context_tokens} leaves {self.chunk_tokens} tokens "
                f"for the contract after the instructions ({instructions}) and the reply "
                f"({reply_tokens}); at least {_MIN_CHUNK_TOKENS} are needed"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIExtractor:
        if not settings.openai_base_url:
            raise ValueError("the openai provider needs CHARMELIO_OPENAI_BASE_URL")
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        budget = None
        if settings.llm_budget_configured:
            budget = ProviderBudget(
                settings.require_database_url(),
                Limits(settings.llm_requests_per_minute, settings.llm_tokens_per_minute),
                name=settings.openai_base_url,
                max_wait_seconds=settings.llm_budget_max_wait_seconds,
            )
        return cls(
            base_url=settings.openai_base_url,
            model=settings.openai_model,
            api_key=key,
            timeout_seconds=settings.openai_timeout_seconds,
            context_tokens=settings.llm_context_tokens,
            reply_tokens=settings.llm_reply_tokens,
            overlap_pages=settings.llm_chunk_overlap_pages,
            budget=budget,
            expected_reply_tokens=settings.llm_expected_reply_tokens,
        )

    def extract(
        self,
        pages: ParsedPages,
        on_progress: ProgressCallback | None = None,
        replies: ChunkReplies | None = None,
    ) -> ProviderOutput:
        """Every page is read: in one request, or in chunks whose outputs are merged.

        With ``replies`` and more than one chunk, each chunk's reply is kept as soon as it
        arrives, and a chunk answered in an earlier attempt is not asked again (its tokens still
        count: they were spent on this extraction).
        """
        chunks = plan_chunks(pages, self.chunk_tokens, self.overlap_pages)
        if len(chunks) == 1:
            replies = None  # a retry would ask once either way: no storage round trips for it
        outputs = []
        for chunk in chunks:
            part = (chunk.number, chunk.count) if chunk.count > 1 else None
            messages = build_messages(chunk.pages, part)
            fingerprint = self._fingerprint(messages)
            kept = replies.get(fingerprint) if replies is not None else None
            if on_progress is not None and chunk.count > 1:
                verb = "kept from an earlier attempt:" if kept else "reading"
                on_progress(
                    f"{verb} part {chunk.number} of {chunk.count} "
                    f"(pages {chunk.first_page}-{chunk.last_page})"
                )
            if kept is None:
                kept = self._complete(messages, on_progress)
                if replies is not None:
                    replies.put(fingerprint, kept)
            outputs.append(kept)
        return merge_outputs(outputs)

    def _fingerprint(self, messages: list[ChatCompletionMessageParam]) -> str:
        """Same provider, model and request: the same reply may stand in for a new one."""
        request = json.dumps([self.base_url, self.model, messages], sort_keys=True)
        return hashlib.sha256(request.encode()).hexdigest()[:32]

    def _complete(
        self, messages: list[ChatCompletionMessageParam], on_progress: ProgressCallback | None
    ) -> ProviderOutput:
        """One request, inside the shared budget when there is one."""
        reservation = None
        if self.budget is not None:
            estimate = estimate_tokens(len(json.dumps(messages))) + self.expected_reply_tokens
            reservation = self.budget.acquire(estimate, on_progress)
        try:
            completion = self._client.chat.completions.create(
                model=self.model, messages=messages, response_format=response_format()
            )
        except openai.APIError as exc:
            error = self._typed_error(exc)
            if self.budget is not None and reservation is not None:
                self._settle_failure(reservation, exc, error)
            raise error from None
        if self.budget is not None and reservation is not None:
            used = completion.usage.total_tokens if completion.usage else reservation.tokens
            self.budget.settle(reservation, used)
        return parse_completion(completion)

    def _settle_failure(
        self, reservation: Reservation, exc: openai.APIError, error: CharmelioError
    ) -> None:
        assert self.budget is not None
        if isinstance(exc, openai.RateLimitError | openai.APIConnectionError) and not isinstance(
            exc, openai.APITimeoutError
        ):
            # Refused or never sent: the provider counted no tokens.
            self.budget.settle(reservation, 0)
        if isinstance(error, LLMRateLimitedError) and error.next_retry_delay is not None:
            self.budget.back_off(error.next_retry_delay.total_seconds())

    def _redacted(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "[redacted]")
        return _KEY_LIKE.sub("[redacted]", text)[:_MAX_MESSAGE_CHARS]

    def _typed_error(self, exc: openai.APIError) -> CharmelioError:
        where = f"{self.base_url} (model {self.model})"
        details: dict[str, Any] = {"model": self.model}
        if isinstance(exc, openai.APITimeoutError):
            return LLMUnavailableError(
                f"no reply from {where} within {self.timeout_seconds:g} s",
                reason="timeout",
                **details,
            )
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnavailableError(f"cannot connect to {where}", reason="connection", **details)
        if isinstance(exc, openai.RateLimitError):
            delay = retry_after(exc.response.headers)
            return LLMRateLimitedError(
                f"rate limited by {where}; retrying after {delay.total_seconds():g} s",
                reason="rate_limited",
                next_retry_delay=delay,
                retry_after_seconds=delay.total_seconds(),
                **details,
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            details["status_code"] = status
            if status >= 500 or status in (408, 409):
                return LLMUnavailableError(
                    f"{where} failed with HTTP {status}", reason="server_error", **details
                )
            if status in (401, 403):
                # The provider's own text for these often quotes the key, so none of it is kept.
                return LLMRequestError(
                    f"{where} rejected the credentials (HTTP {status}); check "
                    "CHARMELIO_OPENAI_API_KEY",
                    reason="unauthorized" if status == 401 else "forbidden",
                    **details,
                )
            return LLMRequestError(
                f"{where} rejected the request (HTTP {status}): {self._redacted(exc.message)}",
                reason="not_found" if status == 404 else "bad_request",
                **details,
            )
        return LLMResponseError(
            f"unusable reply from {where}: {self._redacted(str(exc))}",
            reason="invalid_reply",
            **details,
        )
