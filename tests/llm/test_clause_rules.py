"""The sentence rules for the categories the offline extractor missed most (issue 14), the
context the classifier sees (heading, position, rule matches), and one finding per clause."""

from __future__ import annotations

import pytest

from charmelio.contract import PageText, ParsedPages
from llm_worker._clause_model import FORMAT_VERSION, ClauseModel, sentence_features
from llm_worker._clause_rules import match_rules
from llm_worker._rules import clause_sentences, rule_hits, select_findings


def _matched(category: str, *sentences: str) -> list[bool]:
    return [category in found for found in match_rules(sentences)]


@pytest.mark.parametrize(
    "sentence",
    [
        "Either party may terminate this Agreement for any reason upon ninety (90) days' prior "
        "written notice to the other party.",
        "Distributor shall have the right to terminate this Agreement at any time, without cause, "
        "by giving sixty (60) days written notice to the Company.",
        "This Agreement may be terminated by either Party upon thirty (30) days written notice "
        "to the other Party.",
        "The Customer reserves the right, in its sole discretion, to cancel this Agreement upon "
        "three months prior written notice.",
        "Each Party may also terminate the Agreement for convenience after the second Contract "
        "Year.",
    ],
)
def test_termination_for_convenience(sentence: str) -> None:
    assert _matched("Termination for Convenience", sentence) == [True]


@pytest.mark.parametrize(
    "sentence",
    [
        "Either party may terminate this Agreement upon thirty (30) days written notice if the "
        "other party materially breaches any of its obligations hereunder.",
        "Licensor may terminate this Agreement upon ten (10) days notice in the event of a change "
        "of control of Licensee.",
        "The Company may terminate the Consulting Period at any time for cause.",
    ],
)
def test_termination_for_cause_is_not_for_convenience(sentence: str) -> None:
    assert _matched("Termination for Convenience", sentence) == [False]


def test_renewal_terms() -> None:
    assert _matched(
        "Renewal Term",
        "Distributor shall have the option to renew this Agreement for an additional three (3) "
        "year period by notice to the Company before the end of the Initial Term.",
        "After the Initial Term, this Agreement shall continue on a year to year basis unless "
        "either party gives notice of non-renewal.",
        "Thereafter this Agreement shall remain in full force and effect until terminated by "
        "either party on six months' notice.",
        "The Term may be extended by mutual written agreement of the parties.",
        "Any period for performance shall be automatically extended for the duration of a force "
        "majeure event affecting the party.",
    ) == [True, True, True, False, False]


def test_post_termination_services() -> None:
    assert _matched(
        "Post-Termination Services",
        "Following termination of this Agreement, Supplier shall continue to provide the "
        "Services for up to six months to allow an orderly transition to a new supplier.",
        "Licensee may sell off its remaining inventory of Licensed Products for ninety (90) days.",
        "Distributor shall keep complete records for a period of three (3) years after the "
        "expiration of this Agreement.",
        "Sections 7, 9 and 12 shall survive any expiration or termination of this Agreement.",
        "The Supplier shall deliver the Products within thirty (30) days of each order.",
    ) == [True, True, True, False, False]


def test_exclusivity() -> None:
    assert _matched(
        "Exclusivity",
        "Licensor hereby grants to Licensee an exclusive, royalty-bearing license to make and "
        "sell the Products in the Territory.",
        "Distributor will not purchase Products for resale from any person or entity other "
        "than the Company.",
        "Company hereby grants to Reseller a non-exclusive, non-transferable license to market "
        "the Software.",
        "Licensor shall have the exclusive right, but not the obligation, to prosecute and "
        "maintain the Licensed Patents.",
        "This Agreement does not grant the Agent any exclusive right to market the Cards.",
    ) == [True, True, False, False, False]


def test_affiliate_license_licensee() -> None:
    assert _matched(
        "Affiliate License-Licensee",
        "Vendor hereby grants to Customer and its Affiliates a non-exclusive, royalty-free "
        "license to use the Software.",
        "Licensee may sublicense the rights granted under Section 2.1 to any of its Affiliates "
        "with notice to Licensor.",
        "All rights granted to the Reseller under this Agreement may be exercised by or through "
        "the Reseller and/or its Affiliates.",
        "Licensor grants to Licensee an exclusive (even as to Licensor and its Affiliates) "
        "license under the Licensed Patents.",
        "Supplier shall indemnify Buyer and its Affiliates against any claim that the license "
        "granted herein infringes a patent.",
    ) == [True, True, True, False, False]


NON_COMPETE = (
    "During the Term, Consultant shall not engage in any business that is competitive with the "
    "Company's business in the Territory."
)
CARVE_OUT = (
    "Notwithstanding the foregoing, Consultant may own up to five shares of stock in any company "
    "and may teach at any university."
)


def test_an_exception_follows_the_restriction_it_carves_out() -> None:
    category = "Competitive Restriction Exception"
    assert _matched("Non-Compete", NON_COMPETE) == [True]
    assert _matched(category, NON_COMPETE, CARVE_OUT) == [False, True]
    # The same words after an unrelated clause are not an exception to a restriction.
    payment = "The Company shall pay each invoice within thirty (30) days of its receipt."
    assert _matched(category, payment, CARVE_OUT) == [False, False]
    # A confidentiality carve-out is not a competitive restriction's exception.
    disclosure = (
        "Notwithstanding the foregoing, either party may disclose Confidential Information as "
        "required by law."
    )
    assert _matched(category, NON_COMPETE, disclosure) == [False, False]


def _pages(*texts: str) -> ParsedPages:
    return ParsedPages(
        document_id="doc",
        engine="test",
        pages=[PageText(page=n, text=text) for n, text in enumerate(texts, start=1)],
    )


def test_each_clause_knows_its_heading_position_and_rules() -> None:
    renewal = (
        "This Agreement shall automatically renew for successive one-year terms unless either "
        "party gives notice of non-renewal."
    )
    pages = _pages(
        "TERM AND TERMINATION\n\nThe initial term of this Agreement is three years from the "
        "Effective Date of this Agreement.",
        f"{renewal}\n\nExclusivity.\n\n{NON_COMPETE}",
    )

    clauses = clause_sentences(pages)

    assert [c.heading for c in clauses] == [
        "TERM AND TERMINATION",
        "TERM AND TERMINATION",  # a heading lasts across a page break
        "Exclusivity.",
    ]
    assert [c.position for c in clauses] == [0.0, 0.5, 1.0]
    assert "Renewal Term" in clauses[1].rules
    features = sentence_features(
        renewal, clauses[1].previous, clauses[1].heading, clauses[1].position, clauses[1].rules
    )
    assert {"h:termination", "pos:2", "r:Renewal Term", "automatically renew"} <= features


def test_a_repeated_sentence_is_one_finding() -> None:
    clause = (
        "Licensee shall not assign this Agreement without the prior written consent of Licensor."
    )
    pages = _pages(
        clause, clause, "Licensee shall pay the fees set out in the Schedule each month."
    )
    clauses = clause_sentences(pages)
    hits = rule_hits(clauses)
    assert len(hits["Anti-Assignment"]) == 2

    model = ClauseModel(
        {
            "format": FORMAT_VERSION,
            "version": "test",
            "categories": ["Anti-Assignment", "Insurance"],
            "bias": {"Anti-Assignment": 0.0, "Insurance": 0.0},
            "weights": {"Anti-Assignment": {"assign": 5.0}, "Insurance": {}},
            "policies": {
                "Anti-Assignment": {"source": "union", "threshold": 0.6, "max_findings": 2},
                "Insurance": {"source": "model", "threshold": 0.9, "max_findings": 1},
            },
        }
    )
    for chosen in (select_findings(clauses, hits, None), select_findings(clauses, hits, model)):
        assert [(f.category, f.quote, f.page) for f in chosen] == [("Anti-Assignment", clause, 1)]
