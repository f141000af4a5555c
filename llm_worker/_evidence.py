"""Quote verification: every stored quote is words that really are in the parsed document.

A provider's quote is looked up in `ParsedPages.full_text()` after normalising both sides the
same way (case-fold, whitespace runs collapsed, typographic quotes and dashes unified), because
models and PDF text disagree on exactly those details. A quote that is found is replaced by the
document's own text at the matched offsets, and its page is taken from where it was found rather
than from the provider's claim. A quote that is not found is dropped and counted; it never reaches
the result.

The short free-text fields a provider fills (party names, governing law, term length) are held to
the same standard, less strictly: each of their words must be in the document (see `_grounded`),
or the field is dropped and named in `fields_dropped`. That keeps a model from setting a value it
invented. It does not stop a value the document itself contains: an instruction planted in the
contract that names "Mars" makes "Mars" a word of the document. Requiring the jurisdiction to be
inside a verified governing-law finding would, but cost a real contract with two governing-law
clauses (one in an attached agreement) its correct value, so it is not done. The summary is the
provider's own description and dates are written in too many ways to look up; neither is checked.
"""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from charmelio.contract import (
    EVIDENCED_FIELDS,
    TOPIC_FIELDS,
    ClauseFinding,
    FieldEvidence,
    ParsedPages,
    Party,
    TopicClause,
)
from llm_worker._jurisdictions import jurisdiction_forms
from llm_worker._provider import ProviderOutput

_UNIFIED = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u0060\u00b4", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
    # Invisible characters PDF extractors leave behind (soft hyphen, zero-width space, BOM).
    **dict.fromkeys("\u00ad\u200b\u200c\u200d\u2060\ufeff", ""),
}

# Enough to stop a one-word quote that occurs everywhere from costing a scan per occurrence.
_MAX_OCCURRENCES = 200


@lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    if char.isspace():
        return " "
    if char in _UNIFIED:
        return _UNIFIED[char]
    folded = unicodedata.normalize("NFKC", char).casefold()
    return "".join(_UNIFIED.get(c, " " if c.isspace() else c) for c in folded)


def normalise(text: str) -> str:
    """The comparison form of `text`: what two renderings of the same words have in common."""
    return " ".join("".join(_fold(c) for c in text).split())


@dataclass(frozen=True)
class Span:
    """Where a quote is in `ParsedPages.full_text()`: `text == full_text[start:end]`."""

    start: int
    end: int
    page: int
    text: str


class EvidenceIndex:
    """The normalised document, with a map from each normalised character to its source offset."""

    def __init__(self, pages: ParsedPages) -> None:
        self.text = pages.full_text()
        self._page_starts = pages.page_starts()
        self._page_numbers = [page.page for page in pages.pages]
        chars: list[str] = []
        origin: list[int] = []
        after_space = True  # drops leading whitespace, as `normalise` does
        for offset, char in enumerate(self.text):
            for folded in _fold(char):
                if folded == " ":
                    if after_space:
                        continue
                    after_space = True
                else:
                    after_space = False
                chars.append(folded)
                origin.append(offset)
        self._normal = "".join(chars)
        self._origin = origin
        self._words_cache: dict[str, bool] = {}

    def contains_word(self, word: str) -> bool:
        """Whether the normalised ``word`` occurs as a whole word."""
        if word not in self._words_cache:
            self._words_cache[word] = _has_word(self._normal, word)
        return self._words_cache[word]

    def page_at(self, offset: int) -> int:
        index = max(bisect_right(self._page_starts, offset) - 1, 0)
        return self._page_numbers[index]

    def _whole_words(self, position: int, length: int) -> bool:
        """False when the match starts or ends inside a word ("Exact" inside "Exactly")."""
        before = self._normal[position - 1] if position > 0 else " "
        after_index = position + length
        after = self._normal[after_index] if after_index < len(self._normal) else " "
        first, last = self._normal[position], self._normal[after_index - 1]
        return not ((first.isalnum() and before.isalnum()) or (last.isalnum() and after.isalnum()))

    def locate(self, quote: str, claimed_page: int | None = None) -> Span | None:
        """The quote's span. Among several occurrences, prefer whole words on `claimed_page`."""
        needle = normalise(quote)
        if not needle or not self._normal:
            return None
        best: tuple[tuple[bool, bool], Span] | None = None
        position = self._normal.find(needle)
        for _ in range(_MAX_OCCURRENCES):
            if position < 0:
                break
            start = self._origin[position]
            end = self._origin[position + len(needle) - 1] + 1
            span = Span(start, end, self.page_at(start), self.text[start:end])
            rank = (
                claimed_page is None or span.page == claimed_page,
                self._whole_words(position, len(needle)),
            )
            if best is None or rank > best[0]:
                best = (rank, span)
            if all(rank):
                break
            position = self._normal.find(needle, position + 1)
        return best[1] if best else None


@dataclass(frozen=True)
class VerifiedEvidence:
    findings: list[ClauseFinding]
    topics: dict[str, TopicClause]
    quotes_dropped: int
    parties: list[Party] = field(default_factory=list)
    governing_law: str | None = None
    term_length: str | None = None
    fields_dropped: list[str] = field(default_factory=list)
    renewal_term: str | None = None
    renewal_notice_period: str | None = None
    field_evidence: dict[str, FieldEvidence] = field(default_factory=dict)


# Words a short field may add that its document need not contain ("the State of New York" for a
# contract that says "New York law"); every other word of the field must be in the document.
_GENERIC_WORDS = frozenset(
    {"a", "an", "and", "of", "the", "law", "laws", "state", "states", "commonwealth"}
    | {"province", "republic", "kingdom"}
    # A renewal term says whether renewals repeat in its own word ("successive one (1) year").
    | {"successive"}
)
_WORD = re.compile(r"[^\W_]+")


def _has_word(normal_text: str, word: str) -> bool:
    return re.search(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", normal_text) is not None


def _significant_words(value: str) -> list[str]:
    """A number, or a word of two characters or more ("GE", "3M") that is not generic."""
    return [
        word
        for word in _WORD.findall(normalise(value))
        if word.isdigit() or (len(word) >= 2 and word not in _GENERIC_WORDS)
    ]


def _grounded(index: EvidenceIndex, value: str) -> bool:
    """Whether the document contains each significant word of the value, as a whole word.

    A value with no significant word (only "the State") is not evidence of anything.
    """
    words = _significant_words(value)
    return bool(words) and all(index.contains_word(word) for word in words)


def clamp_confidence(value: float) -> float:
    """A provider's confidence in [0, 1]: an LLM may say 1.2 or NaN, the contract allows neither."""
    return 0.0 if math.isnan(value) else min(max(value, 0.0), 1.0)


def _without_repeats(findings: Iterable[ClauseFinding]) -> list[ClauseFinding]:
    """Findings in document order, each clause once per category.

    A contract may repeat a clause word for word (an exhibit restating a section), and a provider
    may quote a sentence and, separately, a part of it: a reader would see the same quote twice.
    The first occurrence is kept (with the highest confidence of its copies), and a finding inside
    another of its category is dropped.
    """
    kept: list[ClauseFinding] = []
    by_quote: dict[tuple[str, str], int] = {}
    for finding in sorted(findings, key=lambda f: (f.start or 0, -(f.end or 0), f.category)):
        key = (finding.category, normalise(finding.quote))
        inside = any(
            other.category == finding.category
            and (other.start or 0) <= (finding.start or 0)
            and (finding.end or 0) <= (other.end or 0)
            for other in kept
        )
        if key in by_quote or inside:
            position = by_quote.get(key)
            if position is not None and kept[position].confidence < finding.confidence:
                kept[position] = kept[position].model_copy(
                    update={"confidence": finding.confidence}
                )
            continue
        by_quote[key] = len(kept)
        kept.append(finding)
    return sorted(kept, key=lambda f: (f.start or 0, f.category))


def verify_evidence(pages: ParsedPages, output: ProviderOutput) -> VerifiedEvidence:
    """Keep the findings and topic clauses whose quotes are in the document; count the rest."""
    index = EvidenceIndex(pages)
    dropped = 0
    findings: dict[tuple[str, int, int], ClauseFinding] = {}
    for candidate in output.findings:
        span = index.locate(candidate.quote, candidate.page)
        if span is None:
            dropped += 1
            continue
        finding = ClauseFinding(
            category=candidate.category,
            quote=span.text,
            page=span.page,
            confidence=clamp_confidence(candidate.confidence),
            start=span.start,
            end=span.end,
        )
        key = (finding.category, span.start, span.end)
        if key not in findings or findings[key].confidence < finding.confidence:
            findings[key] = finding
    topics: dict[str, TopicClause] = {}
    for name in TOPIC_FIELDS:
        topic = output.topics.get(name)
        if topic is None:
            continue
        span = index.locate(topic.quote, topic.page)
        if span is None:
            dropped += 1
            continue
        topics[name] = TopicClause(
            summary=topic.summary,
            quote=span.text,
            page=span.page,
            confidence=clamp_confidence(topic.confidence),
        )
    ordered = _without_repeats(findings.values())
    fields_dropped: list[str] = []
    parties = []
    for number, party in enumerate(output.parties):
        if _grounded(index, party.name):
            parties.append(party)
        else:
            fields_dropped.append(f"parties[{number}]")
    values: dict[str, str | None] = {}
    for name in ("governing_law", "term_length", "renewal_term", "renewal_notice_period"):
        value = getattr(output, name)
        # A jurisdiction is grounded by any way of writing it ("PRC" for the People's Republic).
        forms = jurisdiction_forms(value) if name == "governing_law" and value else [value]
        grounded = value is None or any(_grounded(index, form) for form in forms if form)
        values[name] = value if grounded else None
        if not grounded:
            fields_dropped.append(name)
    # A field's quote is held to a finding's standard: found in the document, or dropped (the
    # value itself stays, checked as above); it is named in fields_dropped.
    field_evidence: dict[str, FieldEvidence] = {}
    for name in EVIDENCED_FIELDS:
        claimed = output.field_quotes.get(name)
        value = values[name] if name in values else getattr(output, name)
        if claimed is None or value is None or value is False:
            continue
        span = index.locate(claimed.quote, claimed.page)
        if span is None:
            fields_dropped.append(f"field_evidence[{name}]")
            continue
        field_evidence[name] = FieldEvidence(
            quote=span.text, page=span.page, start=span.start, end=span.end
        )
    return VerifiedEvidence(
        findings=ordered,
        topics=topics,
        quotes_dropped=dropped,
        parties=parties,
        governing_law=values["governing_law"],
        term_length=values["term_length"],
        fields_dropped=fields_dropped,
        renewal_term=values["renewal_term"],
        renewal_notice_period=values["renewal_notice_period"],
        field_evidence=field_evidence,
    )
