"""When a contract's term ends, read from the sentence that sets it.

Contracts state the end in one of two ways: a date ("shall expire on December 31, 2020", "from
January 30, 2012 until July 29, 2012", "Expiration Date: August 31, 2006") or a length counted from
the start ("shall continue for a period of three (3) years", "end on the fifth anniversary of the
Effective Date", "twenty (20) years, commencing on January 1, 2016"). CUAD's annotators turn a
length into a date by adding it to the start the sentence names, else to the effective date, with
no day taken off ("through the day prior to the second anniversary" is still the anniversary), so
`term_end` does the same. A length that belongs to a renewal, a survival period or a notice is not
the term's.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

from llm_worker._preamble import DATE, parse_date

__all__ = ["add_months", "number_of", "states_term", "term_end"]

_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
_UNITS += " fifteen sixteen seventeen eighteen nineteen"
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "ninety": 90}
_ORDINALS = "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth"
_ORDINAL_VALUES = {word: value for value, word in enumerate(_ORDINALS.split(), 1)} | {
    "fifteenth": 15,
    "twentieth": 20,
    "twenty-fifth": 25,
    "thirtieth": 30,
}
_NUMBERS = {word: value for value, word in enumerate(_UNITS.split())} | _TENS | {"a": 1, "an": 1}


def number_of(text: str) -> int | None:
    """ "three" is 3, "thirty-six" 36, "12" 12, "fifth" 5; None for other words."""
    word = text.lower().strip()
    if word.isdigit():
        return int(word)
    if word in _ORDINAL_VALUES:
        return _ORDINAL_VALUES[word]
    match = re.fullmatch(r"(\d+)(?:st|nd|rd|th)", word)
    if match:
        return int(match.group(1))
    if word in _NUMBERS:
        return _NUMBERS[word]
    tens, _, unit = word.partition("-")
    if tens in _TENS and unit in _NUMBERS:
        return _TENS[tens] + _NUMBERS[unit]
    return None


def add_months(start: date, months: int) -> date:
    year, month = divmod(start.month - 1 + months, 12)
    year += start.year
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return date(year, month + 1, day)


# Words right before a date that make it the end of the term: "expire on", "until the earlier of
# (i)", "through", "ending", "terminating on", "conclude on", "extended to", "from X to Y".
_END_CUE = re.compile(
    r"\b(?:expir(?:e|es|ing|ation)|until|through|thru|end(?:s|ing)?|terminat(?:e|es|ing)|"
    r"conclud(?:e|es|ing)|extended\s+to|later\s+than)\s+(?:on\s+|at\s+|as\s+of\s+|upon\s+)?"
    r"(?:the\s+(?:earlier|later|first)\s+(?:of|to\s+occur\s+of)\s*:?\s*(?:\(\s*\w{1,4}\s*\)\s*)?)?"
    r"(?:the\s+)?(?:close\s+of\s+business\s+on\s+|midnight\s+on\s+)?$"
    r"|\bfrom\b[^.;]{0,40}\bto\s+$"
    r"|\b(?:expiration|termination|expiry|end)\s+date[\"\u201d]?\s*\)?\s*(?:(?:shall\s+)?means?"
    r"|shall\s+be|is|:)\s*$",
    re.IGNORECASE,
)
_RANGE_END = re.compile(r"^\s*(?:to|until|through|thru|-|\u2013|and\s+ending(?:\s+on)?)\s*$", re.I)
_START_CUE = re.compile(
    r"\b(?:commenc\w*|begin\w*|start\w*|effective|from|as\s+of)\s+(?:on\s+|as\s+of\s+|upon\s+)?"
    r"(?:the\s+)?$",
    re.IGNORECASE,
)
_COUNT = r"(?P<count>\d{1,3}|[a-z]+(?:-[a-z]+)?)(?:\s*\(\s*(?P<digits>\d{1,3})\s*\))?"
_UNIT = r"(?P<unit>years?|months?|contract\s+years?)(?:\(s\))?"
# "for a term of three (3) years", "for twenty (20) years", "shall be twenty (20) years",
# "is for a term of ten (10) years", "for an initial period of 1 year", "two years (2)".
_LENGTH = re.compile(
    r"\b(?:for|of|be|is|extend\s+for|remain\s+valid\s+for)\s+(?:a\s+|an\s+|the\s+)?"
    r"(?:(?:initial|minimum|fixed|original|entire|first)\s+)?(?:(?:term|period)\s+of\s+)?"
    rf"{_COUNT}[\s-]+{_UNIT}(?:\s*\(\s*\d{{1,3}}\s*\))?"
    r"|\b(?P<count2>\d{1,3}|[a-z]+(?:-[a-z]+)?)(?:\s*\(\s*(?P<digits2>\d{1,3})\s*\))?[\s-]+"
    r"(?P<unit2>years?|months?)(?:\(s\))?\s+(?:thereafter|therefrom|following|after|from)\b",
    re.IGNORECASE,
)
# "the fifth anniversary of the Effective Date", "the five (5) year anniversary of".
_ANNIVERSARY = re.compile(
    r"\bthe\s+(?:day\s+prior\s+to\s+the\s+)?(?P<ordinal>[a-z]+(?:-[a-z]+)?|\d{1,2}(?:st|nd|rd|th))"
    r"(?:\s*\(\s*\d{1,2}\s?(?:s\s?t|n\s?d|r\s?d|t\s?h)?\s*\))?\s+anniversary\b"
    r"|\b(?P<count>\d{1,2}|[a-z]+(?:-[a-z]+)?)(?:\s*\(\s*(?P<digits>\d{1,2})\s*\))?[\s-]+year"
    r"\s+anniversary\b",
    re.IGNORECASE,
)
# A length that is not the term's: a renewal's, a survival period after the term, a notice.
_NOT_THE_TERM_BEFORE = re.compile(
    r"\b(?:renew\w*|successive|additional|extension|extended|further|notice|prior|survive\w*)\b"
    r"[^.;]{0,40}$",
    re.IGNORECASE,
)
_NOT_THE_TERM_AFTER = re.compile(
    r"^[^.;]{0,40}?\b(?:after|following|from|of)\s+(?:the\s+|such\s+|any\s+)?"
    r"(?:termination|expiration|expiry|notice|receipt)\b"
    r"|^\s*(?:the\s+|its\s+|such\s+|any\s+)?(?:termination|expiration|expiry|notice|receipt)\b"
    r"|^\W{0,3}(?:'|\u2019)?\s*(?:prior\s+|advance\s+|written\s+)*notice\b",
    re.IGNORECASE,
)
_CALENDAR_YEAR_END = re.compile(
    r"\buntil\s+(?:the\s+)?end\s+of\s+the\s+(?:current|then[- ]current)\s+calendar\s+year\b",
    re.IGNORECASE,
)
# The agreement's own term, not a licence's, a warranty's or a payment's: "This Agreement shall",
# "The initial term of this Agreement", '"Term" means', "Contract Period shall mean".
_THE_TERM = re.compile(
    r"\b(?:this|the)\s+(?:(?!(?:of|this|the)\b)[\w-]+\s+){0,3}(?:agreement|contract|amendment"
    r"|venture)\b(?!\s+(?-i:[A-Z]))"
    r"|\bthe\s+[\"\u201c]?(?:initial\s+|original\s+)?term\b"
    r"|(?:^\W*|[\"\u201c])(?:initial\s+|effective\s+)?term\b(?=[\"\u201d]?\s*(?:\(|:|of\s+"
    r"(?:this|the)\b|shall\s+mean|means|is\b))|\b(?:contract|agreement|services?)\s+period\b",
    re.IGNORECASE,
)
# A word before "this Agreement" that makes it an object, not the subject: "in this Agreement",
# "during the term of this Agreement", "terminate this Agreement".
_OBJECT_OF = re.compile(
    r"\b(?:in|of|under|to|by|during|with|within|upon|throughout|after|before|for|prior|into|from|while"
    r"|on|at|terminat\w*|extend\w*|renew\w*|breach\w*|execut\w*|sign\w*)\s*$",
    re.IGNORECASE,
)
_RUNS = re.compile(
    r"\b(?:continu\w*|remain\w*|expir\w*|terminat\w*|end\w*|extend\w*|conclud\w*|term\s+of"
    r"|be\s+(?:in\s+effect|effective|valid)|in\s+(?:full\s+)?(?:force|effect)|means?|valid|"
    r"is\s+for|through|until|shall\s+be\s+(?:for\s+)?(?:a\s+(?:term|period)|\w+\s+\(\d+\)))",
    re.IGNORECASE,
)
# Not the term: what survives it, what lasts for a while after it, a choice of the longer of two.
_NOT_ABOUT_THE_TERM = re.compile(
    r"\bsurviv\w*|\b(?:after|following)\s+(?:the\s+|its\s+|such\s+|any\s+)?"
    r"(?:early\s+)?(?:termination|expiration|expiry)\b|\b(?:longer|sooner)\s+of\b"
    r"|\band\s+for\s+[^.;]{0,40}\bthereafter\b|\b(?:after|following|beyond)\s+the\s+term\b",
    re.IGNORECASE,
)


# The subject comes early: "Unless sooner terminated as provided in Section 7(b), this Agreement".
_SUBJECT_CHARS = 150


def states_term(sentence: str) -> bool:
    """Whether the sentence sets how long the agreement itself runs."""
    if _NOT_ABOUT_THE_TERM.search(sentence) or not _RUNS.search(sentence):
        return False
    return any(
        m.start() <= _SUBJECT_CHARS
        and not _OBJECT_OF.search(sentence[max(0, m.start() - 30) : m.start()])
        for m in _THE_TERM.finditer(sentence)
    )


def _stated_end(sentence: str) -> date | None:
    for found in DATE.finditer(sentence):
        before = sentence[max(0, found.start() - 60) : found.start()]
        if _END_CUE.search(before):
            return parse_date(found)
        previous = list(DATE.finditer(sentence, 0, found.start()))
        if previous and _RANGE_END.match(sentence, previous[-1].end(), found.start()):
            return parse_date(found)
    return None


def _start_in(sentence: str) -> date | None:
    for found in DATE.finditer(sentence):
        if _START_CUE.search(sentence[max(0, found.start() - 40) : found.start()]):
            return parse_date(found)
    return None


def _months(count: str, digits: str | None, unit: str) -> int | None:
    value = number_of(digits or count)
    if not value or value > 100:
        return None
    return value * 12 if "year" in unit.lower() else value


def _term_months(sentence: str) -> int | None:
    """The length of the term in months, when the sentence gives one that is the term's."""
    for match in _LENGTH.finditer(sentence):
        if _NOT_THE_TERM_BEFORE.search(sentence[max(0, match.start() - 60) : match.start()]):
            continue
        if _NOT_THE_TERM_AFTER.search(sentence[match.end() : match.end() + 60]):
            continue
        count, digits, unit = (
            (match.group("count"), match.group("digits"), match.group("unit"))
            if match.group("count")
            else (match.group("count2"), match.group("digits2"), match.group("unit2"))
        )
        months = _months(count, digits, unit)
        if months:
            return months
    for match in _ANNIVERSARY.finditer(sentence):
        if _NOT_THE_TERM_BEFORE.search(sentence[max(0, match.start() - 60) : match.start()]):
            continue
        years = number_of(match.group("ordinal") or match.group("digits") or match.group("count"))
        if years and years <= 100:
            return years * 12
    return None


# A length counted from the signing, not from the effective date: "the seventh anniversary of
# the date hereof", "one year from the date of this Agreement".
_FROM_SIGNING = re.compile(
    r"\b(?:anniversary\s+of|from|after|following)\s+the\s+date\s+(?:hereof|of\s+this\s+"
    r"(?:[\w-]+\s+){0,3}(?:agreement|contract))",
    re.IGNORECASE,
)


_ANCHORED = re.compile(
    r"\b(?:from|after|following|anniversary\s+of)\s+(?:the\s+)?(?:effective\s+date|date\s+hereof"
    r"|this\s+agreement|date\s+of\s+this\s+agreement)\b",
    re.IGNORECASE,
)
# "the later of (a) twelve (12) months from the Launch Date or (b) ...": no length alone ends it.
_ONE_OF_SEVERAL = re.compile(
    r"\b(?:longer|sooner|later|latest|earlier|earliest)\s+(?:of|to\s+occur)\b", re.IGNORECASE
)


def term_end(sentence: str, start: date | None, signed: date | None = None) -> date | None:
    """The date the term ends: stated, or its length added to the start.

    The start is the date the sentence says the term begins on, else the agreement's date
    (`signed`) for a term counted from "the date hereof", else `start` (the effective date, as
    CUAD counts it).
    """
    stated = _stated_end(sentence)
    if stated is not None:
        return stated
    from_signing = signed if signed and _FROM_SIGNING.search(sentence) else None
    begins = from_signing or _start_in(sentence) or start
    if begins is None:
        return None
    if _CALENDAR_YEAR_END.search(sentence):
        return date(begins.year, 12, 31)
    several = _ONE_OF_SEVERAL.search(sentence)
    months = _term_months(sentence[: several.start()] if several else sentence)
    if months is None and several and _ANCHORED.search(sentence, several.end()):
        # "the later of (i) five (5) years from the date hereof, or (ii) the completion of the
        # Services": CUAD dates the term by the length when it runs from the agreement's start.
        months = _term_months(sentence[several.end() :])
    return add_months(begins, months) if months else None
