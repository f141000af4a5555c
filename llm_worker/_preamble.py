"""What the opening of a contract says: its title, its parties and its date.

Contracts name their parties in one of a few shapes ("by and between X, a Delaware corporation
("X") and Y ..." or "BETWEEN: X ... AND: Y ..."), so the parser looks for the defined-term
parenthesis each party gets and takes the name in front of it. Every result carries page offsets so
the extractor can quote the words verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from charmelio.contract import PageText

_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH = "|".join(_MONTHS)
# Full month names, or their three-letter abbreviations ("24 OCT 2011", "Sept. 1, 2010").
_MONTH_NAME = rf"(?:{_MONTH}|(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?)"
# An ordinal suffix, also as PDF text splits it ("26t h", "1s t") and in parentheses ("(1st)").
_ORDINAL = r"(?:\s?(?:st|nd|rd|th)|s\s?t|t\s?h|n\s?d|r\s?d)?"
DATE = re.compile(
    rf"\b(?:(?P<m1>{_MONTH_NAME})\s+(?P<d1>\d{{1,2}}){_ORDINAL}\s*,?\s*(?P<y1>\d{{4}})"
    rf"|\(?(?P<d2>\d{{1,2}}){_ORDINAL}\)?\s+day\s+of\s+(?P<m2>{_MONTH_NAME})\s*,?\s*(?P<y2>\d{{4}})"
    # Day before month without "day of": "15 April, 2009", "02 June 2015", "24 OCT 2011".
    rf"|(?P<d3>\d{{1,2}}){_ORDINAL}\s+(?P<m3>{_MONTH_NAME})\s*,?\s*(?P<y3>\d{{4}}))\b",
    re.IGNORECASE,
)

_ANCHOR = re.compile(
    r"\b(?:by\s+and\s+)?(?:between|among|amongst)\b[ \t\u00a0]*:?"
    # "This Agreement is entered into by Great Lakes Gas Transmission Limited Partnership ...".
    r"|\b(?:entered\s+into|made|executed)\s+by\b(?!\s+and\b)"
    # A heading: "PARTIES (1) Theravance Biopharma UK Limited ...", "Parties:".
    r"|(?<![\w\"\u201c])(?-i:PARTIES|Parties)(?:[ \t\u00a0]+to[ \t\u00a0]+this[ \t\u00a0]+"
    r"agreement)?[ \t\u00a0]*(?::|(?=\n|\(1\)|1\.))",
    re.IGNORECASE,
)
_PREAMBLE_END = re.compile(
    r"\b(?:WHEREAS|RECITALS|WITNESSETH|BACKGROUND|NOW,?\s+THEREFORE|agree\s+as\s+follows"
    r"|TABLE\s+OF\s+CONTENTS?|Table\s+of\s+Contents?)\b"
)
_PREAMBLE_CHARS = 2500
# The words that end a company's name: "Inc.", "S.A.", "GmbH", "Pty Ltd".
_COMPANY_FORM = (
    r"(?:inc|incorporated|llc|l\.l\.c|ltd|limited|co|corp|corporation|company|plc|lp|l\.p|llp"
    r"|l\.l\.p|pllc|n\.a|s\.a|sa|ag|gmbh|b\.v|bv|n\.v|nv|pty|pte|srl|s\.r\.l|spa|s\.p\.a|sas"
    r"|sarl|ab|a/s|oy|kk|k\.k|ulc|ltda|lda|s/a|fsb|g\.i\.e)\.?"
)
_ALIAS = re.compile(
    # '("Flotek")', '(the "Company")', and after words that describe the party: '(the producer,
    # publisher and grantor, referred to herein as the "Producer")', '(or its Affiliates, the
    # "Investor")'.
    r"\(\s*(?:[^()\"\u201c\u201d\n]{0,200}?(?:,|\bas|\bthe)\s+)?"
    r"(?:(?:the|each|collectively|individually|hereinafter|hereafter|herein|referred|to|as|called)"
    r"\s+)*"
    r"[\"\u201c\u201d'\u2018\u2019]\s*(?P<alias>[^\"\u201c\u201d\n()]{1,60}?)\s*,?\s*"
    r"[\"\u201c\u201d'\u2018\u2019]"
    # Without quotes: "(hereinafter IntriCon)", "(USA MCO)".
    r"|\(\s*(?:hereinafter\s+(?:referred\s+to\s+as\s+|called\s+)?)?(?:the\s+)?"
    r"(?P<bare>(?-i:[A-Z][\w&.\-]*(?:[ \t]+[A-Z][\w&.\-]*){0,3}))\s*\)"
    # ... but not a word inside a name ("Bunker One (USA) Inc.", "Galen (Chemicals) Limited") nor
    # in an address ("Halle (Saale), Germany").
    rf"(?![ \t\u00a0]*{_COMPANY_FORM}(?!\w)|,[ \t\u00a0]*(?-i:[A-Z]))"
    # Without parentheses: ', hereinafter referred to as "TKCI";'.
    r"|\b(?:hereinafter|herein)\s+(?:referred\s+to\s+as|called(?:\s+as)?)\s+(?:the\s+)?"
    r"[\"\u201c\u201d]\s*(?P<plain>[^\"\u201c\u201d\n()]{1,60}?)\s*[\"\u201c\u201d]"
    # A capacity: "VERIZON ABS LLC, as Depositor", "Wells Fargo Bank, N.A., as Trustee".
    r"|,[ \t\u00a0]+as[ \t\u00a0]+(?:the[ \t\u00a0]+)?"
    r"(?P<role>(?-i:[A-Z][\w\-]*(?:[ \t\u00a0]+[A-Z][\w\-]*){0,3}))(?![\w\-])",
    re.IGNORECASE,
)
_ALIAS_GROUPS = ("alias", "bare", "plain", "role")
# A defined term for a thing, not a party: '("License Agreement")', '(the "Services")'.
_THING = re.compile(
    r"\b(?:agreement|contract|amendment|services|products|date|term|territory|plan|program"
    r"|software|license|documents?|notice|schedule|exhibit)$",
    re.IGNORECASE,
)
_NOT_PARTY_ALIASES = frozenset(
    {"agreement", "amendment", "contract", "effective date", "parties", "party", "term"}
)
# The conjunction that separates two parties: after a comma, parenthesis or semicolon, or alone on
# a line ("- and -", "AND:"), never inside a name such as "Babcock and Wilcox".
_SEPARATOR = re.compile(
    r"(?:[,;)\]]|\n)[ \t\u00a0\n]*(?:-[ \t\u00a0]*)?\band\b[ \t\u00a0]*(?:-|:)?[ \t\u00a0\n]*"
    # A cover page's "T-MOBILE NETHERLANDS B.V.\n\n&\n\nElephant Talk ...", a numbered list's
    # "\n\n2. Sample Technology, Inc.".
    r"|\n[ \t\u00a0]*&[ \t\u00a0]*\n[ \t\u00a0\n]*|\n[ \t\u00a0]*(?:\([2-9]\)|[2-9]\.)[ \t\u00a0]+"
    r"|[ \t\u00a0]{2,}\([2-9]\)[ \t\u00a0]+",
    re.IGNORECASE,
)
_LEADING_AND = re.compile(
    r"[ \t\u00a0\n,;:-]*\band\b[ \t\u00a0]*(?:-|:)?[ \t\u00a0\n]*", re.IGNORECASE
)
# After a description such as ", a Delaware corporation, with offices at ... 10017 and Exact ...".
_BARE_AND = re.compile(r"\s\b(?:and|And|AND),?\s+(?:the\s+)?(?=[A-Z])")
# "the laws of England and Wales": the "and" of a place's name.
_PLACE_BEFORE = re.compile(r"\b(?:of|in|under)(?:\s+[A-Z][\w.]*){1,3}\s*$")
_DESCRIPTOR = re.compile(
    r",?\s+an?\s+(?=\S)|,\s*(?:having|located|with|whose|organi[sz]ed|incorporated|doing|residing|"
    r"acting|on\s+behalf)\b|\n\s*\n"
    # A parenthesis, unless it is inside the name: "Bunker One (USA) Inc.".
    rf"|\s*\((?![^()\n]{{1,30}}\)[ \t\u00a0]*(?i:{_COMPANY_FORM})(?!\w))"
    r"|,?\s+whose\b|\s+on\s+behalf\s+of\b|,?\s+(?i:with|having|located|domiciled)\s+(?:its|a|an|at|in|their|his|her|offices?|"
    r"principal|registered|address|place)\b|,\s+(?=\d)|,?\s+c/o\b|,?\s+(?:hereinafter|herein)\b"
    # ", the organisation within ...", ", registration nr ...": a description in lower case, but
    # not the company form of "salesforce.com, inc." nor "LLC, d/b/a SHI FARMS".
    rf"|,\s+(?=[a-z])(?!{_COMPANY_FORM}(?![\w/])|[a-z]/[a-z]|dba\b|aka\b|fka\b)"
    # An address: "Celebrity Speakers of 90 High Street"; what the party is: "... UK Limited is a
    # company registered in ..."; a column gap before an address line.
    r"|\s+of\s+(?=\d)|\s+is\s+an?\s+|[ \t\u00a0]{4,}(?=\w)"
)
# A word of a name that no defined term vouches for: capitalised ("Paul Silas"), a number, or one of
# the small words names are joined with ("Bank of America", "Johnson & Johnson", "d/b/a").
_NAME_WORD = re.compile(
    rf"[^a-z]|.*[A-Z0-9.]|(?:of|and|the|for|de|du|des|la|le|del|y|&|d/b/a|dba|f/k/a|a/k/a"
    rf"|{_COMPANY_FORM}),?$"
)
_LIST_LINE_END = re.compile(r",[ \t\u00a0]*\n")
# A name that is a company's, for a passage that defines no party: "Axiometric, LLC".
_ORGANISATION = re.compile(
    rf"\b(?i:{_COMPANY_FORM}|university|bank|association|group|trust|fund|partners|holdings"
    r"|technologies|enterprises|industries|international|foundation|institute)(?!\w)"
)
_LEADING_FORM = re.compile(rf"(?i:{_COMPANY_FORM})(?!\w)")
_FORM_WORD = re.compile(rf"(?i:{_COMPANY_FORM})")
# The town after a company's form: "Tigrent Learning UK Limited of Boston House".
_FORM_OF_PLACE = re.compile(
    r"\b(?i:inc|llc|l\.l\.c|ltd|limited|plc|lp|l\.p|llp|gmbh|ag|s\.a|sa|b\.v|bv|n\.v|nv|pty|pte|corp"
    r"|a/s|s\.r\.l|srl|s\.p\.a|spa|oy|ab|kk|ulc)\b\.?"
    r"(?P<place>\s+of\s+(?=[A-Z])|\s+(?=\d)"
    # "DGT Corp. Suite 207 - 1130 Austin Avenue", "Dolphin Industries Limited Room 1302".
    r"|\s+(?=(?:Suite|Room|Floor|Unit|Building|Bldg|P\.?\s?O\.?\s+Box)\b))"
)
# "(1) Apollo Endosurgery", "● Goosehead ...", "a. Company": list markers before a name.
_LIST_MARKER = re.compile(r"(?:\(?[0-9a-z]{1,2}[.)]|[\u2022\u25cf\u25aa*-])[ \t\u00a0]+")
_ROLES = frozenset(
    {
        "adviser",
        "advisor",
        "agency",
        "agent",
        "broker dealer",
        "buyer",
        "client",
        "company",
        "consultant",
        "contractor",
        "customer",
        "developer",
        "distributor",
        "franchisee",
        "franchisor",
        "issuer",
        "lender",
        "borrower",
        "licensee",
        "licensor",
        "manufacturer",
        "marketing affiliate",
        "provider",
        "purchaser",
        "repairer",
        "reseller",
        "seller",
        "service provider",
        "sponsor",
        "supplier",
        "vendor",
    }
)
_TITLE = re.compile(
    r"(?<![A-Za-z0-9])(?:[A-Z][A-Z0-9&,'\u2019\-]*[ \t\u00a0]{1,3}){1,8}"
    r"(?:AGREEMENT|CONTRACT|AMENDMENT)(?![A-Za-z])"
)
# A title on a line of its own in title case ("License and Hosting Agreement"), for contracts
# without an upper-case title.
_TITLE_LINE = re.compile(
    r"^[ \t\u00a0]*(?:(?i:exhibit)[ \t\u00a0]+[\w.()-]+[ \t\u00a0]+)?"
    r"(?P<title>(?:(?:[A-Z][\w&'\u2019\-]*|and|of|for|the|to)[ \t\u00a0]{1,3}){1,7}"
    r"(?:Agreement|Contract|Amendment))[ \t\u00a0]*$",
    re.MULTILINE,
)
_TITLE_LINE_CHARS = 1500
# The opening sentence names the contract: "This Strategic Alliance Agreement (this "Agreement")".
_TITLE_IN_OPENING = re.compile(
    r"\bThis[ \t\u00a0]+(?P<title>(?:[A-Z][\w&'\u2019\-]*[ \t\u00a0]+(?:and[ \t\u00a0]+)?){1,6}"
    r"(?:Agreement|Contract))\b"
)


@dataclass(frozen=True)
class Found:
    """A verbatim piece of one page: `page_text[start:end]`."""

    page: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class PartyMention:
    name: Found
    alias: Found | None

    @property
    def role(self) -> str | None:
        if self.alias and self.alias.text.strip().lower() in _ROLES:
            return " ".join(self.alias.text.split())
        return None


def _found(page: PageText, start: int, end: int) -> Found:
    return Found(page.page, start, end, page.text[start:end])


def parse_date(match: re.Match[str]) -> date | None:
    month = (match.group("m1") or match.group("m2") or match.group("m3")).lower().rstrip(".")
    day = int(match.group("d1") or match.group("d2") or match.group("d3"))
    year = int(match.group("y1") or match.group("y2") or match.group("y3"))
    number = next((n for n, name in enumerate(_MONTHS, 1) if name.startswith(month[:3])), 0)
    try:
        return date(year, number, day)
    except ValueError:
        return None


def find_title(page: PageText) -> Found | None:
    for match in _TITLE.finditer(page.text):
        start, end = match.span()
        if page.text[start:end].upper().startswith("THIS "):
            start += 5
        title = page.text[start:end].strip()
        if any(char.isspace() for char in title):
            start = page.text.index(title, start)
            return _found(page, start, start + len(title))
    line = _TITLE_LINE.search(page.text, 0, _TITLE_LINE_CHARS)
    if line:
        return _found(page, *line.span("title"))
    opening = _TITLE_IN_OPENING.search(page.text, 0, _TITLE_LINE_CHARS)
    if opening:
        return _found(page, *opening.span("title"))
    return None


def _conjunctions(page: PageText, start: int, end: int) -> list[re.Match[str]]:
    """The "and"s in this stretch that stand between two parties."""
    separators = list(_SEPARATOR.finditer(page.text, start, end))
    leading_and = _LEADING_AND.match(page.text, start, end)
    if leading_and and not (separators and separators[0].start() <= leading_and.end()):
        separators.insert(0, leading_and)
    if separators:
        return separators
    # After a description ("..., a Delaware corporation, with offices at ... 10017 and Exact ..."),
    # or after the previous party's defined term ('("Lifeway") with an address of ... and Ludmila').
    descriptor = _DESCRIPTOR.search(page.text, start, end)
    if descriptor is None:
        return []
    return [
        bare
        for bare in _BARE_AND.finditer(page.text, descriptor.end(), end)
        if not _PLACE_BEFORE.search(page.text, max(0, bare.start() - 60), bare.start())
    ]


# One of several parties listed with what each is, before a defined term for them all: "White Hat
# Strategic Partners LP, a Delaware limited partnership, White Hat SP GP LLC, a Delaware limited
# liability company, and White Hat Capital Partners GP LLC, a ... (collectively, the "White Hat
# Parties")".
_LISTED_PARTY_END = re.compile(
    r",[ \t\u00a0\n]+an?[ \t\u00a0\n]+[^,()\"\u201c]{1,80}?\b(?i:corporation|company|partnership"
    r"|association|trust|bank|individual)[ \t\u00a0\n]*,[ \t\u00a0\n]*(?:and[ \t\u00a0\n]+)?"
    r"(?=[A-Z])"
)


def _segment_names(page: PageText, start: int, end: int) -> tuple[list[Found], Found | None]:
    """The names in the words before a defined term: the last is the one the term defines; any
    before it ("between Alpha Corp., a Delaware corporation, and Beta LLC ("Beta")") have none."""
    listed = list(_LISTED_PARTY_END.finditer(page.text, start, end))
    if not listed:
        return _names_before_term(page, start, end)
    heads, first = _names_before_term(page, start, listed[0].start())
    names = heads + ([first] if first is not None and _looks_like_a_name(first.text) else [])
    for before, after in pairwise(listed):
        name = _party_name(page, before.end(), after.start())
        if name is not None and _looks_like_a_name(name.text):
            names.append(name)
    return names, _party_name(page, listed[-1].end(), end)


def _names_before_term(page: PageText, start: int, end: int) -> tuple[list[Found], Found | None]:
    conjunctions = _conjunctions(page, start, end)
    if not conjunctions:
        return [], _party_name(page, start, end)
    head = _party_name(page, start, conjunctions[0].start())
    heads = [head] if head is not None and _reads_as_a_name(head.text) else []
    # The last "and" unless it joins a description: ", and represented by Mr. ... (hereinafter
    # referred to as "EIT")" belongs to the name after the "AND" before it.
    for conjunction in reversed(conjunctions):
        name = _party_name(page, conjunction.end(), end)
        if name is not None and _looks_like_a_name(name.text):
            return heads, name
    return heads, _party_name(page, conjunctions[-1].end(), end)


def _reads_as_a_name(name: str) -> bool:
    """A name no defined term vouches for: two words or more, each capitalised or a joining word,
    so neither an address ("202 South Wheeler Street") nor a label ("Address") nor a sentence."""
    return (
        _looks_like_a_name(name)
        and len(name.split()) >= 2
        and not name[0].isdigit()
        and all(_NAME_WORD.match(word) for word in name.split())
    )


def _party_name(page: PageText, start: int, end: int) -> Found | None:
    while start < end and page.text[start] in " \t\u00a0\n,;:-":
        start += 1
    marker = _LIST_MARKER.match(page.text, start, end)
    if marker:
        start = marker.end()
    descriptor = _DESCRIPTOR.search(page.text, start, end)
    if descriptor:
        end = descriptor.start()
    place = _FORM_OF_PLACE.search(page.text, start, end)
    if place:
        end = place.start("place")
    while end > start and page.text[end - 1] in " \t\u00a0\n,;:":
        end -= 1
    dangling = _DANGLING.search(page.text, start, end)
    if dangling:  # "NIGEL CROCKETT of (the "Employee")": the address was left blank
        end = dangling.start()
    lead = _NAME_LEAD.match(page.text, start, end)
    if lead:
        start = lead.end()
    tail = _NAME_TAIL.search(page.text, start, end)
    if tail:
        end = tail.start()
    described = _DESCRIBED_NAME.match(page.text, start, end)
    if (
        described
        and described.group("word") not in _SENTENCE_WORDS | _DESCRIPTION_WORDS
        and not _LEADING_FORM.match(page.text, described.end(), end)  # "e-centives, Inc."
    ):
        start = described.end()
    article = _ARTICLE.match(page.text, start, end)
    if article:  # "between the TOWN OF VINTON, VIRGINIA"
        start = article.end()
    name = page.text[start:end]
    if not (2 <= len(name) <= 120) or not name[0].isalnum() or len(name.split()) > 12:
        return None
    if not any(c.isupper() for c in name) and not _ORGANISATION.search(name):  # "acme.com, inc."
        return None
    return _found(page, start, end)


# Words before a name that belong to the sentence: "is entered into by and between", "c/o",
# "Party A:".
_NAME_LEAD = re.compile(
    r"(?:(?:is\s+)?(?:entered\s+into\s+)?(?:by\s+and\s+)?(?:between|among|by)\s+"
    r"|c/o\s+|party\s+[a-z]\s*:\s*|(?:hereby\s+)?confirms?\s+(?:its|their)\s+agreement\s+with\s+)",
    re.IGNORECASE,
)
_ARTICLE = re.compile(r"the[ \t\u00a0\n]+(?=[A-Z])")
_DANGLING = re.compile(r"[ \t\u00a0\n,]+(?:of|at|and|the|whose)$")
# A few words that say who the party is before its name: "agent for Robbie Fowler", "professional
# golfer, TOM WATSON".
_DESCRIBED_NAME = re.compile(
    r"(?P<word>[a-z][a-z'\-]*)(?:[ \t\u00a0\n]+[a-z][a-z'\-]*){0,2},?[ \t\u00a0\n]+(?=[A-Z])"
)
# Not who the party is but what it is or where: "as Administrator for ...", "registered in ...".
_DESCRIPTION_WORDS = frozenset(
    {"as", "dated", "registered", "incorporated", "organized", "organised", "formed", "being"}
    | {"acting", "located", "having", "whose", "with", "at", "from", "under", "pursuant"}
    | {"through", "represented", "signed", "care"}
)
# "Capsugel US, LLC and its Affiliates": the party is the company.
_NAME_TAIL = re.compile(
    r",?\s+(?:and/or|and|or|together\s+with|including)\s+(?:all\s+of\s+)?(?:its|their|his|her)?\s*"
    r"(?:respective\s+)?(?:affiliates|subsidiaries|successors|assigns|heirs)\b.*$"
    # A date after a cover page's names: "Beijing Tianying ... Co., Ltd.     November 24, 2009".
    rf"|\s+{_MONTH_NAME}\s+\d.*$"
    # A page's furniture: "Clear Capital Page 1".
    r"|\s+page\s+\d+\b.*$|\s+dated\b.*$",
    re.IGNORECASE | re.DOTALL,
)
# A sentence, not a name: it has a verb ("Distributor will maintain"), a label ("Address :"), or
# opens with a function word ("to the other Party", "months. The Agreement may be renewed").
_NOT_A_NAME = re.compile(
    r"\b(?:will|shall|must|agrees?|are|is|be|referred|collectively|individually|each)\b|\s:|:\s*[,-]"
    # A document, not a party: "that certain Manufacturing Agreement", "Attachment C - Charges".
    r"|\b(?-i:Agreement|AGREEMENT|Amendment|Attachment|Exhibit|EXHIBIT|Schedule|Appendix|Annex)\b"
    # A date or a form's label: "DATED AS OF", "Address: Room C209".
    r"|^(?:dated|date)\b|\b(?:address|tel|fax|e-?mail|attention|attn|name|title|position)\s*:",
    re.IGNORECASE,
)
_SENTENCE_WORDS = frozenset(
    {"a", "an", "the", "to", "its", "his", "her", "their", "months", "which", "furnishing", "is"}
    | {"and", "or", "of", "in", "on", "for", "with", "by", "all", "any", "each", "such", "said"}
    | {"between"}
)


def _looks_like_a_name(name: str) -> bool:
    # A name may have a lower-case word or two ("Web site owners"); a sentence has more.
    if sum(not _NAME_WORD.match(word) for word in name.split()) > 2:
        return False
    first = name.split()[0]
    # A name's first word has a capital, a digit or a dot ("iShip.com", "salesforce.com, inc."); a
    # sentence's ("pursuant to licenses issued by ...", "incorporates by reference ...") has none.
    named = any(char.isupper() or char.isdigit() or char == "." for char in first.rstrip(".,"))
    named = named or _ORGANISATION.search(name) is not None  # "e-centives, Inc."
    return named and first not in _SENTENCE_WORDS and _NOT_A_NAME.search(name) is None


# A full stop before a capital: the end of the sentence that names the parties when the word before
# it is lower case or a number, or a closing parenthesis or quote ('("Licensee"). Licensee wishes'),
# never "Inc.", "Mr." or "Ave." (capitalised words), and not when the next words go on naming
# ("Israel. Hereinafter referred to as", "Hong Kong. AND: Mr. Zheng").
_FULL_STOP = re.compile(r"(?P<word>\S*)\.[ \t\u00a0\n]+(?P<next>[A-Z]\w*|\d{1,2}\.)")
_LAST_WORD = re.compile(r"(?:[a-z]{2,}|[0-9]+)|.*[)\"\u201d']")
_GOES_ON = frozenset({"and", "hereinafter", "herein", "between", "among"})


def _sentence_end(text: str, start: int, limit: int) -> int | None:
    for stop in _FULL_STOP.finditer(text, start, limit):
        word = stop.group("word")
        if word.isdigit() and len(word) <= 2:  # "1. Example Group ...": a numbered list
            continue
        if _LAST_WORD.fullmatch(word) and stop.group("next").lower() not in _GOES_ON:
            return stop.end("word")
    return None


def _preamble_limit(page: PageText, anchor_end: int) -> int:
    """Where the passage that names the parties ends: at its sentence's end, at the recitals, or
    where the next "between" starts (a cover page's "between X and Y" before the preamble)."""
    limit = min(len(page.text), anchor_end + _PREAMBLE_CHARS)
    for pattern in (_PREAMBLE_END, _ANCHOR):
        stop = pattern.search(page.text, anchor_end, limit)
        if stop:
            limit = stop.start()
    return _sentence_end(page.text, anchor_end, limit) or limit


def _parties_after(page: PageText, anchor_end: int, limit: int | None = None) -> list[PartyMention]:
    limit = _preamble_limit(page, anchor_end) if limit is None else limit
    mentions: list[PartyMention] = []
    segment_start = anchor_end
    for alias in _ALIAS.finditer(page.text, anchor_end, limit):
        if alias.start() < segment_start:  # a second defined term inside the same parenthesis
            continue
        segment = (segment_start, alias.start())
        group = next(g for g in _ALIAS_GROUPS if alias.group(g) is not None)
        # 'hereinafter referred to as "Customer"' has no parenthesis to close.
        close = -1
        if group == "alias":
            close = page.text.find(")", alias.end(), limit)
        elif group == "bare":  # "(Transporter)" is closed already
            close = alias.end() - 1
        segment_start = close + 1 if close >= 0 else alias.end()
        term = alias.group(group).strip()
        if term.lower() in _NOT_PARTY_ALIASES or _THING.search(term):
            continue
        heads, name = _segment_names(page, *segment)
        mentions += [PartyMention(head, None) for head in heads]
        if name is not None:
            mentions.append(PartyMention(name, _found(page, *alias.span(group))))
    if mentions:
        return mentions + _undefined_parties(page, segment_start, limit, defined=True)
    # No party has a defined term: the words before the first ('(the "Agreement")') name them.
    first_term = _ALIAS.search(page.text, anchor_end, limit)
    return _undefined_parties(page, anchor_end, first_term.start() if first_term else limit)


_NAME_COMMA = re.compile(r",[ \t\u00a0]+(?=[A-Z])")


def _companies_in(page: PageText, name: Found | None) -> list[Found | None]:
    """A cover page's "SUMITOMO MITSUI BANKING CORPORATION, SMBC NIKKO SECURITIES INC.": two
    companies, parted where a company's form ends and a name, not another form, begins."""
    if name is None:
        return [None]
    parts: list[Found | None] = []
    start = name.start
    for comma in _NAME_COMMA.finditer(page.text, name.start, name.end):
        before = page.text[start : comma.start()].split()
        if (
            before
            and _FORM_WORD.fullmatch(before[-1])
            and not _LEADING_FORM.match(page.text, comma.end(), name.end)
        ):
            parts.append(_found(page, start, comma.start()))
            start = comma.end()
    parts.append(_found(page, start, name.end))
    return parts


def _undefined_parties(
    page: PageText, start: int, end: int, *, defined: bool = False
) -> list[PartyMention]:
    """Parties after the last defined term, or in a passage with none: "between Link Plus
    Corporation and Axiometric, LLC.", "... ("ESSI"), and Stephen Marley, an individual."

    Without a defined term to vouch for them, they must read as names of two words or more; with
    none at all in the passage, one of them must also be a company ("Inc.", "Ltd", "University"),
    as "between the Effective Date and December 31" is no preamble.
    """
    conjunctions = _conjunctions(page, start, end)
    if not conjunctions and not defined:
        conjunctions = [
            bare
            for bare in _BARE_AND.finditer(page.text, start, end)
            if not _PLACE_BEFORE.search(page.text, max(0, bare.start() - 60), bare.start())
        ][:1]
    if not conjunctions:
        return []
    if defined:
        names = [_party_name(page, conjunctions[-1].end(), end)]
    else:
        # The first "and" parts the last two (a later one is in a name or past the preamble); a
        # cover page lists any before them a line each: "UNITED TECHNOLOGIES CORPORATION,\n\n
        # OTIS WORLDWIDE CORPORATION\n\nand\n\nCARRIER GLOBAL CORPORATION".
        second_end = conjunctions[1].start() if len(conjunctions) > 1 else end
        cuts = [start]
        cuts += [
            line.end()
            for line in _LIST_LINE_END.finditer(page.text, start, conjunctions[0].start())
        ]
        names = [
            _party_name(page, begin, stop)
            for begin, stop in zip(cuts, [*cuts[1:], conjunctions[0].start()], strict=True)
        ]
        names.append(_party_name(page, conjunctions[0].end(), second_end))
    names = [part for name in names for part in _companies_in(page, name)]
    found = [name for name in names if name is not None and _reads_as_a_name(name.text)]
    if len(found) != len(names) or not (
        defined or any(_ORGANISATION.search(n.text) for n in found)
    ):
        return []
    return [PartyMention(name, None) for name in found]


# "Party A: Beike Internet Security Technology Co., Ltd.\n\nAddress: ...": parties by label, the
# way contracts drafted in China list them, up to the line's end or the next label.
_LABEL_WORDS = r"Party[ \t\u00a0]+[A-D]|(?:First|Second|Third)[ \t\u00a0]+Party"
_LABEL = re.compile(
    rf"(?<![\w-])(?<!of )(?P<label>{_LABEL_WORDS})[ \t\u00a0]*[:\uff1a]"
    r"(?:[ \t\u00a0]*\n)*[ \t\u00a0]*"
)
_LABELLED_NAME_END = re.compile(
    r"\n|[ \t\u00a0]+(?i:(?:Registered|Registration|Legal)[ \t\u00a0]+)?"
    r"(?i:Address|Representative|Tel|Telephone|Fax|Attention|Contact)\b"
    rf"|[ \t\u00a0]+(?:{_LABEL_WORDS})[ \t\u00a0]*[:\uff1a]"
)


def _labelled_parties(pages: list[PageText]) -> list[PartyMention]:
    """Each label's first party, over the pages (a list may run onto the next page)."""
    mentions: dict[str, PartyMention] = {}
    for page in pages:
        for label in _LABEL.finditer(page.text, 0, _PREAMBLE_CHARS * 2):
            key = " ".join(label.group("label").lower().split())
            stop = _LABELLED_NAME_END.search(page.text, label.end())
            name = _party_name(page, label.end(), stop.start() if stop else len(page.text))
            if key not in mentions and name is not None and _looks_like_a_name(name.text):
                mentions[key] = PartyMention(name, _found(page, *label.span("label")))
    return list(mentions.values())


# The other party of a form, left blank: "and _________________ (hereinafter ...", "And [*]".
_BLANK_PARTY = re.compile(r"\b(?:and|AND|And)[ \t\u00a0\n]+(?:_{3,}|\[[ \t*\u2022.]*\])")


def find_parties(pages: list[PageText]) -> list[PartyMention]:
    """Parties from the first "between ... and ..." passage that names at least two of them, or
    else from the first page that labels two ("Party A: ...", "Party B: ...").

    A passage naming only one is more often a clause about someone else (an arbitration body, an
    escrow agent) than a preamble, so it is not used.
    """
    for page in pages:
        for anchor in _ANCHOR.finditer(page.text):
            mentions = _parties_after(page, anchor.end())
            if len(mentions) == 1 and _BLANK_PARTY.search(
                page.text, anchor.end(), _preamble_limit(page, anchor.end())
            ):
                return mentions  # a form: "between Lucid Inc., ... And [*] ('Distributor')"
            if len(mentions) >= 2:
                # The passage is the preamble; a piece of sentence that came with it is not a party.
                return [m for m in mentions if _looks_like_a_name(m.name.text)]
    labelled = _labelled_parties(pages)
    if len(labelled) >= 2:
        return labelled
    for page in pages:
        subjects = _parties_agreeing(page)
        if len(subjects) >= 2:
            return [m for m in subjects if _looks_like_a_name(m.name.text)]
    if pages and _UNDERSIGNED.search(pages[0].text, 0, _PREAMBLE_CHARS):
        return _signatories(pages)
    return []


# "The undersigned hereby agree ...": a joint filing names its parties only where they sign, an
# upper-case name before "By:" or "/s/" ("ATHENE USA CORPORATION By: ...", "ADAM D. PORTNOY /s/").
_UNDERSIGNED = re.compile(r"\bthe\s+undersigned\b", re.IGNORECASE)
_SIGNATURE = re.compile(r"(?<![\w/])(?:By\b|/s/)")
_SIGNATURE_WORD = re.compile(r"\S+")
_SIGNATORY_CHARS = 160


def _signatories(pages: list[PageText]) -> list[PartyMention]:
    found: dict[str, PartyMention] = {}
    for page in pages:
        for signature in _SIGNATURE.finditer(page.text):
            before = max(0, signature.start() - _SIGNATORY_CHARS)
            tokens = list(_SIGNATURE_WORD.finditer(page.text, before, signature.start()))
            run: list[re.Match[str]] = []
            for token in reversed(tokens):
                word = token.group()
                joining = word in ("&", "-", "\u2013")  # "ATHENE ANNUITY & LIFE ASSURANCE COMPANY"
                if any(c.islower() for c in word) or word.endswith(":"):
                    break
                if not joining and not any(c.isalpha() for c in word):
                    break
                run.insert(0, token)
            while run and run[-1].group().endswith(","):  # "..., L.P.," is followed by a role
                run.pop()
            if len(run) < 2:
                continue
            name = _found(page, run[0].start(), run[-1].end())
            key = " ".join(name.text.lower().split())
            if key not in found and _looks_like_a_name(name.text):
                found[key] = PartyMention(name, None)
    return list(found.values())


# 'MICOA AGENCY AGREEMENT  Mutual Insurance Corporation of America, a Michigan insurance corporation
# (MICOA) and Stratton, Cheeseman & Walsh-Nevada, Inc. ("Agency") agree as follows:'
_AGREE = re.compile(
    r"\b(?:hereby\s+)?agrees?\s+(?:as\s+follows|to\s+(?:all\s+)?the\s+terms|to\s+all\s+terms)\b"
    # A letter agreement: 'X (the "Company") ... hereby confirm their agreement with Y (the
    # "Agent") as follows:'.
    r"|\bas\s+follows\s*:",
    re.IGNORECASE,
)
_SUBJECT_START = re.compile(r"\n[ \t\u00a0]*\n")
_SUBJECT_CHARS = 1500


def _parties_agreeing(page: PageText) -> list[PartyMention]:
    """The parties as the subject of the opening sentence, for a preamble with no "between": the
    sentence that ends "agree as follows" starts after the title, a paragraph break or a stop."""
    agree = _AGREE.search(page.text, 0, _PREAMBLE_CHARS * 2)
    if agree is None:
        return []
    start = max(0, agree.start() - _SUBJECT_CHARS)
    for boundary in (_SUBJECT_START, _TITLE):
        for found in boundary.finditer(page.text, start, agree.start()):
            start = max(start, found.end())
    while (stop := _sentence_end(page.text, start, agree.start())) is not None:
        start = stop + 1
    if _PREAMBLE_END.search(page.text, start, agree.start()):  # "NOW, THEREFORE, the parties agree"
        return []
    return _parties_after(page, start, agree.start())


_DATED = re.compile(
    r"\b(?:dated|entered\s+into|made|effective|executed|as\s+of)\b|\bdate\s*:\s*$"
    # A date right under the title: "AGENCY AGREEMENT   May 25, 2016".
    r"|\bagreement\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AgreementDate:
    found: Found
    value: date | None
    says_effective: bool


# A date the signed copy was to fill in: "this ____ day of ________, 2000", "February ____, 2017".
_BLANK_DATE = re.compile(
    rf"(?:\bthis\s+)?_{{2,}}\s*day\s+of\s+(?:_{{2,}}|{_MONTH_NAME})\s*,?\s*(?:\d{{4}}|\d{{2}}_+|_{{2,}})"
    rf"|\b{_MONTH_NAME}\s+_{{2,}}\s*,?\s*\d{{4}}\b",
    re.IGNORECASE,
)
_ANY_DATE = re.compile(rf"{DATE.pattern}|(?P<blank>{_BLANK_DATE.pattern})", re.IGNORECASE)


def find_agreement_date(pages: list[PageText]) -> AgreementDate | None:
    """The first date that the opening words tie to the agreement ("entered into as of ...").

    A date left blank for signing is the agreement's date too, with no value.
    """
    for page in pages:
        for match in _ANY_DATE.finditer(page.text):
            window = page.text[max(0, match.start() - 200) : match.start()]
            if not _DATED.search(window):
                continue
            after = page.text[match.end() : match.end() + 40]
            says_effective = "effective" in (window[-80:] + after).lower()
            value = None if match.group("blank") else parse_date(match)
            return AgreementDate(_found(page, *match.span()), value, says_effective)
    return None
