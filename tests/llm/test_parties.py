"""Parties as contracts name them: every party, its name without the description around it, and
its defined term, in the preamble shapes drafters use (snippets written for these tests)."""

from __future__ import annotations

import pytest

from charmelio.contract import PageText, ParsedPages
from llm_worker import RulesExtractor, extract_verified
from llm_worker._preamble import find_parties
from operator_tools.evaluation._fields import answer_parties, parties_correct


def _parties(text: str) -> list[tuple[str, str | None]]:
    page = PageText(page=1, text=text)
    return [
        (mention.name.text, mention.alias.text if mention.alias else None)
        for mention in find_parties([page])
    ]


def _names(text: str) -> list[str]:
    return [name for name, _ in _parties(text)]


def test_the_preamble_ends_with_its_sentence() -> None:
    text = (
        'This Distributor Agreement is made by and between Alpha Corp. ("Company") and Beta '
        'Trading LLC ("Distributor"). Company imports the products and sells the products listed '
        'in Section 1.c below (the "Products").'
    )
    assert _parties(text) == [("Alpha Corp.", "Company"), ("Beta Trading LLC", "Distributor")]


def test_a_cover_page_between_does_not_run_into_the_preamble() -> None:
    text = (
        'SERVICES AGREEMENT\n\nBetween\n\nNORTHWIND INDUSTRIES, INC. ("Company")\n\nAnd\n\n'
        'CONTOSO HEALTH, LLC ("Contractor")\n\nDATED AS OF May 4, 2014\n\nThis Services Agreement '
        'is made as of May 4, 2014, between Northwind Industries, Inc. ("Company"), and Contoso '
        'Health, LLC, a Pennsylvania limited liability company ("Contractor").'
    )
    assert _names(text) == ["NORTHWIND INDUSTRIES, INC.", "CONTOSO HEALTH, LLC"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (
            "THIS AGREEMENT is made on 3 May 2019\n\nBETWEEN:\n\n(1) NORTHWIND TRADING LIMITED, "
            "the company registered in England whose registered office is at 1 High Street "
            '("Northwind"); and\n\n(2) CONTOSO GMBH, registered in Germany ("Contoso").',
            ["NORTHWIND TRADING LIMITED", "CONTOSO GMBH"],
        ),
        (
            "This Agreement is entered into by and between acme.com, inc., a Delaware corporation "
            '("Acme") and Beta Media, LLC, d/b/a Beta Radio ("Beta").',
            ["acme.com, inc.", "Beta Media, LLC, d/b/a Beta Radio"],
        ),
        (
            "This Agreement is made by and between Example Learning UK Limited of Boston House, "
            'London ("Company") and Example Speakers of 90 High Street, Burnham ("Agent").',
            ["Example Learning UK Limited", "Example Speakers"],
        ),
        (
            "This Agreement is made by and between ORGANIC EXAMPLE INC. 2nd Floor, Harbour "
            'Highway, Port Vila ("Manufacturer") and EXAMPLE HOLDING LIMITED ("Distributor").',
            ["ORGANIC EXAMPLE INC.", "EXAMPLE HOLDING LIMITED"],
        ),
        (
            'This Agreement is made by and between Bunker One (USA) Inc. ("Bunker") and Vertex '
            'Operating, LLC ("Vertex").',
            ["Bunker One (USA) Inc.", "Vertex Operating, LLC"],
        ),
    ],
)
def test_a_name_ends_where_its_description_starts(text: str, names: list[str]) -> None:
    assert _names(text) == names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (
            "This Agreement is entered into by and between professional golfer, TOM EXAMPLE "
            '("Player"), and EXAMPLE GOLF, LTD. ("Company").',
            ["TOM EXAMPLE", "EXAMPLE GOLF, LTD."],
        ),
        (
            "THIS AGREEMENT is made by and between the TOWN OF EXAMPLE, VIRGINIA, a Virginia "
            'municipal corporation ("Grantor"), and EXAMPLE GAS COMPANY ("Grantee").',
            ["TOWN OF EXAMPLE, VIRGINIA", "EXAMPLE GAS COMPANY"],
        ),
    ],
)
def test_a_name_is_not_the_words_that_describe_the_party(text: str, names: list[str]) -> None:
    assert _names(text) == names


def test_successors_and_assigns_are_not_part_of_the_name() -> None:
    text = (
        'This Agreement is made by and between Birch Example Investments Inc. ("Company") and '
        'Mount Example Holdings Inc. and/or assigns ("Marketing Affiliate").'
    )
    assert _names(text) == ["Birch Example Investments Inc.", "Mount Example Holdings Inc."]


def test_a_party_without_a_defined_term_before_one_with_it() -> None:
    text = (
        "This Agreement is between Example Bio Inc., a Delaware corporation, with a location at "
        "600 Madison Ave, New York, NY 10022 and Beijing Example Ltd. of Beijing, China "
        '("Example"), each of the foregoing being individually referred to as a "Party".'
    )
    assert _parties(text) == [("Example Bio Inc.", None), ("Beijing Example Ltd.", "Example")]


def test_the_next_party_after_an_address_with_no_comma_before_and() -> None:
    text = (
        'This Endorsement Agreement is made by and between Gamma Foods, Inc. ("Gamma") with a '
        "principal business address of 12 Oak Street, Chicago, IL 60601 and Jane Doe"
        '("Individual") on her own behalf with an address of 9 Lake Drive, Chicago, IL 60602.'
    )
    assert _parties(text) == [("Gamma Foods, Inc.", "Gamma"), ("Jane Doe", "Individual")]


def test_a_party_after_the_last_defined_term() -> None:
    text = (
        'This Agreement is dated as of May 1, 2017, by and between Delta Solutions, Inc. ("Delta")'
        ", a Nevada corporation, and John Smith, an individual.\n\n1. Engagement."
    )
    assert _parties(text) == [("Delta Solutions, Inc.", "Delta"), ("John Smith", None)]


def test_parties_in_a_passage_that_defines_none() -> None:
    text = (
        "This Agreement entered into as of the Effective Date by and between Link Example "
        "Corporation and Omega Networks, LLC.\n\nRECITALS\n\nWHEREAS, Omega has developed software;"
    )
    assert _names(text) == ["Link Example Corporation", "Omega Networks, LLC."]


@pytest.mark.parametrize(
    "text",
    [
        "Any dispute between Licensor and Licensee shall be settled by arbitration.",
        "The Term runs between the Effective Date and December 31, 2020.",
        "The relationship between Company and Consultant is that of independent contractors.",
    ],
)
def test_a_sentence_about_the_parties_names_none(text: str) -> None:
    assert _names(text) == []


def test_a_cover_page_lists_parties_a_line_each() -> None:
    text = (
        "INTELLECTUAL PROPERTY AGREEMENT\n\nby and among\n\nNORTH TECHNOLOGIES CORPORATION,\n\n"
        "SOUTH WORLDWIDE CORPORATION\n\nand\n\nEAST GLOBAL CORPORATION\n\nDated as of April 2, "
        "2020\n\nTABLE OF CONTENTS"
    )
    assert _names(text) == [
        "NORTH TECHNOLOGIES CORPORATION",
        "SOUTH WORLDWIDE CORPORATION",
        "EAST GLOBAL CORPORATION",
    ]


def test_an_ampersand_on_its_own_line_parts_two_parties() -> None:
    text = (
        "HOSTING AGREEMENT\n\nBETWEEN\n\nNORTHWIND NETHERLANDS B.V.\n\n&\n\nContoso Holding AG\n\n"
    )
    assert _names(text) == ["NORTHWIND NETHERLANDS B.V.", "Contoso Holding AG"]


def test_a_capacity_defines_a_party() -> None:
    text = (
        "TRANSFER AND SERVICING AGREEMENT\n\namong\n\nNORTH OWNER TRUST 2020-A, as Issuer,\n\n"
        "NORTH ABS LLC, as Depositor\n\nand\n\nNORTH BANK, N.A., as Servicer and Custodian\n\n"
        "Dated as of January 29, 2020"
    )
    assert _parties(text) == [
        ("NORTH OWNER TRUST 2020-A", "Issuer"),
        ("NORTH ABS LLC", "Depositor"),
        ("NORTH BANK, N.A.", "Servicer"),
    ]


def test_entered_into_by_opens_a_preamble() -> None:
    text = (
        "This Transportation Service Agreement (Agreement) is entered into by Great Example Gas "
        "Transmission Limited Partnership (Transporter) and EXAMPLE PIPELINE COMPANY (Shipper).\n\n"
        "WHEREAS, Shipper has requested Transporter to transport Gas."
    )
    assert _parties(text) == [
        ("Great Example Gas Transmission Limited Partnership", "Transporter"),
        ("EXAMPLE PIPELINE COMPANY", "Shipper"),
    ]


def test_a_defined_term_after_words_about_the_party() -> None:
    text = (
        'This Agreement is entered into by and between ExampleTV, Inc., a Delaware corporation ("'
        'ExampleTV"), and Sample Productions Ltd. (the producer, publisher, licensor and grantor, '
        'any and all referred to herein as the "Producer"), whose principal place of business is '
        "in Calgary."
    )
    assert _parties(text) == [
        ("ExampleTV, Inc.", "ExampleTV"),
        ("Sample Productions Ltd.", "Producer"),
    ]


def test_a_document_or_a_clause_is_not_a_party() -> None:
    text = (
        'This Amendment No. 1 (the "Amendment"), entered into by and between Example Heritage '
        'Foods, LLC ("Heritage") Premier Example Corporation ("Premier") is effective as of June '
        "11, 2018 and amends that certain Manufacturing Agreement between Heritage and Premier "
        'dated July 1, 2017 ("Agreement"). Heritage and Premier are each referred to herein as a '
        '"Party".'
    )
    assert _names(text) == ["Example Heritage Foods, LLC", "Premier Example Corporation"]


def test_parties_by_label() -> None:
    text = (
        "Cooperation Agreement\n\nThis Cooperation Agreement is executed by the parties below in "
        "Haidian District, Beijing:\n\nParty A: Beijing Example Technology Co., Ltd.\n\nAddress: "
        "Room 2101, No. 237, North Road, Beijing.\n\nParty B: Shanghai Sample Trading Co., Ltd. "
        "Registration Address: No. 10, East Street, Shanghai.\n\n"
    )
    assert _parties(text) == [
        ("Beijing Example Technology Co., Ltd.", "Party A"),
        ("Shanghai Sample Trading Co., Ltd.", "Party B"),
    ]


def test_the_parties_as_the_subject_of_the_opening_sentence() -> None:
    text = (
        "EXHIBIT 10.26\n\nAGENCY AGREEMENT\n\nMutual Example Corporation of America, a Michigan "
        "insurance corporation (MECA) and Sample, Jones & Walsh-Nevada, Inc., a Nevada "
        'corporation, ("Agency"), (sometimes referred to as the Parties) agree as follows:\n\n'
        "A. AUTHORITY OF AGENCY"
    )
    assert _parties(text) == [
        ("Mutual Example Corporation of America", "MECA"),
        ("Sample, Jones & Walsh-Nevada, Inc.", "Agency"),
    ]


def test_a_parties_heading_with_numbered_parties_and_unquoted_terms() -> None:
    text = (
        "THIS AGREEMENT is entered into between the parties on 1 April, 2020.\n\nPARTIES (1) "
        "Example Biopharma UK Limited is a company registered in the United Kingdom whose "
        'registered office is at 12 New Lane, London (the "Employer"); and (2) Jane Roe of 1 Park '
        'Road, London (the "Executive").\n\nBETWEEN: (1) SAMPLE 2005 LIMITED (registered number '
        "01003653) whose registered office is at 19 Upper Ground, London (the Company) (2) JOHN "
        "SAMPLE (the Executive)."
    )
    assert _parties(text) == [
        ("Example Biopharma UK Limited", "Employer"),
        ("Jane Roe", "Executive"),
    ]
    assert _parties(text[text.index("BETWEEN") :]) == [
        ("SAMPLE 2005 LIMITED", "Company"),
        ("JOHN SAMPLE", "Executive"),
    ]


def test_a_name_ends_at_a_column_gap() -> None:
    text = (
        "OUTSOURCING AGREEMENT\n\n    BETWEEN:\n\n    MODUS EXAMPLE INTERNATIONAL          "
        'LANDDROSTLAAN 51          7327 GM APELDOORN          (HEREINAFTER "MMI")\n\n          AND'
        '\n\n    DRAGON EXAMPLE, INC.          320 NEVADA STREET          (HEREINAFTER "DRAGON")'
    )
    assert _names(text) == ["MODUS EXAMPLE INTERNATIONAL", "DRAGON EXAMPLE, INC."]


def test_the_parties_agreeing_to_the_terms() -> None:
    text = (
        "CONSULTING AGREEMENT\n\nExample Biotech, Inc., with a place of business at 740 Heinz "
        'Avenue, Berkeley, CA 94710 ("Example") and SAMPLE B.V having an address at Main Street '
        '16, Leiden, ("Consultant") agree to all terms and conditions of this Consulting Agreement.'
    )
    assert _names(text) == ["Example Biotech, Inc.", "SAMPLE B.V"]


def test_the_recitals_closing_words_are_no_preamble() -> None:
    text = (
        "WHEREAS, Example wishes to engage Sample; NOW, THEREFORE, Example Corp. (the "
        '"Company") and Sample LLC (the "Consultant") agree as follows:'
    )
    assert _names(text) == []


def test_a_form_s_blank_party_is_no_party_but_the_other_one_is() -> None:
    text = (
        "This Distributor Agreement (the 'Agreement') dated [*] is between     Lucid Example "
        "Inc., a New York corporation, having a principal place of business at 2320 Brighton "
        "Road, Rochester NY 14623 And [*]  ('Distributor')     For good and valuable "
        "consideration, the parties hereby agree:"
    )
    assert _names(text) == ["Lucid Example Inc."]


def test_a_description_joined_by_and_is_not_the_next_party() -> None:
    text = (
        "This Outsourcing Agreement is effective as from the 1st day of January, 2009, by and "
        'between: NORTH SMELTERS Ltd, registration nr 1998/019036/07 (hereinafter "the '
        'Customer"),\n\nAND\n\nSOUTH INFORMATION TECHNOLOGY, SA., a public limited company with '
        "place of business in Madrid, and represented by Mr. Carlos Example as Chief Executive, "
        '(hereinafter referred to as "EIT").   1\n\n'
        'This Agreement is made by and between Example US, LLC and its Affiliates ("EXAMPLE") and'
        ' Sample, Inc., and its Affiliates, with an address at 28 Wood Dr., Honolulu ("SAMPLE").'
    )
    assert _names(text[: text.index("   1")]) == [
        "NORTH SMELTERS Ltd",
        "SOUTH INFORMATION TECHNOLOGY, SA.",
    ]
    assert _names(text[text.index("This Agreement") :]) == ["Example US, LLC", "Sample, Inc."]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (  # a parenthesis in an address is no defined term
            "This Agreement is made by and between Example Biosciences, Inc., a Delaware "
            'corporation ("Example"), and SampleChem GmbH, located at Main Str. 24, D-06120 Halle '
            '(Saale), Germany ("SampleChem").',
            ["Example Biosciences, Inc.", "SampleChem GmbH"],
        ),
        (  # a defined term for a document
            "This Support Agreement is made by and between XAMPLE Technologies, Inc., a Delaware "
            'corporation ("XAMPLE"), and Beta Corp. ("Customer") and sets out the Support Services'
            ' under the Software License Agreement ("License Agreement").',
            ["XAMPLE Technologies, Inc.", "Beta Corp."],
        ),
        (  # page furniture and a cover page's date
            "CONTRACTOR AGREEMENT Between Radial Example, LLC and Clear Example Page 1 of 10\n\n",
            ["Radial Example, LLC", "Clear Example"],
        ),
        (
            "COLLABORATION AGREEMENT between EXAMPLE, INC. and SAMPLE GROUP LIMITED Dated: May 1, "
            "2014\n\n",
            ["EXAMPLE, INC.", "SAMPLE GROUP LIMITED"],
        ),
    ],
)
def test_what_is_not_a_party_in_the_preamble(text: str, names: list[str]) -> None:
    assert _names(text) == names


def test_a_sentence_with_a_defined_term_is_not_a_party() -> None:
    text = (
        'This Agreement is made by and between Example Communications Corporation ("Example") and'
        ' Sample Corporation ("Customer"); it covers the data collected by Customer from its '
        'customers and other users of Customer\'s Web site (the "Data").'
    )
    assert _names(text) == ["Example Communications Corporation", "Sample Corporation"]


def test_a_cover_page_list_ends_at_the_contents() -> None:
    text = (
        "SERVICING AGREEMENT\n\namong\n\nNORTH OWNER TRUST, as Issuer,\n\nand\n\nNORTH "
        "PARTNERSHIP d/b/a NORTH WIRELESS, as Servicer\n\nTABLE OF CONTENTS\n\nARTICLE I USAGE "
        "1 Section 1.1 Usage 1 Section 6.5 Servicer Contracting 31"
    )
    assert _names(text) == ["NORTH OWNER TRUST", "NORTH PARTNERSHIP d/b/a NORTH WIRELESS"]


def test_several_parties_under_one_defined_term() -> None:
    text = (
        'This Cooperation Agreement ("Agreement") is entered into as of June 18, 2020, by and '
        'between Example Holdings, Inc., a Delaware corporation (the "Company"), and North Hat '
        "Strategic Partners LP, a Delaware limited partnership, North Hat SP GP LLC, a Delaware "
        "limited liability company, and North Hat Capital Partners GP LLC, a Delaware limited "
        'liability company (collectively, the "North Hat Parties").'
    )
    assert _parties(text) == [
        ("Example Holdings, Inc.", "Company"),
        ("North Hat Strategic Partners LP", None),
        ("North Hat SP GP LLC", None),
        ("North Hat Capital Partners GP LLC", "North Hat Parties"),
    ]


def test_labels_with_the_name_on_the_next_line_and_on_the_next_page() -> None:
    first = (
        "INTERNET CHANNEL COOPERATION AGREEMENT\n\n     Party A:\n\n  Beijing Example Science "
        "and Technology Co., Ltd.\n\n  Address:\n\n  Example Building, Beijing\n\n    Party B:"
        "\n\n  China Sample Housing (Hong Kong) Co., Ltd.\n\n  Address:\n\n  8/F, Beijing"
    )
    second = (
        "Party C: Beijing Sample Information Services Co., Ltd. Legal representative: ZHU Example"
        " Address: 8/F, Beijing\n\n1. Cooperation"
    )
    pages = [PageText(page=1, text=first), PageText(page=2, text=second)]
    assert [(m.name.page, m.name.text) for m in find_parties(pages)] == [
        (1, "Beijing Example Science and Technology Co., Ltd."),
        (1, "China Sample Housing (Hong Kong) Co., Ltd."),
        (2, "Beijing Sample Information Services Co., Ltd."),
    ]


def test_the_undersigned_are_the_parties_who_sign() -> None:
    text = (
        "JOINT FILING AGREEMENT The undersigned hereby agree that the Schedule 13G with respect "
        "to the shares of Example Inc. is filed on behalf of each of us. IN WITNESS WHEREOF, the "
        "undersigned hereby execute this Agreement as of July 6, 2020. NORTH ANNUITY & LIFE "
        "COMPANY By: North Insurance Group LP, its investment adviser By: /s/ Jane Roe Jane Roe "
        "Authorized Signatory\n\nNORTH TRUST /s/ John Doe (Signature) John Doe, President "
        "(Name/Title) JOHN Q. DOE /s/ John Q. Doe (Signature)"
    )
    assert _names(text) == ["NORTH ANNUITY & LIFE COMPANY", "NORTH TRUST", "JOHN Q. DOE"]


def test_a_signature_block_is_no_party_where_the_preamble_names_none() -> None:
    text = "The parties agree to the terms below.\n\nNORTH TRUST /s/ John Doe\n\nSOUTH LLC By: Jo"
    assert _names(text) == []


def test_a_cover_page_parts_companies_joined_by_a_comma() -> None:
    text = (
        "STRATEGIC ALLIANCE AGREEMENT   Among   NORTH MITSUI BANKING CORPORATION, NORTH NIKKO "
        "SECURITIES INC.   and   SOUTH & COMPANY HOLDINGS LP, SOUTH & COMPANY HOLDINGS GP LLC   "
        "Dated December 27, 2011\n\n"
    )
    assert _names(text) == [
        "NORTH MITSUI BANKING CORPORATION",
        "NORTH NIKKO SECURITIES INC.",
        "SOUTH & COMPANY HOLDINGS LP",
        "SOUTH & COMPANY HOLDINGS GP LLC",
    ]


def test_numbered_parties_and_their_representatives() -> None:
    text = (
        "JOINT VENTURE CONTRACT\n\nThis Contract is made by and between:\n\n1. Example Group "
        "Limited Liability Company (hereinafter referred to as Party A), established under the "
        "laws of China.\n\nLegal Representative of Party A:\n\n Name:  Li Example\n\n2. Sample "
        "Technology, Inc. (hereinafter referred to as Party B), established under the laws of "
        "Delaware.\n\n"
    )
    assert _parties(text) == [
        ("Example Group Limited Liability Company", "Party A"),
        ("Sample Technology, Inc.", "Party B"),
    ]
    labelled = text.replace("This Contract is made by and between:", "").replace(
        "(hereinafter referred to as Party A)", ""
    )
    assert all("Name" not in name for name in _names(labelled))


def test_a_letter_agreement_s_parties_confirm_their_agreement() -> None:
    text = (
        "AGENCY AGREEMENT\n\nMay 14, 2014\n\nExample & Co., Inc. 10 South Drive, Chicago\n\n"
        'Ladies and Gentlemen:\n\nNorth Bancorp, Inc. (the "Holding Company"), a Maryland '
        'corporation, and North Bank, a Massachusetts savings bank (the "Bank"), hereby confirm '
        'their agreement with Example & Co., Inc. (the "Agent") as follows:\n\nSection 1.'
    )
    assert _parties(text) == [
        ("North Bancorp, Inc.", "Holding Company"),
        ("North Bank", "Bank"),
        ("Example & Co., Inc.", "Agent"),
    ]


def test_whose_starts_a_description() -> None:
    text = (
        "This Agreement is made by and between Whiteexample Inc., with registered offices at 501 "
        'Silverside Road, Wilmington DE 19809, USA, ("Distributor"), and Sample Inc whose '
        'principle place of business is at 1600 Hill Parkway, Mountain View, CA 94043 ("Sample").'
    )
    assert _names(text) == ["Whiteexample Inc.", "Sample Inc"]


def test_an_address_right_after_the_company_form() -> None:
    text = (
        "PHOTO RETOUCHING OUTSOURCING AGREEMENT\n\nBetween: NGT Corp. Suite 207 - 1130 Austin "
        'Avenue, Coquitlam, Canada V3K 3P5 (hereinafter referred to as "NGT")\n\nAnd: Example '
        'Industries Limited Room 1302 Golden Gate Building, Hong Kong (HEREAFTER "EXAMPLE")\n\n'
        "WHEREAS:"
    )
    assert _parties(text) == [("NGT Corp.", "NGT"), ("Example Industries Limited", "EXAMPLE")]


def test_on_behalf_of_itself_and_its_affiliates_is_a_description() -> None:
    text = (
        "This Agreement is made by and between Allexample Healthcare, LLC, a North Carolina "
        'limited liability company ("Allexample") on behalf of itself and its Affiliates and '
        'Sample, Inc., a Delaware corporation (the "Company" or "Sample").'
    )
    assert _names(text) == ["Allexample Healthcare, LLC", "Sample, Inc."]


def test_a_numbered_party_after_a_broken_address_line() -> None:
    text = (
        "PARTIES     (1) NORTH (HONG KONG) LTD, a company incorporated in Hong Kong whose "
        'registered office is at Unit 3208, Office Tower ("NORTH"); and  Convention Plaza, 1 '
        "Harbour Rd, Hong Kong     (2) SOUTH GROUP HOLDINGS PLC a company incorporated in Isle of "
        'Man ("SOUTH"),     each a "Party" and together the "Parties".     BACKGROUND'
    )
    assert _names(text) == ["NORTH (HONG KONG) LTD", "SOUTH GROUP HOLDINGS PLC"]


def test_parties_are_quoted_from_the_page_they_are_read_from() -> None:
    text = (
        "This Agreement entered into as of the Effective Date by and between Link Example "
        "Corporation and Omega Networks, LLC.\n\nRECITALS\n\n1. Term. This Agreement lasts a year."
    )
    pages = ParsedPages(document_id="doc", engine="test", pages=[PageText(page=1, text=text)])
    result = extract_verified(pages, RulesExtractor()).result
    assert [party.name for party in result.parties] == [
        "Link Example Corporation",
        "Omega Networks, LLC.",
    ]


@pytest.mark.parametrize(
    ("answer", "parties"),
    [
        (
            'Alpha Corp. ("Alpha"); Beta LLC ("Beta"); Alpha and Beta (each a "Party" and '
            'together the "Parties")',
            ["Alpha Corp.", "Beta LLC"],
        ),
        (
            'Gamma Inc. ("Company"); John Roe ("Consultant"); Company and Consultant (individually'
            ', a "Party"; collectively, the "Parties")',
            ["Gamma Inc.", "John Roe"],
        ),
        (
            'Delta Ltd. ("Delta"); Epsilon AG ("Epsilon"); individually as a "party", collectively '
            'as the "parties"',
            ["Delta Ltd.", "Epsilon AG"],
        ),
        (
            'North MP, LLC ("Lender"); Jane Roe ("Endorser"); North Publications, Inc. ("Fitness")'
            '; Lender, Endorser and Fitness ("AS Parties"); South Corporation ("Company")',
            ["North MP, LLC", "Jane Roe", "North Publications, Inc.", "South Corporation"],
        ),
        (
            'North Gas Company ("Transporter"); South Electric Company ("Shipper"); Transporter and'
            ' Shipper shall collectively be referred to herein as the "Parties".',
            ["North Gas Company", "South Electric Company"],
        ),
        (
            'Leo Example A/S ("Leo"); GALEN (CHEMICALS) LIMITED ("Galen")',
            ["Leo Example A/S", "GALEN (CHEMICALS) LIMITED"],
        ),
        (  # the whole answer in parentheses
            '(North Corp. ("North"); South Industries Limited ("South")',
            ["North Corp.", "South Industries Limited"],
        ),
        # A party whose only defined term is "Party" is still a party.
        (
            'Geno Example (Example); Berkshire Example Bank (Berkshire)("Party" or "Parties")',
            ["Geno Example", "Berkshire Example Bank"],
        ),
    ],
)
def test_cuad_s_collective_terms_are_not_parties(answer: str, parties: list[str]) -> None:
    assert answer_parties(answer) == parties


def test_a_name_with_a_parenthesis_matches_cuad_s() -> None:
    gold = answer_parties('SHBV (HONG KONG) LTD ("SHBV"); WASTE EXAMPLE PLC ("W2E")')
    assert parties_correct(["SHBV (HONG KONG) LTD", "WASTE EXAMPLE PLC"], gold)
    assert not parties_correct(["SHBV (HONG KONG) LTD"], gold)
