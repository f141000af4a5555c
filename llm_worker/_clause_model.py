"""A small trained clause classifier: logistic regression over the words of one sentence.

Trained by ``scripts/train_clause_model.py`` on CUAD v1 contracts (The Atticus Project, CC BY 4.0;
see ``models/README.md``) and shipped as sparse weights in ``models/clause_model.json.gz``.
Scoring needs no numerical library: a sentence's features are its words, word pairs, the words
of the sentence before it and of the heading above it, its place in the contract and the rules
that match it (`sentence_features`), each weighted ``1 / sqrt(number of features)``, so a score is
a sum of dictionary look-ups. The trainer builds its matrix with `sentence_features` too,
which is what keeps training and run time in agreement.

Each category also carries the decision policy chosen on a validation slice of the training data:
whether the rules, the model, or both name its clauses, the probability a model finding needs, and
how many it may name per contract.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import pairwise
from typing import Any, Literal

from charmelio.contract import CUAD_CATEGORIES

MODEL_FILE = "clause_model.json.gz"
FORMAT_VERSION = 2
_TOKEN = re.compile(r"[a-z]+|[0-9]+")
_MAX_TOKENS = 200
_CONTEXT_TOKENS = 12
_HEADING_TOKENS = 8
_POSITION_BUCKETS = 5

Source = Literal["rules", "model", "union"]


def _tokens(text: str) -> list[str]:
    return ["0" if token[0].isdigit() else token for token in _TOKEN.findall(text.lower())]


def sentence_features(
    text: str,
    previous: str = "",
    heading: str = "",
    position: float | None = None,
    rules: Iterable[str] = (),
) -> set[str]:
    """The features of one sentence: words, adjacent word pairs, the previous sentence's words,
    the words of the heading it sits under, where in the contract it is and which categories'
    hand-written rules match it.

    The heading ("Term and Termination", "Exclusivity") names the clause a sentence belongs to
    when the sentence itself does not ("Either party may end it on 30 days' notice"); position
    separates the recitals and definitions up front from the boilerplate at the end; a rule's
    match lets the model learn how far to trust that rule, category by category.
    """
    tokens = _tokens(text)[:_MAX_TOKENS]
    features = set(tokens)
    features.update(f"{a} {b}" for a, b in pairwise(tokens))
    features.update(f"p:{token}" for token in _tokens(previous)[:_CONTEXT_TOKENS])
    features.update(f"h:{token}" for token in _tokens(heading)[:_HEADING_TOKENS])
    if position is not None:
        features.add(f"pos:{min(int(position * _POSITION_BUCKETS), _POSITION_BUCKETS - 1)}")
    features.update(f"r:{category}" for category in rules)
    length = len(tokens)
    features.add("len:" + ("s" if length < 12 else "m" if length < 40 else "l"))
    return features


@dataclass(frozen=True)
class CategoryPolicy:
    source: Source
    threshold: float
    max_findings: int


class ClauseModel:
    """Per-category probabilities for sentences, and the policy for turning them into findings."""

    def __init__(self, data: dict[str, Any]) -> None:
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported clause model format {data.get('format')!r}")
        self.version: str = str(data["version"])
        self.categories: tuple[str, ...] = tuple(data["categories"])
        unknown = set(self.categories) - set(CUAD_CATEGORIES)
        if unknown:
            raise ValueError(f"the clause model names unknown categories: {sorted(unknown)}")
        self._bias = [float(data["bias"][c]) for c in self.categories]
        self.policies = {
            name: CategoryPolicy(p["source"], float(p["threshold"]), int(p["max_findings"]))
            for name, p in data["policies"].items()
        }
        index = {name: i for i, name in enumerate(self.categories)}
        self.ranked = frozenset(
            index[name]
            for name, policy in self.policies.items()
            if name in index and policy.source in ("model", "union")
        )
        """Columns whose policy ranks every sentence by the model; the others (rules only) need
        a probability only where their rule matched, and scoring them everywhere would cost a
        quarter of the work on a long contract."""
        ranked: dict[str, list[tuple[int, float]]] = {}
        others: dict[str, list[tuple[int, float]]] = {}
        for name, weights in data["weights"].items():
            table = ranked if index[name] in self.ranked else others
            for feature, weight in weights.items():
                table.setdefault(feature, []).append((index[name], float(weight)))
        self._ranked_postings = ranked
        self._other_postings = others

    def probabilities(
        self,
        text: str,
        previous: str = "",
        heading: str = "",
        position: float | None = None,
        rules: Iterable[str] = (),
        *,
        ranked_only: bool = False,
    ) -> list[float]:
        """P(category) for the sentence, in `categories` order; with `ranked_only`, only the
        `ranked` columns are computed and the others are 0.0."""
        features = sentence_features(text, previous, heading, position, rules)
        scale = 1.0 / math.sqrt(len(features))
        totals = [0.0] * len(self.categories)
        tables = (
            (self._ranked_postings,)
            if ranked_only
            else (
                self._ranked_postings,
                self._other_postings,
            )
        )
        for table in tables:
            postings_of = table.get
            for feature in features:
                postings = postings_of(feature)
                if postings is not None:
                    for category, weight in postings:
                        totals[category] += weight
        return [
            0.0 if ranked_only and column not in self.ranked else _sigmoid(bias + total * scale)
            for column, (bias, total) in enumerate(zip(self._bias, totals, strict=True))
        ]


def _sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp = math.exp(value)
    return exp / (1.0 + exp)


@lru_cache(maxsize=1)
def load_clause_model() -> ClauseModel:
    """The shipped model (package data; read once per process, never downloaded)."""
    raw = resources.files("llm_worker").joinpath("models", MODEL_FILE).read_bytes()
    return ClauseModel(json.loads(gzip.decompress(raw)))
