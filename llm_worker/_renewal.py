"""How long a contract runs after its first term: renewal terms, the notice that stops a renewal,
and a term with no end ("perpetual").

Values are the contract's own words, collapsed ("successive one (1) year periods", "ninety (90)
days"), so a reader sees what the contract says and the evidence check finds every word in it.
CUAD's annotators summarise the same facts as "successive 1 year" and "90 days"; the evaluation
compares the two by their number and unit (`duration_of`).
"""

from __future__ import annotations

import re

_COUNT = r"(?:\d{1,3}|[a-z]+(?:-[a-z]+)?)(?:\s*\(\s*\d{1,3}\s*\))?"
_UNIT = r"(?:calendar\s+|business\s+)?(?:years?|months?|days?|weeks?)"

# "for successive one (1) year periods", "additional renewal terms of two (2) years each",
# "renew for an additional 12 month term", "for one (1) additional year".
_RENEWAL = re.compile(
    rf"\b(?P<successive>successive|consecutive|subsequent|additional|further|renewal)\b[^.;]{{0,40}}?"
    rf"\b(?P<length>{_COUNT}[\s-]+{_UNIT})\b"
    rf"|\b(?P<length2>{_COUNT}[\s-]+{_UNIT})[\s-]+(?:renewal\s+)?(?:terms?|periods?)\b"
    rf"|\brenew(?:s|ed|al)?\b[^.;]{{0,60}}?\bfor\s+(?:an?\s+)?(?:additional\s+)?"
    rf"(?P<length3>{_COUNT}[\s-]+{_UNIT})\b",
    re.IGNORECASE,
)
# Renewals that repeat: "successive", "additional one-year periods", "from year to year", "each".
_REPEATS = re.compile(
    r"\b(?:successive|consecutive|year[- ]to[- ]year|month[- ]to[- ]month|each|thereafter)\b"
    r"|\b(?:additional|renewal|further)\s+[^.;]{0,40}?\b(?:periods|terms)\b",
    re.IGNORECASE,
)
_RENEWS = re.compile(r"\b(?:renew|extend|extension)\w*", re.IGNORECASE)

# "at least ninety (90) days prior to the expiration", "upon sixty (60) days' written notice",
# "notice of non-renewal ... not less than 30 days before".
_NOTICE = re.compile(
    rf"\b(?P<length>{_COUNT}\s+{_UNIT})['\u2019]?\s*(?:\(\s*\d{{1,3}}\s*\)\s*)?"
    rf"(?:(?:prior|advance|written|advance\s+written|prior\s+written)\s+)?notice\b"
    rf"|\b(?:at\s+least|not\s+less\s+than|no\s+less\s+than|no\s+later\s+than|within)\s+"
    rf"(?P<length2>{_COUNT}\s+{_UNIT})\b[^.;]{{0,60}}?\b(?:prior|before|preceding|notice|expir)",
    re.IGNORECASE,
)
_STOPS_RENEWAL = re.compile(
    r"\bnon-?renew|\bnot\s+(?:to\s+)?(?:renew|extend)|\b(?:renew|renewal|extend|extension)\w*",
    re.IGNORECASE,
)

# "shall continue in full force and effect until terminated", "until the expiration of the License
# Agreement", "continuing thereafter indefinitely", "in perpetuity": about the agreement's own
# term, with no date (CUAD's "Perpetual").
_PERPETUAL = re.compile(
    r"\b(?:this\s+(?:\w+\s+){0,2}agreement|the\s+term)\b[^.;]{0,160}?\b(?:(?:shall|will|to)\s+)?"
    r"(?:(?:thereafter\s+)?(?:continues?|remains?|extends?|be\s+in\s+effect|be\s+valid))\b"
    r"[^.;]{0,80}?\b(?:until\s+(?:(?:it\s+is\s+)?(?:terminated|the\s+(?:expiration|termination|last))"
    r"|termination\b|such\s+time\s+as|(?:either|any|one|a)\s+party\s+(?:terminates|gives|provides"
    r"|informs|elects|notifies))|unless\s+and\s+until\s+(?:either|any|one|a)\s+party"
    r"|indefinitely|(?:in|for)\s+perpetuity|perpetual(?:ly)?"
    r"|for\s+an?\s+(?:indefinite|unlimited)\s+(?:period|term|duration))"
    r"|\b(?:this\s+agreement|the\s+term)\b[^.;]{0,40}?\bis\s+perpetual\b"
    r"|\b(?:this\s+agreement|the\s+term)\b[^.;]{0,120}?\bwill\s+end\s+(?:only\s+)?(?:when|upon|if)\s+"
    r"(?:it\s+is\s+)?terminated\b"
    r"|\b(?:this\s+agreement|the\s+term)\b[^.;]{0,60}?\b(?:entered\s+into|valid|concluded)\s+for\s+"
    r"an?\s+(?:indefinite|unlimited)\s+(?:period|term)"
    r"|\bcontinuing\s+(?:thereafter\s+)?indefinitely\b",
    re.IGNORECASE,
)
# "a perpetual license", "the licenses granted ... shall continue in perpetuity": a licence's term;
# "This Agreement and the license granted herein shall remain effective until terminated" is the
# agreement's.
_LICENSED = re.compile(
    r"\bperpetual[^.;]{0,40}\blicen[cs]e"
    r"|(?<!agreement and )(?<!agreement and the )\blicen[cs]es?\s+(?:granted|hereunder)\b",
    re.IGNORECASE,
)


def _collapsed(text: str) -> str:
    return " ".join(text.split())


def renewal_term(sentence: str) -> str | None:
    """The length of each renewal the sentence grants, with "successive" when it says so."""
    if not _RENEWS.search(sentence):
        return None
    match = _RENEWAL.search(sentence)
    if match is None:
        return None
    length = match.group("length") or match.group("length2") or match.group("length3")
    repeats = _REPEATS.search(sentence) is not None
    return _collapsed(("successive " if repeats else "") + length)


def renewal_notice_period(sentence: str) -> str | None:
    """The notice that stops a renewal, when the sentence is about stopping one."""
    if not _STOPS_RENEWAL.search(sentence):
        return None
    match = _NOTICE.search(sentence)
    if match is None:
        return None
    return _collapsed(match.group("length") or match.group("length2"))


def is_perpetual(sentence: str) -> bool:
    """Whether the sentence says the agreement runs until terminated, with no end date."""
    return _PERPETUAL.search(sentence) is not None and not _LICENSED.search(sentence)
