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
from llm_worker._term import states_term, term_end
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


START = date(2019, 3, 27)


@pytest.mark.parametrize(
    ("sentence", "ends"),
    [
        # A date the sentence gives as the end.
        (
            "The term of this Agreement will begin on April 1, 2018 and continue until April 30,"
            " 2018.",
            date(2018, 4, 30),
        ),
        (
            'The "Initial Term" shall commence upon the Effective Date and shall expire on '
            "March 31, 2011.",
            date(2011, 3, 31),
        ),
        (
            "The term of this Agreement will continue until the earlier of (i) December 31, 2022, "
            "(ii) the termination of the Studio Lease.",
            date(2022, 12, 31),
        ),
        (
            '"Term" means the end of the two year period from the Effective Date to 31 July 2013.',
            date(2013, 7, 31),
        ),
        # A length, counted from the effective date (`START`) or the start the sentence names.
        (
            "This Agreement shall become effective on the date first written above and shall "
            "continue in effect for a period of Three (3) years.",
            date(2022, 3, 27),
        ),
        (
            "The Term of this Agreement shall commence on the Effective Date and continue for "
            "twenty (20) years, unless sooner terminated.",
            date(2039, 3, 27),
        ),
        (
            "The term of this Agreement shall be twenty (20) years, commencing on January 1, 2016.",
            date(2036, 1, 1),
        ),
        (
            "The initial term of this Agreement shall commence on the Effective Date and end on "
            "the fifth anniversary of the Effective Date.",
            date(2024, 3, 27),
        ),
        (
            "INITIAL TERM shall mean the Effective Date through the day prior to the second "
            "anniversary of the Effective Date.",
            date(2021, 3, 27),
        ),
        (
            "Unless sooner terminated, this Agreement will continue in full force beginning on the "
            'Effective Date and ending two (2) years thereafter ("Term").',
            date(2021, 3, 27),
        ),
        (
            "This agreement shall begin upon its execution and shall remain in effect until the "
            "end of the current calendar year and shall be automatically renewed for successive "
            "one (1) year periods.",
            date(2019, 12, 31),
        ),
    ],
)
def test_the_end_of_the_term(sentence: str, ends: date | None) -> None:
    read = term_end(sentence, START) if states_term(sentence) else None
    assert read == ends


def test_a_term_counted_from_the_date_hereof_starts_on_the_agreement_s_date() -> None:
    sentence = (
        "Unless earlier terminated, the term of this Agreement shall end on the seventh "
        "anniversary of the date hereof."
    )
    assert term_end(sentence, date(2001, 12, 1), signed=date(2001, 11, 28)) == date(2008, 11, 28)


@pytest.mark.parametrize(
    "sentence",
    [
        "This article 11 shall survive the termination of this Agreement for a period of two (2) "
        "years.",
        "During the term of this Agreement and for a period of two (2) years thereafter, Client "
        "will not solicit the services of any of Developer's employees.",
        "The representations and warranties in this Agreement shall terminate one year from the "
        "Closing Date.",
        "If after three years from the Effective Date of this Agreement, WPD fails to use "
        "reasonable efforts, CNS shall have the right to terminate this Agreement.",
        "Licensee may sell its inventory within twelve (12) months following expiration of this "
        "Agreement.",
    ],
)
def test_a_length_that_is_not_the_agreement_s_term(sentence: str) -> None:
    assert not states_term(sentence) or term_end(sentence, START) is None


def test_the_later_of_a_length_and_an_event_has_no_date() -> None:
    sentence = (
        "The term of this Agreement shall begin on the Effective Date and will not end until the "
        "later of (a) twelve (12) months from the Launch Date; or (b) the date the impressions "
        "are displayed."
    )
    assert states_term(sentence)
    assert term_end(sentence, START) is None


def test_expiration_is_read_from_the_term_clause_with_its_quote() -> None:
    text = (
        "HOSTING AGREEMENT\nThis Hosting Agreement is made as of March 14, 2018 by and between "
        'Alpha Corp. ("Client") and Beta LLC ("Provider").\n\n'
        "7. Confidentiality. The obligations of this Section survive for a period of five (5) "
        "years after the termination of this Agreement.\n\n"
        "10. Term. This Agreement shall commence as of the Effective Date and shall continue in "
        'effect for one (1) year, unless earlier terminated (the "Initial Term").'
    )
    result = extract_verified(_pages(text), RulesExtractor()).result
    assert result.termination_date == date(2019, 3, 14)
    assert result.field_evidence["termination_date"].quote.startswith(
        "This Agreement shall commence as of the Effective Date"
    )


@pytest.mark.parametrize(
    "sentence",
    [
        "The term of this Agreement commences on the Effective Date and continues in perpetuity, "
        "unless termination occurs pursuant to Section 4.2.",
        "The term of this Agreement will commence on the date the form is approved and will end "
        "when terminated by either party.",
        "This Agreement shall continue in effect until either Party informs the other Party with "
        "thirty (30) day prior written notice of termination of this Agreement.",
        "This Agreement and the license granted herein shall remain effective until terminated.",
        "This Agreement will commence on the Effective Date and will continue until termination as "
        "provided below.",
        "This Agreement is entered into for an unlimited period of time.",
        "This Agreement shall be valid for an indefinite period.",
    ],
)
def test_more_ways_of_saying_until_terminated(sentence: str) -> None:
    assert is_perpetual(sentence)


@pytest.mark.parametrize(
    ("sentence", "jurisdiction"),
    [
        (
            "This Agreement shall be governed in all respects by the laws of the United States and "
            "the State of Florida, except for conflict of laws provisions.",
            "Florida",
        ),
        (
            "This Agreement shall be governed by the laws of the United States of America and of "
            "the State of Texas.",
            "Texas",
        ),
        ("This Agreement shall be governed by the laws of the United States.", "United States"),
        (
            "Even with foreign publishers, the law of the Federal Republic of Germany applies.",
            "Germany",
        ),
        ("The relation is governed by the regulations of Colombian private law.", "Colombia"),
        (
            "Relations of the Parties shall be governed by the legislation of the Republic of "
            "Kazakhstan in force.",
            "Kazakhstan",
        ),
        (
            "This agreement will be construed in accordance with the laws of Papua New Guinea.",
            "Papua New Guinea",
        ),
    ],
)
def test_more_governing_law_wordings(sentence: str, jurisdiction: str) -> None:
    found = find_jurisdiction(sentence)
    assert found is not None
    assert found.name == jurisdiction


def test_the_law_that_governs_the_agreement_beats_other_laws_named_with_govern() -> None:
    text = (
        "AGENCY AGREEMENT\nThis Agency Agreement is made as of May 1, 2009 by and between Alpha "
        'Corp. ("Company") and Beta LLC ("Agent").\n\n'
        "Such counsel's opinion shall be limited to matters governed by federal laws and by the "
        "laws of Tennessee.\n\n"
        "17. Construction. This Agreement shall be construed in accordance with the laws of the "
        "State of New York without regard to principles of conflicts of law."
    )
    result = extract_verified(_pages(text), RulesExtractor()).result
    assert result.governing_law == "New York"
    assert "laws of the State of New York" in result.field_evidence["governing_law"].quote


def test_the_usual_name_of_a_jurisdiction_the_contract_abbreviates() -> None:
    text = (
        "CONTENT LICENSE AGREEMENT\nThis Agreement is made as of November 24, 2009 by and between "
        'Alpha Limited ("Party A") and Beta Co., Ltd. ("Party B").\n\n'
        "11.1 The execution, validity and interpretation of this Agreement shall be governed by "
        "the PRC Law."
    )
    result = extract_verified(_pages(text), RulesExtractor()).result
    assert result.governing_law == "People's Republic of China"
    assert "governing_law" not in result.fields_dropped


def test_an_effective_date_defined_by_an_event_is_not_the_opening_s_date() -> None:
    text = (
        "LICENSE AGREEMENT\nThis License Agreement is made as of July 23, 2009 by and between "
        'Alpha Corp. ("Licensor") and Beta LLC ("Licensee").\n\n'
        '1.1 "Effective Date" means the Closing Date as set forth in the Share Purchase Agreement.'
    )
    result = extract_verified(_pages(text), RulesExtractor()).result
    assert result.agreement_date == date(2009, 7, 23)
    assert result.effective_date is None


def test_an_agreement_effective_on_the_date_first_written_above() -> None:
    text = (
        "DISTRIBUTOR AGREEMENT\nThis Distributor Agreement is made as of August 1, 2019 by and "
        'between Alpha Corp. ("Company") and Beta LLC ("Distributor").\n\n'
        "12. This Agreement shall become effective on the date first written above and shall "
        "continue in effect for a period of three (3) years."
    )
    result = extract_verified(_pages(text), RulesExtractor()).result
    assert result.effective_date == date(2019, 8, 1)
    assert result.termination_date == date(2022, 8, 1)
