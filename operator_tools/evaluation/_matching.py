"""CUAD's matching rule: a predicted clause matches a labelled span when their words overlap.

CUAD (Hendrycks et al. 2021, ``evaluate.py``) compares lower-cased word sets with Jaccard
similarity and counts a match at 0.5 or more; for "Parties" a prediction that contains the label
also matches. Text read from a PDF differs from CUAD's own text in line breaks, hyphens and
punctuation, so both sides are reduced to their letters-and-digits words first (NFKC, case-folded).

Counting follows CUAD too: a label is a true positive when any prediction of its category matches
it, a false negative otherwise; a prediction that matches no label is a false positive (several
predictions matching one label count once, not as false positives).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

MATCH_THRESHOLD = 0.5
SUBSTRING_CATEGORIES = frozenset({"Parties"})
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The letters-and-digits words of `text`, case-folded and NFKC-normalised, in order."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def jaccard(left: str, right: str) -> float:
    a, b = set(words(left)), set(words(right))
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def _contains(prediction: str, label: str) -> bool:
    needle = " ".join(words(label))
    return bool(needle) and f" {needle} " in f" {' '.join(words(prediction))} "


def is_match(prediction: str, label: str, category: str) -> bool:
    if jaccard(prediction, label) >= MATCH_THRESHOLD:
        return True
    return category in SUBSTRING_CATEGORIES and _contains(prediction, label)


@dataclass(frozen=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        """None when the category has neither labels nor predictions (nothing to score)."""
        if not (self.tp or self.fp or self.fn):
            return None
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn)


def score_spans(predictions: Sequence[str], labels: Sequence[str], category: str) -> Counts:
    """One contract, one category: CUAD's true positives, false positives and false negatives."""
    tp = sum(1 for label in labels if any(is_match(p, label, category) for p in predictions))
    fp = sum(1 for p in predictions if not any(is_match(p, label, category) for label in labels))
    return Counts(tp=tp, fp=fp, fn=len(labels) - tp)
