"""Quote verification: every stored quote is words that really are in the parsed document.

A provider's quote is looked up in `ParsedPages.full_text()` after normalising both sides the
same way (case-fold, whitespace runs collapsed, typographic quotes and dashes unified), because
models and PDF text disagree on exactly those details. A quote that is found is replaced by the
document's own text at the matched offsets, and its page is taken from where it was found rather
than from the provider's claim. A quote that is not found is dropped and counted; it never reaches
the result.
"""

from __future__ import annotations

import math
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from charmelio.contract import TOPIC_FIELDS, ClauseFinding, ParsedPages, TopicClause
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


def clamp_confidence(value: float) -> float:
    """A provider's confidence in [0, 1]: an LLM may say 1.2 or NaN, the contract allows neither."""
    return 0.0 if math.isnan(value) else min(max(value, 0.0), 1.0)


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
    ordered = sorted(findings.values(), key=lambda f: (f.start or 0, f.category))
    return VerifiedEvidence(findings=ordered, topics=topics, quotes_dropped=dropped)
