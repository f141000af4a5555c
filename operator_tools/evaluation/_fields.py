"""Field accuracy against CUAD's normalised answers: parties, dates, renewal and governing law.

CUAD answers are terse human summaries (``'Florida Chemical Company, LLC ("FCC"); Flotek
Chemistry LLC ("Flotek")'``, ``'2/28/19'``, ``'Delaware'``), so each comparison reduces both sides
to words first. A field is correct when the extraction says exactly what CUAD says once both are
normalised (words, case, "the State of"), including saying nothing when CUAD has no (or no exact)
value. An expiration CUAD calls "Perpetual" is right only when the result says `perpetual` (and no
date). Renewal terms and notice periods are compared by length and by whether renewals repeat
("successive one (1) year periods" is CUAD's "successive 1 year"; 12 months is 1 year).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from charmelio.contract import ExtractionResult
from operator_tools.evaluation._cuad import CuadContract
from operator_tools.evaluation._matching import jaccard, words

FIELDS = (
    "parties",
    "agreement_date",
    "effective_date",
    "expiration_date",
    "renewal_term",
    "renewal_notice_period",
    "governing_law",
)
_US_DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\s*$")
_ALIAS_START = re.compile(r"[(\"\u201c\u201d]")


def answer_date(answer: str) -> date | None:
    """CUAD's ``m/d/yy`` answer as a date; None for blanks, "Perpetual" and redacted dates."""
    match = _US_DATE.match(answer)
    if not match:
        return None
    month, day, year = (int(group) for group in match.groups())
    if year < 100:
        year += 1900 if year >= 70 else 2000
    try:
        return date(year, month, day)
    except ValueError:
        return None


# A parenthesis inside a name, not its defined term: "GALEN (CHEMICALS) LIMITED", "Baidu Online
# Network Technology (Beijing) Co., Ltd.".
_NAME_PARENTHESIS = re.compile(
    r"\([^()\"\u201c\u201d]{1,40}\)[ \t]*(?i:inc|llc|ltd|limited|co|corp|corporation|company|plc"
    r"|l\.?p|gmbh|ag|s\.?a|b\.?v|n\.?v|pty|pte|a/s)(?![^\W_])"
)
_QUOTED = re.compile(r"[\"\u201c\u201d]\s*([^\"\u201c\u201d]+?)\s*[\"\u201c\u201d]")
_COLLECTIVE_TERMS = frozenset({"party", "parties", "a party", "the parties", "the party"})
# The words of "individually as a", "collectively, the", "Each of the foregoing parties is referred
# to herein as a": how an answer introduces the collective term, naming nobody.
_REFERENCE_WORDS = frozenset(
    {"individually", "collectively", "each", "jointly", "together", "separately", "singularly"}
    | {"referred", "to", "as", "the", "a", "an", "and", "or", "herein", "hereinafter", "hereto"}
    | {"be", "shall", "may", "are", "is", "sometimes", "both", "of", "them", "foregoing"}
    | {"parties", "party", "with", "also"}
)
_REFERENCE = re.compile(r"\b(?:referred|collectively|individually|jointly|each)\b", re.IGNORECASE)
_JOIN = re.compile(r"\s+(?:and\s+)?together\s+with\s+|\s+and\s+")


@dataclass(frozen=True)
class _AnswerItem:
    name: str
    terms: tuple[str, ...]
    collective: bool


def _answer_item(item: str) -> _AnswerItem:
    stripped = item.lstrip()
    if stripped.startswith("(") and stripped.count("(") > stripped.count(")"):
        # The whole answer in parentheses: '(DGT Corp. ("DGT"); Dolphin Industries Limited ...'.
        item = stripped[1:]
    position = 0
    while (alias := _ALIAS_START.search(item, position)) is not None:
        inside = _NAME_PARENTHESIS.match(item, alias.start()) if alias.group() == "(" else None
        if inside is None:
            break
        position = inside.end()
    name = (item[: alias.start()] if alias else item).strip(" ,")
    rest = item[alias.start() :] if alias else ""
    terms = tuple(term.strip(" .,:").lower() for term in _QUOTED.findall(rest))
    return _AnswerItem(name, terms, "collectively" in rest.lower())


def _names_others(name: str, others: list[list[str]]) -> bool:
    """ "Stryker and Conformis", "Lender, Endorser and Fitness": the other items, listed."""

    def known(part: str) -> bool:
        pieces = [piece for piece in part.split(",") if words(piece)]
        return words(part) in others or (len(pieces) >= 2 and all(known(p) for p in pieces))

    parts = [part for part in _JOIN.split(name) if words(part)]
    if len(parts) == 1:
        parts = [part for part in name.split(",") if words(part)]
    return len(parts) >= 2 and all(known(part) for part in parts)


def _is_collective(item: _AnswerItem, others: list[list[str]]) -> bool:
    name_words = words(item.name)
    if item.collective and " and " in item.name:
        return True
    if set(name_words) <= _REFERENCE_WORDS:
        return True
    listed = " and " in item.name or item.name.count(",") >= 2
    only_collective = bool(item.terms) and all(t in _COLLECTIVE_TERMS for t in item.terms)
    if only_collective and (listed or _REFERENCE.search(item.name)):
        return True
    return _names_others(item.name, others)


def answer_parties(answer: str) -> list[str]:
    """Party names from CUAD's answer, without their defined terms and collective references.

    CUAD's answers often list the collective term as if it were a party ("Stryker and Conformis
    ("Parties")", "individually as a", "Each of the foregoing parties is referred to herein as a"):
    such an item names no party beyond the others, so it is not one a result must name.
    """
    items = [_answer_item(item) for item in answer.split(";")]
    names = []
    for number, item in enumerate(items):
        if not words(item.name):
            continue
        others = [
            words(text)
            for other_number, other in enumerate(items)
            if other_number != number
            for text in (other.name, *other.terms)
        ]
        if not _is_collective(item, others):
            names.append(item.name)
    return names


def _same_party(predicted: str, gold: str) -> bool:
    if jaccard(predicted, gold) >= 0.5:
        return True
    # "Glamis Gold Ltd." for "Glamis Gold Ltd. and all of its subsidiaries and other Affiliates"
    shorter, longer = sorted((words(predicted), words(gold)), key=len)
    return len(shorter) >= 2 and " ".join(shorter) in " ".join(longer)


def parties_correct(predicted: Sequence[str], gold: Sequence[str]) -> bool:
    """Every party CUAD names is found, and every party found is one CUAD names."""
    return all(any(_same_party(p, g) for p in predicted) for g in gold) and all(
        any(_same_party(p, g) for g in gold) for p in predicted
    )


_JURISDICTION_FILLER = frozenset({"the", "state", "of", "commonwealth", "province", "laws"})


def _jurisdiction_words(text: str) -> frozenset[str]:
    return frozenset(words(text)) - _JURISDICTION_FILLER


def governing_law_correct(predicted: str | None, gold: str) -> bool:
    """Exact after normalisation: "State of New York" is "New York" (never "New"), and
    "Ontario" is "Ontario, Canada" (the jurisdiction before the country); nothing is nothing."""
    mine = _jurisdiction_words(predicted or "")
    accepted = {_jurisdiction_words(gold), _jurisdiction_words(gold.split(",")[0])}
    if not mine or not _jurisdiction_words(gold):
        return not mine and not _jurisdiction_words(gold)
    return mine in accepted


@dataclass(frozen=True)
class FieldOutcome:
    field: str
    correct: bool
    expected: str
    got: str


_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve".split()  # noqa: SIM905
    )
} | {"fifteen": 15, "eighteen": 18, "twenty": 20, "thirty": 30, "sixty": 60, "ninety": 90}
_DURATION = re.compile(
    r"\b(?P<count>\d{1,3}|[a-z]+)(?:-[a-z]+)?\s*(?:\(\s*(?P<digits>\d{1,3})\s*\))?[\s-]*"
    r"(?:calendar\s+|business\s+)?(?P<unit>year|month|week|day)s?\b",
    re.IGNORECASE,
)
_UNIT_LENGTH = {"day": ("days", 1), "week": ("days", 7), "month": ("months", 1)}
_UNIT_LENGTH["year"] = ("months", 12)


def duration_of(text: str | None) -> tuple[bool, str, int] | None:
    """(repeats, unit, length) of "successive one (1) year periods": (True, "months", 12)."""
    match = _DURATION.search(text or "")
    if match is None:
        return None
    count = match.group("digits") or match.group("count").lower()
    value = int(count) if count.isdigit() else _NUMBER_WORDS.get(count)
    if value is None:
        return None
    repeats = re.search(r"\b(?:successive|consecutive)\b", text or "", re.IGNORECASE) is not None
    unit, per = _UNIT_LENGTH[match.group("unit").lower()]
    return repeats, unit, value * per


def _same_duration(predicted: str | None, gold: str, *, repeats: bool) -> bool:
    mine, theirs = duration_of(predicted), duration_of(gold)
    if mine is None or theirs is None:
        return mine is None and theirs is None
    return mine == theirs if repeats else mine[1:] == theirs[1:]


def _expiration_correct(result: ExtractionResult, answer: str) -> bool:
    if answer.strip().lower() == "perpetual":
        return result.perpetual and result.termination_date is None
    return result.termination_date == answer_date(answer) and not (
        result.perpetual and answer_date(answer) is not None
    )


def score_fields(contract: CuadContract, result: ExtractionResult) -> list[FieldOutcome]:
    answers = contract.answers
    predicted_parties = [party.name for party in result.parties]
    gold_parties = answer_parties(answers.get("Parties", ""))
    effective = answer_date(answers.get("Effective Date", ""))
    expiration = answer_date(answers.get("Expiration Date", ""))
    law = answers.get("Governing Law", "")
    agreement = answer_date(answers.get("Agreement Date", ""))
    expiration_answer = answers.get("Expiration Date", "")
    renewal = answers.get("Renewal Term", "")
    notice = answers.get("Notice Period to Terminate Renewal", "")
    expiration_got = "perpetual" if result.perpetual else str(result.termination_date or "")
    return [
        FieldOutcome(
            "parties",
            parties_correct(predicted_parties, gold_parties),
            "; ".join(gold_parties),
            "; ".join(predicted_parties),
        ),
        FieldOutcome(
            "effective_date",
            result.effective_date == effective,
            str(effective or ""),
            str(result.effective_date or ""),
        ),
        FieldOutcome(
            "agreement_date",
            result.agreement_date == agreement,
            str(agreement or ""),
            str(result.agreement_date or ""),
        ),
        FieldOutcome(
            "expiration_date",
            _expiration_correct(result, expiration_answer),
            "perpetual"
            if expiration_answer.strip().lower() == "perpetual"
            else str(expiration or ""),
            expiration_got,
        ),
        FieldOutcome(
            "renewal_term",
            _same_duration(result.renewal_term, renewal, repeats=True),
            renewal,
            result.renewal_term or "",
        ),
        FieldOutcome(
            "renewal_notice_period",
            _same_duration(result.renewal_notice_period, notice, repeats=False),
            notice,
            result.renewal_notice_period or "",
        ),
        FieldOutcome(
            "governing_law",
            governing_law_correct(result.governing_law, law),
            law,
            result.governing_law or "",
        ),
    ]
