"""Long contracts: page-aligned chunks within the budget, overlapping, nothing left out; merging."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from charmelio.contract import PageText, ParsedPages, Party
from llm_worker._chunks import CHARS_PER_TOKEN, estimate_tokens, plan_chunks
from llm_worker._merge import merge_outputs
from llm_worker._provider import CandidateFinding, CandidateTopic, ProviderOutput


def _pages(*sizes: int) -> ParsedPages:
    return ParsedPages(
        document_id="doc-long",
        engine="test",
        pages=[
            PageText(page=n, text=("clause " * (size // 7)).strip())
            for n, size in enumerate(sizes, 1)
        ],
    )


def _cost(page: PageText) -> int:
    return estimate_tokens(len(page.text) + len("[page 99999]\n\n\n"))


def test_a_contract_that_fits_is_one_chunk() -> None:
    pages = _pages(3000, 3000, 3000)

    [chunk] = plan_chunks(pages, budget_tokens=10_000)

    assert (chunk.number, chunk.count) == (1, 1)
    assert chunk.pages == pages


@pytest.mark.parametrize("overlap", [0, 1, 2])
def test_chunks_are_page_aligned_within_budget_and_overlap(overlap: int) -> None:
    pages = _pages(*([2400] * 12))
    budget = 3 * _cost(pages.pages[0])  # three pages per request

    chunks = plan_chunks(pages, budget_tokens=budget, overlap_pages=overlap)

    numbers = [[p.page for p in chunk.pages.pages] for chunk in chunks]
    for chunk in chunks:
        assert sum(_cost(p) for p in chunk.pages.pages) <= budget
        assert chunk.count == len(chunks)
        assert all(p in pages.pages for p in chunk.pages.pages)  # whole pages, unchanged
    for before, after in itertools.pairwise(numbers):
        assert after[0] == before[-1] - overlap + 1  # shares `overlap` edge pages
        assert after == list(range(after[0], after[-1] + 1))
    assert sorted({n for chunk in numbers for n in chunk}) == list(range(1, 13))
    assert numbers[0][0] == 1
    assert numbers[-1][-1] == 12


def test_an_oversized_page_is_split_without_losing_a_character() -> None:
    pages = _pages(1000, 40_000, 1000)
    budget = 2000

    chunks = plan_chunks(pages, budget_tokens=budget, overlap_pages=0)

    parts = [p for chunk in chunks for p in chunk.pages.pages if p.page == 2]
    assert len(parts) > 1
    assert "".join(p.text for p in parts) == pages.pages[1].text
    assert all(_cost(p) <= budget for p in parts)
    assert all(len(p.text) <= budget * CHARS_PER_TOKEN for p in parts)


def test_overlap_never_stalls_when_pages_barely_fit() -> None:
    pages = _pages(*([5000] * 6))
    budget = _cost(pages.pages[0]) + 10  # one page per request

    chunks = plan_chunks(pages, budget_tokens=budget, overlap_pages=1)

    assert [chunk.first_page for chunk in chunks] == [1, 2, 3, 4, 5, 6]


def test_a_budget_below_one_token_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one token"):
        plan_chunks(_pages(100), budget_tokens=0)


def test_merging_deduplicates_and_keeps_the_earliest_fields() -> None:
    law = "This Agreement is governed by the laws of Delaware."
    first = ProviderOutput(
        findings=[CandidateFinding("Governing Law", law, 3, 0.6)],
        topics={"termination": CandidateTopic("t1", "Either party may terminate.", 2, 0.5)},
        parties=[Party(name="Acme Corp."), Party(name="Beta LLC", role=None)],
        effective_date=date(2020, 1, 1),
        summary="opening",
        confidence=0.6,
        tokens_used=100,
    )
    second = ProviderOutput(
        findings=[
            CandidateFinding("Governing Law", law.upper().replace(" ", "  "), 3, 0.9),
            CandidateFinding("Insurance", "Supplier shall maintain insurance.", 4, 0.7),
        ],
        topics={"termination": CandidateTopic("t2", "Either party may end it.", 4, 0.8)},
        parties=[Party(name="BETA  LLC", role="Supplier")],
        effective_date=date(2021, 5, 5),
        governing_law="Delaware",
        confidence=0.8,
        tokens_used=50,
    )

    merged = merge_outputs([first, second])

    assert merged.chunks_read == 2
    assert [(f.category, f.confidence) for f in merged.findings] == [
        ("Governing Law", 0.9),
        ("Insurance", 0.7),
    ]
    assert merged.topics["termination"].summary == "t2"
    assert [(p.name, p.role) for p in merged.parties] == [
        ("Acme Corp.", None),
        ("BETA  LLC", "Supplier"),
    ]
    assert merged.effective_date == date(2020, 1, 1)
    assert merged.governing_law == "Delaware"
    assert merged.summary == "opening"
    assert merged.tokens_used == 150
    assert merged.confidence == 0.7


def test_merging_one_output_is_that_output() -> None:
    only = ProviderOutput(summary="s", tokens_used=None, chunks_read=7)

    assert merge_outputs([only]) == ProviderOutput(summary="s", tokens_used=None, chunks_read=1)
    with pytest.raises(ValueError, match="nothing to merge"):
        merge_outputs([])
