"""The fields a lawyer reads first: governing law as the whole jurisdiction, parties with their
defined roles, dates as ISO dates, scored exactly after normalisation."""

from __future__ import annotations

from datetime import date

import pytest

from charmelio.contract import PageText, ParsedPages
from llm_worker import RulesExtractor, extract_verified
from llm_worker._jurisdictions import find_jurisdiction
from llm_worker._preamble import find_agreement_date, find_parties, find_title
from llm_worker._renewal import is_perpetual, renewal_notice_period, renewal_term
from operator_tools.evaluation._fields import duration_of, governing_law_correct


def _pages(*texts: str) -> ParsedPages:
    return ParsedPages(
        document_id="doc",
        engine="test",
        pages=[PageText(page=n, text=t) for n, t in enumerate(texts, 1)],
    )


@pytest.mark.parametrize(
    ("sentence", "jurisdiction"),
    [
        ("This Agreement shall be governed by the laws of the State of New York.", "New York"),
        ("GOVERNED BY THE LAWS OF THE STATE OF NEW JERSEY WITHOUT GIVING EFFECT TO", "New Jersey"),
        (
            "governed by the laws of the People\u2019s Republic of China.",
            "People's Republic of China",
        ),
        ("construed in accordance with the laws of England and Wales.", "England and Wales"),
        (
            "governed by the laws of the Province of British Columbia and of Canada.",
            "British Columbia",
        ),
        ("This Agreement is governed by English law.", "England"),
        ("This Agreement shall be governed by the internal laws State of New York.", "New York"),
        (
            "Except as governed by the United States Trademark Act, governed by the laws of the "
            "State of Arizona.",
            "Arizona",
        ),
        ("governed by the laws of the State of Indiana.", "Indiana"),
    ],
)
def test_the_whole_jurisdiction_is_read(sentence: str, jurisdiction: str) -> None:
    found = find_jurisdiction(sentence)
    assert found is not None
    assert found.name == jurisdiction


def test_the_english_language_is_not_a_governing_law() -> None:
    found = find_jurisdiction("written in the English language and governed by Ohio law")
    assert found is not None
    assert found.name == "Ohio"


OPENING = (
    "SUPPLY AGREEMENT\n"
    "This Supply Agreement is entered into as of February 28, 2019 "
    "(the \u201cEffective Date\u201d) by and between Florida Chemical Company, LLC, "
    "a Delaware limited liability company (\u201cSeller\u201d), and Flotek Chemistry, LLC "
    "with its principal place of business at 10603 W Sam Houston Pkwy N, Houston, Texas "
    "(hereinafter referred to as \u201cBuyer\u201d).\n\n"
    "1. Term. This Agreement shall have an initial term of five (5) years from the Effective "
    "Date, unless terminated earlier as provided herein.\n\n"
    "2. Governing Law. This Agreement shall be governed by and construed in accordance with "
    "the laws of the State of New York, without regard to its conflict of laws principles."
)


def test_fields_of_an_opening() -> None:
    output = RulesExtractor().extract(_pages(OPENING))
    assert [(p.name, p.role) for p in output.parties] == [
        ("Florida Chemical Company, LLC", "Seller"),
        ("Flotek Chemistry, LLC", "Buyer"),
    ]
    assert output.effective_date == date(2019, 2, 28)
    # Five years from the Effective Date, counted as CUAD's annotators count it.
    assert output.termination_date == date(2024, 2, 28)
    assert output.governing_law == "New York"


def test_a_date_only_of_signing_is_not_an_effective_date() -> None:
    text = (
        "LICENSE AGREEMENT\nThis License Agreement is made as of June 3, 2010 by and between "
        'Alpha Corp. ("Licensor") and Beta LLC ("Licensee").\n\n'
        "1. The license lasts until terminated by either party."
    )
    output = RulesExtractor().extract(_pages(text))
    assert output.effective_date is None
    assert [p.role for p in output.parties] == ["Licensor", "Licensee"]
    # The agreement's date is a finding; the effective date is not claimed either.
    categories = {f.category for f in output.findings}
    assert "Agreement Date" in categories
    assert "Effective Date" not in categories


@pytest.mark.parametrize(
    ("opening", "quoted", "value"),
    [
        ("This Agreement is dated 15 April, 2009 between", "15 April, 2009", date(2009, 4, 15)),
        ("made on this 26t h day of May, 2017 by", "26t h day of May, 2017", date(2017, 5, 26)),
        ("entered into this 19  DAY OF MAY , 2010", "19  DAY OF MAY , 2010", date(2010, 5, 19)),
        (
            "made as of the (1st)  day of January, 1996",
            "1st)  day of January, 1996",
            date(1996, 1, 1),
        ),
        ("executed on 24 OCT 2011 at Markham", "24 OCT 2011", date(2011, 10, 24)),
        ("AGENCY AGREEMENT   May 25, 2016   Compass Point", "May 25, 2016", date(2016, 5, 25)),
        ("Contract No. 017   Date: June 1, 1998", "June 1, 1998", date(1998, 6, 1)),
        # Left blank for signing: the agreement's date, with no value to store.
        ("made this ____ day of ___________, 2000, by", "this ____ day of ___________, 2000", None),
        ("made as of February ____, 2017 by", "February ____, 2017", None),
    ],
)
def test_the_agreement_date_in_the_shapes_contracts_write_it(
    opening: str, quoted: str, value: date | None
) -> None:
    dated = find_agreement_date([PageText(page=1, text=opening)])
    assert dated is not None
    assert dated.found.text == quoted
    assert dated.value == value


def test_a_date_with_no_agreement_words_before_it_is_not_the_agreement_date() -> None:
    assert find_agreement_date([PageText(page=1, text="Payment is due by June 1, 1998.")]) is None


def test_governing_law_is_scored_exactly_after_normalisation() -> None:
    assert not governing_law_correct("New", "New York")
    assert governing_law_correct("the State of New York", "New York")
    assert governing_law_correct("British Columbia", "British Columbia, Canada")
    assert not governing_law_correct("England", "England and Wales")


@pytest.mark.parametrize(
    ("opening", "title"),
    [
        (
            'May 04, 2017 Strategic Alliance Agreement This Strategic Alliance Agreement (this "A'
            'greement") is entered into',
            "Strategic Alliance Agreement",
        ),
        (
            "Exhibit 7.1   Strategic Alliance Agreement\n\nTHIS AGREEMENT is made this day",
            "Strategic Alliance Agreement",
        ),
        ("SUPPLY AGREEMENT\nThis Supply Agreement is entered into", "SUPPLY AGREEMENT"),
    ],
)
def test_the_document_name_without_an_upper_case_title(opening: str, title: str) -> None:
    found = find_title(PageText(page=1, text=opening))
    assert found is not None
    assert found.text == title


RENEWING = (
    "DISTRIBUTION AGREEMENT\n"
    'This Distribution Agreement is made as of March 3, 2015 by and between Alpha Corp. ("Alpha") '
    'and Beta LLC ("Beta").\n\n'
    "2. Term. This Agreement shall have an initial term of two (2) years from the Effective Date. "
    "Thereafter this Agreement shall automatically renew for successive one (1) year periods "
    "unless either party gives the other ninety (90) days' prior written notice of non-renewal.\n\n"
    "3. Governing Law. This Agreement shall be governed by the laws of the State of Delaware."
)


def test_renewal_term_and_notice_period_with_the_quote_and_page_of_every_field() -> None:
    pages = _pages("Cover page of the exhibit.", RENEWING)
    result = extract_verified(pages, RulesExtractor()).result

    assert result.agreement_date == date(2015, 3, 3)
    assert result.effective_date == date(2015, 3, 3)
    assert result.termination_date == date(2017, 3, 3)
    assert not result.perpetual
    assert result.renewal_term == "successive one (1) year"
    assert result.renewal_notice_period == "ninety (90) days"
    assert result.governing_law == "Delaware"
    evidence = result.field_evidence
    assert set(evidence) == {
        "agreement_date",
        "effective_date",
        "termination_date",
        "renewal_term",
        "renewal_notice_period",
        "governing_law",
    }
    assert evidence["agreement_date"].quote == "March 3, 2015"
    assert "successive one (1) year periods" in evidence["renewal_term"].quote
    assert "governed by the laws of the State of Delaware" in evidence["governing_law"].quote
    text = pages.full_text()
    for found in evidence.values():
        assert found.page == 2
        assert found.start is not None
        assert found.end is not None
        assert text[found.start : found.end] == found.quote


def test_a_term_until_terminated_is_perpetual() -> None:
    text = (
        "SERVICES AGREEMENT\nThis Services Agreement is made as of June 3, 2010 by and between "
        'Alpha Corp. ("Client") and Beta LLC ("Provider").\n\n'
        "1. Term. This Agreement shall commence on the Effective Date and shall continue until it "
        "is terminated in accordance with Section 15 of this Agreement."
    )
    result = extract_verified(_pages(text), RulesExtractor()).result
    assert result.perpetual
    assert result.termination_date is None
    assert "shall continue until" in result.field_evidence["perpetual"].quote


@pytest.mark.parametrize(
    ("sentence", "perpetual"),
    [
        (
            "This Agreement shall become effective as of the Effective Date and, shall continue in "
            "full force and effect until terminated pursuant to this Article 18.",
            True,
        ),
        (
            '"Term" means the period commencing on the Effective Date and continuing thereafter '
            "indefinitely until this Agreement is terminated.",
            True,
        ),
        (
            "Licensor grants Licensee a perpetual license to use the Software, and this Agreement "
            "shall continue in perpetuity.",
            False,
        ),
        ("This Agreement shall continue for a period of three (3) years.", False),
    ],
)
def test_perpetual_terms(sentence: str, perpetual: bool) -> None:
    assert is_perpetual(sentence) is perpetual


def test_renewals_and_notice_in_the_contract_s_words() -> None:
    assert renewal_term("This Agreement will renew for an additional 12 month term.") == (
        "12 month"
    )
    assert renewal_term("The term is five (5) years.") is None
    assert renewal_notice_period("Either party may terminate on 30 days notice.") is None
    assert (
        renewal_notice_period("notice of non-renewal at least sixty (60) days prior to expiry")
        == "sixty (60) days"
    )


def test_renewal_fields_are_scored_by_length_and_repetition() -> None:
    assert duration_of("successive one (1) year") == duration_of("successive 1 year")
    assert duration_of("12 months") == duration_of("1 year")
    assert duration_of("one (1) year") != duration_of("successive 1 year")
    assert duration_of("ninety (90) days") == (False, "days", 90)
    assert duration_of("") is None


def test_a_piece_of_sentence_in_the_preamble_is_not_a_party() -> None:
    text = (
        'This Agreement is entered into by and between Capsugel US, LLC and its Affiliates ("Cap'
        'sugel"), Cardax, Inc. ("Cardax") and, for notices, to the other Party ("Notice Party").'
    )
    names = [mention.name.text for mention in find_parties([PageText(page=1, text=text)])]
    assert names == ["Capsugel US, LLC", "Cardax, Inc."]


def test_an_effective_date_stated_in_the_body_beats_the_date_of_signing() -> None:
    text = (
        "LICENSE AGREEMENT\nThis License Agreement is made as of June 3, 2010 by and between "
        'Alpha Corp. ("Licensor") and Beta LLC ("Licensee").\n\n'
        "1. Term. This Agreement shall be effective as of July 1, 2010 and shall last three years."
    )
    result = extract_verified(_pages(text), RulesExtractor()).result
    assert result.agreement_date == date(2010, 6, 3)
    assert result.effective_date == date(2010, 7, 1)
    assert result.field_evidence["effective_date"].quote == (
        "This Agreement shall be effective as of July 1, 2010 and shall last three years."
    )
