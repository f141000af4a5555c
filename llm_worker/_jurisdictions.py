"""Which jurisdiction's law governs a contract, read from its governing-law sentence.

A capitalised-words pattern after "laws of" cannot tell where a name ends: it stored "New" for
"the laws of the State of New York", "DELAWARE WITHOUT GIVING EFFECT" for an upper-case clause,
and nothing for "governed by English law" or "PRC Laws". So the sentence is matched against the
jurisdictions contracts name (US states, Canadian provinces, Australian states, countries), longest
name first, including the adjectives and abbreviations drafters use for them. The result is the
jurisdiction's usual name ("New York", "England and Wales", "People's Republic of China").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Jurisdiction", "find_jurisdiction", "jurisdiction_forms", "mentions_jurisdiction"]

_US_STATES = [
    "Alabama",
    "Alaska",
    "Arizona",
    "Arkansas",
    "California",
    "Colorado",
    "Connecticut",
    "Delaware",
    "Florida",
    "Georgia",
    "Hawaii",
    "Idaho",
    "Illinois",
    "Indiana",
    "Iowa",
    "Kansas",
    "Kentucky",
    "Louisiana",
    "Maine",
    "Maryland",
    "Massachusetts",
    "Michigan",
    "Minnesota",
    "Mississippi",
    "Missouri",
    "Montana",
    "Nebraska",
    "Nevada",
    "Ohio",
    "Oklahoma",
    "Oregon",
    "Pennsylvania",
    "Tennessee",
    "Texas",
    "Utah",
    "Vermont",
    "Virginia",
    "Washington",
    "Wisconsin",
    "Wyoming",
    "New Hampshire",
    "New Jersey",
    "New Mexico",
    "New York",
    "North Carolina",
    "North Dakota",
    "Rhode Island",
    "South Carolina",
    "South Dakota",
    "West Virginia",
    "District of Columbia",
    "Puerto Rico",
]
_PROVINCES = [
    "Alberta",
    "British Columbia",
    "Manitoba",
    "New Brunswick",
    "Newfoundland and Labrador",
    "Nova Scotia",
    "Ontario",
    "Prince Edward Island",
    "Quebec",
    "Saskatchewan",
    "New South Wales",
    "Queensland",
    "Victoria",
    "Western Australia",
]
_COUNTRIES = [
    "England and Wales",
    "England",
    "Scotland",
    "Northern Ireland",
    "United Kingdom",
    "Ireland",
    "People's Republic of China",
    "China",
    "Hong Kong",
    "Macau",
    "Taiwan",
    "Singapore",
    "Japan",
    "Korea",
    "India",
    "Israel",
    "Germany",
    "France",
    "Italy",
    "Spain",
    "Netherlands",
    "Switzerland",
    "Sweden",
    "Denmark",
    "Norway",
    "Finland",
    "Belgium",
    "Luxembourg",
    "Austria",
    "Australia",
    "New Zealand",
    "Canada",
    "Mexico",
    "Brazil",
    "Cayman Islands",
    "British Virgin Islands",
    "Bermuda",
    "United States",
    "Papua New Guinea",
    "Colombia",
    "Kazakhstan",
    "Russian Federation",
    "Russia",
    "Ukraine",
    "Poland",
    "Czech Republic",
    "Hungary",
    "Greece",
    "Portugal",
    "Turkey",
    "Cyprus",
    "Malta",
    "Liechtenstein",
    "Monaco",
    "Iceland",
    "South Africa",
    "Egypt",
    "United Arab Emirates",
    "Saudi Arabia",
    "Qatar",
    "Philippines",
    "Malaysia",
    "Indonesia",
    "Thailand",
    "Vietnam",
    "Pakistan",
    "Nigeria",
    "Kenya",
    "Argentina",
    "Chile",
    "Peru",
    "Venezuela",
    "Panama",
    "Costa Rica",
    "Bahamas",
    "Barbados",
    "Jersey",
    "Guernsey",
    "Isle of Man",
]
# What drafters write instead of the name: "English law", "PRC Laws", "Chinese law".
_ALIASES = {
    "English": "England",
    "PRC": "People's Republic of China",
    "P.R.C.": "People's Republic of China",
    "Chinese": "China",
    "German": "Germany",
    "Japanese": "Japan",
    "Israeli": "Israel",
    "French": "France",
    "Swiss": "Switzerland",
    "Dutch": "Netherlands",
    "Scottish": "Scotland",
    "Irish": "Ireland",
    "Indian": "India",
    "Korean": "Korea",
    "Federal Republic of Germany": "Germany",
    "Republic of Korea": "Korea",
    "Republic of Singapore": "Singapore",
    "Hong Kong Special Administrative Region": "Hong Kong",
    "United States of America": "United States",
    "U.S.A.": "United States",
    "Commonwealth of Massachusetts": "Massachusetts",
    "R.O.C.": "Taiwan",
    "Republic of China": "Taiwan",
    "Colombian": "Colombia",
    "Mexican": "Mexico",
    "Italian": "Italy",
    "Spanish": "Spain",
    "Swedish": "Sweden",
    "Danish": "Denmark",
    "Norwegian": "Norway",
    "Finnish": "Finland",
    "Belgian": "Belgium",
    "Austrian": "Austria",
    "Russian": "Russia",
    "Brazilian": "Brazil",
    "Singaporean": "Singapore",
}
_ADJECTIVES = frozenset(
    word.casefold()
    for word in [
        "English",
        "Chinese",
        "German",
        "Japanese",
        "Israeli",
        "French",
        "Swiss",
        "Dutch",
        "Scottish",
        "Irish",
        "Indian",
        "Korean",
        "Colombian",
        "Mexican",
        "Italian",
        "Spanish",
        "Swedish",
        "Danish",
        "Norwegian",
        "Finnish",
        "Belgian",
        "Austrian",
        "Russian",
        "Brazilian",
        "Singaporean",
    ]
)
_NAMES: dict[str, str] = {
    **{name.casefold(): name for name in (*_US_STATES, *_PROVINCES, *_COUNTRIES)},
    **{alias.casefold(): name for alias, name in _ALIASES.items()},
}
_SPACE = r"[\s\u00a0]+"


def _pattern(name: str) -> str:
    return _SPACE.join(re.escape(part).replace("'", "['\u2019]") for part in name.split())


# Longest first, so "New York" wins over "York" and "England and Wales" over "England"; names
# are matched as whole words (the lookarounds keep "Indiana" from matching "India").
_MENTION = re.compile(
    r"(?<![\w.])(?P<name>"
    + "|".join(_pattern(name) for name in sorted(_NAMES, key=len, reverse=True))
    + r")(?![\w'\u2019])",
    re.IGNORECASE,
)
# A mention right after "laws of (the State of)" or right before "law(s)" is the governing one;
# "Washington" in "the laws of the State of Washington" beats "United States" in "the United
# States Trademark Act" earlier in the same sentence.
_AFTER_LAWS = re.compile(
    r"\b(?:laws?|legislation)[\s\u00a0]+(?:(?:in[\s\u00a0]+force[\s\u00a0]+)?(?:of|in)|applicable[\s\u00a0]+in|"
    r"prevailing[\s\u00a0]+in)?[\s\u00a0,]*(?:the[\s\u00a0]+)?"
    r"(?:(?:state|commonwealth|province|republic|kingdom|government|federal[\s\u00a0]+republic)"
    r"[\s\u00a0]+of[\s\u00a0]+)?(?:the[\s\u00a0]+)?$",
    re.IGNORECASE,
)
_BEFORE_LAW = re.compile(
    r"[\s\u00a0]+(?:substantive[\s\u00a0]+|private[\s\u00a0]+)?laws?\b", re.IGNORECASE
)
# "the laws of the United States and the State of Florida": the state's law governs the contract,
# the federal law only where it applies anyway.
_AND_STATE = re.compile(
    r"^(?:[\s\u00a0]+of[\s\u00a0]+america)?[\s\u00a0,]+(?:and|as[\s\u00a0]+well[\s\u00a0]+as)"
    r"[\s\u00a0]+(?:of[\s\u00a0]+)?(?:the[\s\u00a0]+)?(?:(?:state|commonwealth)[\s\u00a0]+of"
    r"[\s\u00a0]+)?(?:the[\s\u00a0]+)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Jurisdiction:
    name: str
    """The jurisdiction's usual name, e.g. "New York" for "the State of New York"."""
    start: int
    end: int
    """Where it is mentioned in the sentence."""


def _key(surface: str) -> str:
    return " ".join(surface.split()).replace("\u2019", "'").casefold()


def mentions_jurisdiction(text: str) -> bool:
    return _MENTION.search(text) is not None


def find_jurisdiction(sentence: str) -> Jurisdiction | None:
    """The jurisdiction whose law a governing-law sentence chooses, or None."""
    mentions = [
        Jurisdiction(_NAMES[_key(m.group("name"))], m.start(), m.end())
        for m in _MENTION.finditer(sentence)
        if _key(m.group("name")) in _NAMES
    ]
    mentions = [m for m in mentions if not _is_adjective_elsewhere(sentence, m)]
    if not mentions:
        return None
    for number, mention in enumerate(mentions):
        if _AFTER_LAWS.search(sentence[max(0, mention.start - 80) : mention.start]):
            following = mentions[number + 1] if number + 1 < len(mentions) else None
            if (
                mention.name == "United States"
                and following is not None
                and _AND_STATE.match(sentence[mention.end : following.start])
            ):
                return following
            return mention
    for mention in mentions:
        if _BEFORE_LAW.match(sentence, mention.end):
            return mention
    named = [m for m in mentions if m.name != "United States"]
    return (named or mentions)[0]


def _is_adjective_elsewhere(sentence: str, mention: Jurisdiction) -> bool:
    """ "English" names a jurisdiction before "law", not in "the English language"."""
    surface = sentence[mention.start : mention.end]
    return surface.casefold() in _ADJECTIVES and _BEFORE_LAW.match(sentence, mention.end) is None


def jurisdiction_forms(name: str) -> list[str]:
    """The ways a contract may write a jurisdiction: "People's Republic of China" is also "PRC",
    "England" also "English" (law), so a document that says "PRC Laws" grounds the usual name."""
    return [name, *(alias for alias, usual in _ALIASES.items() if usual == name)]
