"""The LLM provider: one chat completion against any OpenAI-compatible endpoint.

The client is built with ``max_retries=0``: Temporal's retry policy is the only retry layer, so an
attempt is exactly one HTTP request and every failure surfaces as a typed error the policy can see
(with the 429 ``Retry-After``, or the outage delay, carried as the next retry delay). Errors are
raised ``from None`` and their messages are built here, because Temporal serialises the cause
chain into workflow history and a provider's own error text may echo the API key.

Every request is bounded: the reply budget is sent as ``max_completion_tokens`` (or
``max_tokens``), so a model that loops inside the JSON is cut there instead of running to the
timeout. Every request's billed tokens are counted, whatever its outcome: in the output on
success, in the error's details (``llm_requests``, ``prompt_tokens``, ``completion_tokens``) on
failure, for the activity to record.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from pydantic import ValidationError

from charmelio.contract import ParsedPages, Party, ProviderUsage
from charmelio.errors import (
    CharmelioError,
    LLMRateLimitedError,
    LLMRequestError,
    LLMResponseError,
    LLMUnavailableError,
)
from charmelio.settings import ConfigurationError, Settings
from charmelio.stages import EXTRACT
from llm_worker._budget import Limits, ProviderBudget, Reservation
from llm_worker._chunks import plan_chunks
from llm_worker._llm_schema import (
    LLMExtraction,
    LLMTopic,
    SchemaBounds,
    json_object_format,
    response_format,
)
from llm_worker._merge import merge_outputs
from llm_worker._prompt import build_messages, system_message
from llm_worker._provider import (
    CandidateFinding,
    CandidateTopic,
    ChunkReplies,
    ProgressCallback,
    ProviderOutput,
    usage_of,
    with_usage,
)
from llm_worker._tokens import TokenEstimate

DEFAULT_RETRY_AFTER = timedelta(seconds=5)
_MIN_RETRY_AFTER = timedelta(seconds=1)
_MAX_RETRY_AFTER = timedelta(minutes=10)
# Local OpenAI-compatible servers (vLLM, Ollama, llama.cpp) need no key; the client insists on one.
_NO_KEY = "not-set"
_KEY_LIKE = re.compile(r"\b(?:sk|pk|rk|key)-[A-Za-z0-9_\-*]{6,}")
_MAX_MESSAGE_CHARS = 300
# Compatible servers that ignore "strict" sometimes wrap the JSON in a Markdown code fence.
_CODE_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)
# The user message's heading and delimiters (page markers are counted with each page), and the
# chat template's tokens around each message.
_FRAMING_CHARS = 600
_TEMPLATE_TOKENS = 32
MIN_CHUNK_TOKENS = 1_000
_PLACEHOLDER_TAG = "contract-" + "0" * 12
# A stopped or restarting server, a dropped connection or a 5xx: each attempt waits this long, so
# the stage's attempts together outlast an outage of LLM_OUTAGE_RIDDEN_OUT (the attempts are
# EXTRACT's, in the stage table; this only spaces them).
LLM_OUTAGE_RIDDEN_OUT = timedelta(seconds=40)
LLM_UNAVAILABLE_RETRY_DELAY = LLM_OUTAGE_RIDDEN_OUT / max(EXTRACT.retry.maximum_attempts - 1, 1)
# Words with which servers say they do not take a parameter (OpenAI, vLLM, Ollama, llama.cpp).
_UNSUPPORTED_WORDS = re.compile(
    r"not supported|unsupported|not support|unrecognized|unknown|extra (?:inputs|fields)|"
    r"must be one of|not permitted|not allowed|invalid",
    re.IGNORECASE,
)
# The keywords a bounded schema adds (lower-cased, as looked for in a refusal's text).
_BOUND_KEYWORDS = ("maxitems", "maxlength", "minimum", "maximum")
_CONTEXT_EXCEEDED = re.compile(
    r"exceed_context_size|context_length_exceeded|maximum context length|context size|"
    r"context window",
    re.IGNORECASE,
)


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


def _usage(completion: ChatCompletion) -> ProviderUsage:
    """The request and the tokens the provider billed for it (none when it reported none)."""
    usage = completion.usage
    if usage is None:
        return ProviderUsage(requests=1)
    return ProviderUsage(
        requests=1,
        prompt_tokens=max(usage.prompt_tokens or 0, 0),
        completion_tokens=max(usage.completion_tokens or 0, 0),
    )


def _characters(messages: list[ChatCompletionMessageParam]) -> int:
    return sum(len(str(message.get("content") or "")) for message in messages)


def _error_text(exc: openai.APIStatusError) -> str:
    """The provider's error, as text to look for words in (message, type, code, param)."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        return json.dumps(inner) if isinstance(inner, dict) else str(inner)
    return exc.message


def _prompt_tokens_in(exc: openai.APIStatusError) -> int | None:
    """llama.cpp's context overflow says how many tokens the prompt was (``n_prompt_tokens``)."""
    body = exc.body
    inner = body.get("error", body) if isinstance(body, dict) else None
    value = inner.get("n_prompt_tokens") if isinstance(inner, dict) else None
    return value if isinstance(value, int) and value > 0 else None


class OpenAIExtractor:
    """Clause extraction by an LLM behind the OpenAI chat-completions API.

    A contract longer than the context budget is read in page-aligned chunks (`_chunks`), one
    request each, and the replies merged (`_merge`). The chunk size is planned with the token
    estimate the provider's own counts have calibrated (`_tokens`); a context too small for the
    full instructions gets the compact ones. With a `ProviderBudget`, every request first
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
        temperature: float | None = 0.0,
        seed: int | None = 0,
        response_format_type: str = "json_schema",
        reply_limit_field: str = "max_completion_tokens",
        token_estimate: TokenEstimate | None = None,
        schema_bounds: bool = False,
    ) -> None:
        if response_format_type not in ("json_schema", "json_object"):
            raise ValueError("response_format_type is json_schema or json_object")
        if reply_limit_field not in ("max_completion_tokens", "max_tokens"):
            raise ValueError("reply_limit_field is max_completion_tokens or max_tokens")
        self.model = model
        self.base_url = base_url
        self.timeout_seconds = timeout_seconds
        self.context_tokens = context_tokens
        self.reply_tokens = reply_tokens
        self.overlap_pages = overlap_pages
        self.budget = budget
        self.expected_reply_tokens = expected_reply_tokens
        self.temperature = temperature
        self.seed = seed
        self.response_format_type = response_format_type
        self.reply_limit_field = reply_limit_field
        self.schema_bounds = schema_bounds
        self.tokens = token_estimate or TokenEstimate()
        self._api_key = api_key
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or _NO_KEY,
            timeout=timeout_seconds,
            max_retries=0,
        )
        compact, self.chunk_tokens = self.plan()
        if self.chunk_tokens < MIN_CHUNK_TOKENS:
            instructions = self.instruction_tokens(compact)
            raise ConfigurationError(
                f"CHARMELIO_LLM_CONTEXT_TOKENS={context_tokens} leaves {self.chunk_tokens} tokens "
                f"for the contract after the instructions ({instructions}) and the reply "
                f"(CHARMELIO_LLM_REPLY_TOKENS={reply_tokens}); at least {MIN_CHUNK_TOKENS} are "
                "needed"
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
            reply_tokens=settings.llm_reply_budget,
            overlap_pages=settings.llm_chunk_overlap_pages,
            budget=budget,
            expected_reply_tokens=min(
                settings.llm_expected_reply_tokens, settings.llm_reply_budget
            ),
            temperature=settings.llm_temperature,
            seed=settings.llm_seed,
            response_format_type=settings.openai_response_format,
            reply_limit_field=settings.openai_reply_limit_field,
            schema_bounds=settings.openai_schema_bounds_enabled,
        )

    def instruction_tokens(self, compact: bool) -> int:
        """The estimated tokens of everything in a request but the contract's pages."""
        characters = len(system_message(_PLACEHOLDER_TAG, compact)) + _FRAMING_CHARS
        return self.tokens.tokens(characters) + _TEMPLATE_TOKENS

    def plan(self) -> tuple[bool, int]:
        """(compact instructions?, tokens left for the contract) with the current estimate.

        The full instructions are sent when they take at most a quarter of what the reply leaves;
        a smaller context (a 4k or 8k model) gets the compact ones and the room they free.
        """
        room = self.context_tokens - self.reply_tokens
        compact = self.instruction_tokens(False) > room // 4
        return compact, room - self.instruction_tokens(compact)

    def extract(
        self,
        pages: ParsedPages,
        on_progress: ProgressCallback | None = None,
        replies: ChunkReplies | None = None,
    ) -> ProviderOutput:
        """Every page is read: in one request, or in chunks whose outputs are merged.

        With ``replies`` and more than one chunk, each chunk's reply is kept as soon as it
        arrives, and a chunk answered in an earlier attempt is not asked again (its tokens still
        count in ``tokens_used``: they were spent on this extraction). ``spent`` on the output,
        and the usage details of any error raised, count only the requests made by this call.
        """
        compact, chunk_tokens = self.plan()
        chunks = plan_chunks(
            pages,
            max(chunk_tokens, MIN_CHUNK_TOKENS),
            self.overlap_pages,
            self.tokens.chars_per_token,
        )
        if len(chunks) == 1:
            replies = None  # a retry would ask once either way: no storage round trips for it
        outputs = []
        spent = ProviderUsage()
        for chunk in chunks:
            part = (chunk.number, chunk.count) if chunk.count > 1 else None
            messages = build_messages(chunk.pages, part, compact)
            fingerprint = self._fingerprint(messages)
            kept = replies.get(fingerprint) if replies is not None else None
            if on_progress is not None and chunk.count > 1:
                verb = "kept from an earlier attempt:" if kept else "reading"
                on_progress(
                    f"{verb} part {chunk.number} of {chunk.count} "
                    f"(pages {chunk.first_page}-{chunk.last_page})"
                )
            if kept is None:
                try:
                    pages_read = (chunk.first_page, chunk.last_page)
                    kept, used = self._complete(messages, pages_read, on_progress)
                    spent += used
                    if replies is not None:
                        replies.put(fingerprint, kept)
                except CharmelioError as error:
                    raise with_usage(error, spent + usage_of(error)) from None
            outputs.append(kept)
        return replace(merge_outputs(outputs), spent=spent)

    def _fingerprint(self, messages: list[ChatCompletionMessageParam]) -> str:
        """Same provider, model and request: the same reply may stand in for a new one."""
        request = json.dumps([self.base_url, self.model, messages], sort_keys=True)
        return hashlib.sha256(request.encode()).hexdigest()[:32]

    def bounds(self, pages: tuple[int, int]) -> SchemaBounds | None:
        """The reply schema's bounds for a request reading `pages` (first, last), when on: sized
        to the reply budget with the current estimate of the provider's characters per token."""
        if not self.schema_bounds:
            return None
        return SchemaBounds.for_reply(self.reply_tokens, self.tokens.chars_per_token, pages)

    def _request_options(self, pages: tuple[int, int]) -> dict[str, Any]:
        bounds = self.bounds(pages)
        options: dict[str, Any] = {
            "response_format": (
                response_format(bounds)
                if self.response_format_type == "json_schema"
                else json_object_format(bounds)
            ),
            self.reply_limit_field: self.reply_tokens,
        }
        if self.temperature is not None:
            options["temperature"] = self.temperature
        if self.seed is not None:
            options["seed"] = self.seed
        return options

    def _complete(
        self,
        messages: list[ChatCompletionMessageParam],
        pages: tuple[int, int],
        on_progress: ProgressCallback | None,
    ) -> tuple[ProviderOutput, ProviderUsage]:
        """One request, inside the shared budget when there is one: its output and its usage.

        A failed request's error carries its usage (`with_usage`): a refused or failed request
        is one request, a reply cut off or not valid JSON also the tokens billed for it.
        """
        characters = _characters(messages)
        reservation = None
        if self.budget is not None:
            estimate = self.tokens.tokens(characters) + self.expected_reply_tokens
            reservation = self.budget.acquire(estimate, on_progress)
        try:
            completion = self._client.chat.completions.create(
                model=self.model, messages=messages, **self._request_options(pages)
            )
        except openai.APIError as exc:
            error = self._typed_error(exc, characters)
            if self.budget is not None and reservation is not None:
                self._settle_failure(reservation, exc, error)
            raise with_usage(error, ProviderUsage(requests=1)) from None
        used = _usage(completion)
        self.tokens.observe(characters, used.prompt_tokens)
        if self.budget is not None and reservation is not None:
            self.budget.settle(reservation, used.tokens if completion.usage else reservation.tokens)
        try:
            return parse_completion(completion), used
        except LLMResponseError as error:
            raise with_usage(error, used) from None

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

    def _unsupported(self, status: int, text: str) -> str | None:
        """The setting to change when the reply says the server lacks a feature we asked for."""
        lowered = text.lower()
        if (
            self.schema_bounds
            and status in (400, 422, 500, 501)
            and any(word in lowered for word in _BOUND_KEYWORDS)
        ):
            return "schema bounds: set CHARMELIO_OPENAI_SCHEMA_BOUNDS=off"
        other_format = (
            "json_object" if self.response_format_type == "json_schema" else "json_schema"
        )
        if status in (400, 422, 500, 501) and any(
            word in lowered
            for word in ("response_format", "json_schema", "json_object", "json schema")
        ):
            return (
                "structured output: set CHARMELIO_OPENAI_RESPONSE_FORMAT="
                f"{other_format}, or use a server that supports it"
            )
        if status not in (400, 422) or not _UNSUPPORTED_WORDS.search(lowered):
            return None
        if self.reply_limit_field in lowered:
            other = (
                "max_tokens" if self.reply_limit_field != "max_tokens" else "max_completion_tokens"
            )
            return f"{self.reply_limit_field}: set CHARMELIO_OPENAI_REPLY_LIMIT_FIELD={other}"
        if self.temperature is not None and "temperature" in lowered:
            return "temperature: set CHARMELIO_LLM_TEMPERATURE= (empty) to send none"
        if self.seed is not None and "seed" in lowered:
            return "seed: set CHARMELIO_LLM_SEED= (empty) to send none"
        return None

    def _typed_error(self, exc: openai.APIError, characters: int = 0) -> CharmelioError:
        where = f"{self.base_url} (model {self.model})"
        details: dict[str, Any] = {"model": self.model}
        outage = LLM_UNAVAILABLE_RETRY_DELAY
        if isinstance(exc, openai.APITimeoutError):
            return LLMUnavailableError(
                f"no reply from {where} within {self.timeout_seconds:g} s",
                reason="timeout",
                next_retry_delay=outage,
                **details,
            )
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnavailableError(
                f"cannot connect to {where}",
                reason="connection",
                next_retry_delay=outage,
                **details,
            )
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
            text = _error_text(exc)
            missing = self._unsupported(status, text)
            if missing is not None:
                return LLMRequestError(
                    f"{where} does not support {missing} (HTTP {status}: "
                    f"{self._redacted(exc.message)})",
                    reason="unsupported",
                    **details,
                )
            if status >= 500 or status in (408, 409):
                return LLMUnavailableError(
                    f"{where} failed with HTTP {status}",
                    reason="server_error",
                    next_retry_delay=outage,
                    **details,
                )
            if status in (401, 403):
                # The provider's own text for these often quotes the key, so none of it is kept.
                return LLMRequestError(
                    f"{where} rejected the credentials (HTTP {status}); check "
                    "CHARMELIO_OPENAI_API_KEY",
                    reason="unauthorized" if status == 401 else "forbidden",
                    **details,
                )
            if status == 400 and _CONTEXT_EXCEEDED.search(text):
                counted = _prompt_tokens_in(exc)
                if counted is not None:
                    self.tokens.observe(characters, counted)
                    details["prompt_tokens_counted"] = counted
                return LLMRequestError(
                    f"{where} refused a request longer than its context "
                    f"({counted or 'more'} tokens); CHARMELIO_LLM_CONTEXT_TOKENS="
                    f"{self.context_tokens} is more than the model serves: set it to the "
                    "server's context size",
                    reason="context_exceeded",
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
