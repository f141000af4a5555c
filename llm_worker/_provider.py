"""The one interface both extraction providers implement, and the unverified output they return.

A provider only *claims* things: each quote and page is a candidate until `_evidence` has found
the words in the parsed text. Keeping candidates in their own types (not `ClauseFinding`) means
nothing a provider says can reach the stored result without passing that check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from temporalio.exceptions import ApplicationError

from charmelio.contract import CuadCategory, ParsedPages, Party, ProviderUsage
from charmelio.errors import CharmelioError


@dataclass(frozen=True)
class CandidateFinding:
    category: CuadCategory
    quote: str
    page: int | None
    confidence: float


@dataclass(frozen=True)
class CandidateTopic:
    """A topic clause (see `charmelio.contract.TOPIC_FIELDS`) as the provider described it."""

    summary: str
    quote: str
    page: int | None
    confidence: float


@dataclass(frozen=True)
class CandidateQuote:
    """The words a field's value was read from, as the provider quoted them."""

    quote: str
    page: int | None


@dataclass(frozen=True)
class ProviderOutput:
    """Everything a provider extracted from one document, before its quotes are verified."""

    findings: list[CandidateFinding] = field(default_factory=list)
    topics: dict[str, CandidateTopic] = field(default_factory=dict)
    parties: list[Party] = field(default_factory=list)
    effective_date: date | None = None
    termination_date: date | None = None
    term_length: str | None = None
    governing_law: str | None = None
    agreement_date: date | None = None
    perpetual: bool = False
    renewal_term: str | None = None
    renewal_notice_period: str | None = None
    # Where each single-valued field was read (charmelio.contract.EVIDENCED_FIELDS), unverified.
    field_quotes: dict[str, CandidateQuote] = field(default_factory=dict)
    summary: str = ""
    confidence: float = 0.0
    tokens_used: int | None = None
    chunks_read: int = 1
    # The requests this extraction call made and what the provider billed for them; replies
    # kept from an earlier attempt are in `tokens_used` but not here (that attempt paid them).
    spent: ProviderUsage = field(default_factory=ProviderUsage)


_USAGE_DETAILS = ("llm_requests", "prompt_tokens", "completion_tokens")


def with_usage(error: CharmelioError, usage: ProviderUsage) -> CharmelioError:
    """The same error, its details also saying what the failed call had spent."""
    payload = dict(error.details[0]) if error.details and isinstance(error.details[0], dict) else {}
    payload.update(
        llm_requests=usage.requests,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
    )
    reason = payload.pop("reason", None)
    return type(error)(
        error.message, reason=reason, next_retry_delay=error.next_retry_delay, **payload
    )


def usage_of(error: BaseException) -> ProviderUsage:
    """What a failed extraction call had spent, from `with_usage` details (nothing otherwise)."""
    if not isinstance(error, ApplicationError) or not error.details:
        return ProviderUsage()
    payload = error.details[0]
    if not isinstance(payload, dict):
        return ProviderUsage()
    requests, prompt, completion = (payload.get(name) for name in _USAGE_DETAILS)
    if not all(isinstance(value, int) and value >= 0 for value in (requests, prompt, completion)):
        return ProviderUsage()
    return ProviderUsage(requests=requests, prompt_tokens=prompt, completion_tokens=completion)


ProgressCallback = Callable[[str], None]
"""Called between the steps of a long extraction (each provider call); the activity heartbeats."""


class ChunkReplies(Protocol):
    """Provider replies kept between the attempts of one extraction, by a fingerprint of the
    request that produced them: a retry after a 429 on part 5 does not pay for parts 1 to 4 again.
    """

    def get(self, fingerprint: str) -> ProviderOutput | None: ...

    def put(self, fingerprint: str, output: ProviderOutput) -> None: ...


class ClauseExtractor(Protocol):
    """Reads a parsed contract and claims clauses with quotes.

    `name` and `model` are recorded in every result, so a stored extraction always says which
    provider and which model (or rule-set version) produced it.
    """

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str: ...

    def extract(
        self,
        pages: ParsedPages,
        on_progress: ProgressCallback | None = None,
        replies: ChunkReplies | None = None,
    ) -> ProviderOutput: ...
