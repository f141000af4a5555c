"""Long contracts: page-aligned chunks that each fit the model's context, overlapping by a page.

A request holds the instructions, one chunk of the contract and room for the reply. When the whole
contract does not fit, it is cut at page boundaries (so every "[page N]" marker stays true) and
consecutive chunks share their edge pages, so a clause that runs across a page break is read whole
by at least one request. A single page larger than the budget is itself cut at paragraph, line or
word boundaries into parts that keep its page number. Nothing is ever dropped: every character of
every page is in some chunk, which `plan_chunks` checks before returning.

Tokens are estimated from characters at ``chars_per_token`` (no tokenizer download at run time):
three, the default, is conservative for English contract text; the OpenAI extractor passes the
ratio it has calibrated from the provider's own counts (`_tokens`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from charmelio.contract import PageText, ParsedPages

CHARS_PER_TOKEN = 3.0
_MARKER_CHARS = len("[page 99999]\n\n\n")


def estimate_tokens(characters: int, chars_per_token: float = CHARS_PER_TOKEN) -> int:
    return math.ceil(characters / chars_per_token)


@dataclass(frozen=True)
class Chunk:
    """Pages (or parts of one page) sent in one request; `number` counts from 1."""

    number: int
    count: int
    pages: ParsedPages

    @property
    def first_page(self) -> int:
        return self.pages.pages[0].page

    @property
    def last_page(self) -> int:
        return self.pages.pages[-1].page


def _split_page(page: PageText, budget_tokens: int, chars_per_token: float) -> list[PageText]:
    """Parts of an oversized page, cut at the last paragraph, line or space break that fits."""
    limit = max(1, int((budget_tokens * chars_per_token) - _MARKER_CHARS))
    parts: list[PageText] = []
    text = page.text
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        cut = cut if cut > limit // 2 else limit
        parts.append(PageText(page=page.page, text=text[:cut]))
        text = text[cut:]
    parts.append(PageText(page=page.page, text=text))
    return parts


def plan_chunks(
    pages: ParsedPages,
    budget_tokens: int,
    overlap_pages: int = 1,
    chars_per_token: float = CHARS_PER_TOKEN,
) -> list[Chunk]:
    """The chunks to send, in page order; a single chunk when the whole contract fits."""
    if budget_tokens < 1:
        raise ValueError("the chunk budget must be at least one token")

    def _cost(page: PageText) -> int:
        return estimate_tokens(len(page.text) + _MARKER_CHARS, chars_per_token)

    units: list[PageText] = []
    for page in pages.pages:
        units.extend(
            _split_page(page, budget_tokens, chars_per_token)
            if _cost(page) > budget_tokens
            else [page]
        )
    spans: list[tuple[int, int]] = []
    start = 0
    while start < len(units):
        end, size = start + 1, _cost(units[start])
        while end < len(units) and size + _cost(units[end]) <= budget_tokens:
            size += _cost(units[end])
            end += 1
        spans.append((start, end))
        if end >= len(units):
            break
        # Repeat up to `overlap_pages` units, but always make progress and leave room for the
        # next new unit, or the next chunk would hold nothing new.
        following = max(end - overlap_pages, start + 1)
        while following < end and sum(_cost(u) for u in units[following : end + 1]) > budget_tokens:
            following += 1
        start = following
    chunks = [
        Chunk(
            number,
            len(spans),
            ParsedPages(document_id=pages.document_id, engine=pages.engine, pages=units[a:b]),
        )
        for number, (a, b) in enumerate(spans, 1)
    ]
    covered = {id(unit) for chunk in chunks for unit in chunk.pages.pages}
    if len(covered) != len(units):  # pragma: no cover - a planning bug, never silent truncation
        raise AssertionError("chunk plan lost part of the document")
    return chunks
