"""Field accuracy against CUAD's normalised answers: parties, dates and governing law.

CUAD answers are terse human summaries (``'Florida Chemical Company, LLC ("FCC"); Flotek
Chemistry LLC ("Flotek")'``, ``'2/28/19'``, ``'Delaware'``), so each comparison reduces both sides
to words first. A field is correct when the extraction says exactly what CUAD says once both are
normalised (words, case, "the State of"), including saying nothing when CUAD has no (or no exact)
value, e.g. an expiration that is "Perpetual".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from charmelio.contract import ExtractionResult
from operator_tools.evaluation._cuad import CuadContract
from operator_tools.evaluation._matching import jaccard, words

FIELDS = ("parties", "effective_date", "expiration_date", "governing_law")
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


def answer_parties(answer: str) -> list[str]:
    """Party names from CUAD's answer, without their defined terms and collective references."""
    names = []
    for item in answer.split(";"):
        alias = _ALIAS_START.search(item)
        name = item[: alias.start()] if alias else item
        name = name.strip(" ,")
        collective = alias is not None and "collectively" in item[alias.start() :].lower()
        if not words(name) or (collective and " and " in name):
            continue
        names.append(name)
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


def score_fields(contract: CuadContract, result: ExtractionResult) -> list[FieldOutcome]:
    answers = contract.answers
    predicted_parties = [party.name for party in result.parties]
    gold_parties = answer_parties(answers.get("Parties", ""))
    effective = answer_date(answers.get("Effective Date", ""))
    expiration = answer_date(answers.get("Expiration Date", ""))
    law = answers.get("Governing Law", "")
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
            "expiration_date",
            result.termination_date == expiration,
            str(expiration or ""),
            str(result.termination_date or ""),
        ),
        FieldOutcome(
            "governing_law",
            governing_law_correct(result.governing_law, law),
            law,
            result.governing_law or "",
        ),
    ]
