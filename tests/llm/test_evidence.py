"""Quote verification: normalised matching, offsets and pages from the document, drops counted."""

from __future__ import annotations

import math
from datetime import date

from charmelio.contract import CuadCategory, PageText, ParsedPages, Party
from llm_worker._evidence import EvidenceIndex, VerifiedEvidence, normalise, verify_evidence
from llm_worker._provider import CandidateFinding, CandidateQuote, CandidateTopic, ProviderOutput

PAGES = ParsedPages(
    document_id="doc-evidence",
    engine="test",
    pages=[
        PageText(page=1, text="SUPPLY AGREEMENT\nThe Supplier shall deliver\nthe Goods monthly."),
        PageText(
            page=2,
            text="\u201cConfidential Information\u201d means data \u2013 in any form.\n"
            "Exactly one copy may be kept.",
        ),
        PageText(
            page=3,
            text="This Agreement is governed by the laws of the State of Delaware.\n"
            "The Supplier shall deliver the Goods monthly. Exact terms apply.",
        ),
    ],
)


def _finding(
    quote: str, page: int | None = 1, category: CuadCategory = "Governing Law"
) -> CandidateFinding:
    return CandidateFinding(category, quote, page, 0.8)


def _verify(*findings: CandidateFinding, **topics: CandidateTopic) -> VerifiedEvidence:
    return verify_evidence(PAGES, ProviderOutput(findings=list(findings), topics=topics))


def test_whitespace_and_case_differences_match_and_the_document_text_is_stored() -> None:
    evidence = _verify(_finding("THE SUPPLIER   shall DELIVER the goods\n monthly", page=1))

    [finding] = evidence.findings
    assert finding.quote == "The Supplier shall deliver\nthe Goods monthly"
    assert finding.page == 1
    assert PAGES.full_text()[finding.start : finding.end] == finding.quote
    assert evidence.quotes_dropped == 0


def test_typographic_quotes_and_dashes_match_plain_ones() -> None:
    evidence = _verify(_finding('"Confidential Information" means data - in any form', page=2))

    [finding] = evidence.findings
    assert finding.quote == "\u201cConfidential Information\u201d means data \u2013 in any form"
    assert finding.page == 2


def test_a_quote_not_in_the_document_is_dropped_and_counted() -> None:
    evidence = _verify(
        _finding("governed by the laws of the State of Delaware", page=3),
        _finding("governed by the laws of Atlantis", page=3),
        termination=CandidateTopic("Ends on notice.", "may terminate on a whim", 1, 0.5),
    )

    assert [f.quote for f in evidence.findings] == ["governed by the laws of the State of Delaware"]
    assert evidence.topics == {}
    assert evidence.quotes_dropped == 2


def test_the_page_is_corrected_to_where_the_quote_is() -> None:
    evidence = _verify(
        _finding("governed by the laws of the State of Delaware", page=1),
        termination=CandidateTopic("Law.", "This Agreement is governed by the laws", 7, 0.5),
    )

    assert evidence.findings[0].page == 3
    assert evidence.topics["termination"].page == 3


def test_a_repeated_quote_is_taken_from_the_claimed_page() -> None:
    on_three = _verify(_finding("The Supplier shall deliver the Goods monthly.", page=3))
    on_one = _verify(_finding("The Supplier shall deliver the Goods monthly.", page=1))

    assert on_three.findings[0].page == 3
    assert on_one.findings[0].page == 1
    assert on_three.findings[0].start != on_one.findings[0].start


def test_whole_words_are_preferred_over_a_match_inside_a_word() -> None:
    evidence = _verify(_finding("exact", page=None, category="Parties"))

    finding = evidence.findings[0]
    assert finding.page == 3
    assert finding.quote == "Exact"


def test_duplicates_collapse_and_confidences_are_clamped() -> None:
    quote = "governed by the laws of the State of Delaware"
    evidence = verify_evidence(
        PAGES,
        ProviderOutput(
            findings=[
                CandidateFinding("Governing Law", quote, 3, 1.7),
                CandidateFinding("Governing Law", quote.upper(), 3, 0.2),
                CandidateFinding("Insurance", "Exactly one copy", 2, math.nan),
            ]
        ),
    )

    assert [(f.category, f.confidence) for f in evidence.findings] == [
        ("Insurance", 0.0),
        ("Governing Law", 1.0),
    ]
    assert evidence.quotes_dropped == 0


def test_a_clause_the_contract_repeats_is_one_finding_at_its_first_occurrence() -> None:
    """The same words on pages 1 and 3 (an exhibit restating a section) are listed once."""
    quote = "The Supplier shall deliver the Goods monthly."
    evidence = verify_evidence(
        PAGES,
        ProviderOutput(
            findings=[
                CandidateFinding("Minimum Commitment", quote, 3, 0.9),
                CandidateFinding("Minimum Commitment", quote, 1, 0.4),
                # Another category may quote the same words: that is another finding.
                CandidateFinding("Volume Restriction", quote, 3, 0.5),
            ]
        ),
    )

    assert [(f.category, f.page, f.confidence) for f in evidence.findings] == [
        ("Minimum Commitment", 1, 0.9),
        ("Volume Restriction", 3, 0.5),
    ]


def test_a_finding_inside_another_of_its_category_is_dropped() -> None:
    evidence = _verify(
        _finding("the laws of the State of Delaware", page=3),
        _finding("This Agreement is governed by the laws of the State of Delaware.", page=3),
        _finding("Delaware", page=3, category="Parties"),
    )

    assert [(f.category, f.quote) for f in evidence.findings] == [
        ("Governing Law", "This Agreement is governed by the laws of the State of Delaware."),
        ("Parties", "Delaware"),
    ]


def test_empty_and_blank_quotes_are_dropped() -> None:
    evidence = _verify(_finding("   \n "), _finding("\u00ad"))

    assert evidence.findings == []
    assert evidence.quotes_dropped == 2


def test_normalise_handles_pdf_artefacts() -> None:
    assert normalise("Con\u00adfidential\u00a0 \ufb01nancial  \u201cTerms\u201d") == (
        'confidential financial "terms"'
    )


def test_offsets_map_to_pages_across_separators() -> None:
    index = EvidenceIndex(PAGES)
    starts = PAGES.page_starts()

    assert [index.page_at(offset) for offset in starts] == [1, 2, 3]
    assert index.page_at(starts[1] - 1) == 1  # inside the separator: still the page before


def _fields(**values: object) -> VerifiedEvidence:
    return verify_evidence(PAGES, ProviderOutput(**values))  # type: ignore[arg-type]


def test_fields_whose_words_are_in_the_document_are_kept() -> None:
    evidence = _fields(
        parties=[Party(name="THE SUPPLIER", role="Supplier"), Party(name="Supplier, the")],
        governing_law="State of Delaware",
        term_length="monthly",
    )
    assert [p.name for p in evidence.parties] == ["THE SUPPLIER", "Supplier, the"]
    assert evidence.governing_law == "State of Delaware"
    assert evidence.term_length == "monthly"
    assert evidence.fields_dropped == []
    # Generic words the document need not contain: "Commonwealth", "laws".
    assert _fields(governing_law="the laws of the Commonwealth of Delaware").governing_law


def test_invented_or_injected_fields_are_dropped_and_named() -> None:
    evidence = _fields(
        parties=[Party(name="Supplier"), Party(name="Evil Corp"), Party(name="Goods Deliverer")],
        governing_law="Atlantis",
        term_length="99 years",
    )
    assert [p.name for p in evidence.parties] == ["Supplier"]
    assert evidence.governing_law is None
    assert evidence.term_length is None
    assert evidence.fields_dropped == ["parties[1]", "parties[2]", "governing_law", "term_length"]


def test_a_field_of_generic_words_or_word_fragments_is_not_evidence() -> None:
    assert _fields(governing_law="the State").fields_dropped == ["governing_law"]
    # "Deliver" is in the document, "Deliv" only inside it: whole words only.
    assert _fields(governing_law="Deliv Land").fields_dropped == ["governing_law"]
    assert _fields(governing_law="Deliv").fields_dropped == ["governing_law"]
    assert _fields(governing_law=None).fields_dropped == []


def test_short_names_count_when_the_document_has_them() -> None:
    pages = ParsedPages(
        document_id="doc-short",
        engine="test",
        pages=[PageText(page=1, text="This agreement between GE and 3M Company (\u201c3M\u201d).")],
    )
    evidence = verify_evidence(
        pages, ProviderOutput(parties=[Party(name="GE"), Party(name="3M"), Party(name="HP")])
    )
    assert [p.name for p in evidence.parties] == ["GE", "3M"]
    assert evidence.fields_dropped == ["parties[2]"]


def test_a_field_quote_not_in_the_document_is_dropped_and_named() -> None:
    evidence = verify_evidence(
        PAGES,
        ProviderOutput(
            governing_law="Delaware",
            effective_date=date(2020, 1, 1),
            renewal_term="five (5) years",
            field_quotes={
                "governing_law": CandidateQuote("governed by the laws of the State of Delaware", 1),
                "effective_date": CandidateQuote("effective as of January 1, 2020", 1),
                "renewal_term": CandidateQuote("renews for five (5) years", 3),
            },
        ),
    )

    found = evidence.field_evidence["governing_law"]
    # Its page is where the words are, not the page claimed.
    assert (found.page, found.quote) == (3, "governed by the laws of the State of Delaware")
    # A value whose words are not in the document goes, and its quote with it; a quote that is
    # not in the document goes and is named, the date itself is not checked (see the module).
    assert evidence.renewal_term is None
    assert set(evidence.field_evidence) == {"governing_law"}
    assert evidence.fields_dropped == ["renewal_term", "field_evidence[effective_date]"]
