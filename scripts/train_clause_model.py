#!/usr/bin/env python
"""Train the offline extractor's clause classifier on CUAD's training contracts.

    .venv/bin/pip install -e '.[train]'
    .venv/bin/python scripts/train_clause_model.py ../shared/data/cuad-train.jsonl.gz

Splits the training file in file order (deterministic, no shuffling):

- fit:        the first 300 contracts train a logistic regression per CUAD category;
- validation: the next 95 choose each category's policy (rules, model or both; the probability a
  model finding needs; how many per contract), by CUAD F1 on those contracts;
- held out:   the last 60 are never used for fitting or choosing; their score is printed.

The shipped model is then refitted on fit + validation with the same settings and policies, written
to ``llm_worker/models/clause_model.json.gz``, and scored on the held-out slice again. The
15 development contracts (tests/fixtures/cuad) are not in the training file and are not used here:
score them with ``charmelio eval``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from charmelio.contract import CUAD_CATEGORIES
from llm_worker import RulesExtractor
from llm_worker.model_training import (
    FORMAT_VERSION,
    MODEL_FILE,
    ClauseModel,
    clause_sentences,
    sentence_features,
)
from operator_tools.evaluation import CuadContract, evaluate, read_training_file, render, words
from operator_tools.evaluation._cuad import TRAINING_FILE_SPLITS
from operator_tools.evaluation._run import document_id_for, pages_from_text

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "llm_worker" / "models" / MODEL_FILE
FIT, VALIDATION, HELD_OUT = (
    TRAINING_FILE_SPLITS[name] for name in ("fit", "validation", "held-out")
)
MIN_DOCUMENT_FREQUENCY = 3
REGULARISATION_C = 4.0
FEATURES_PER_CATEGORY = 2500
THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8)
MAX_FINDINGS = (1, 2, 3, 4, 6, 8)
SEED = 20260127
# How much a wrong "the contract has this clause" costs against CUAD F1 when choosing a policy.
PRESENCE_WEIGHT = 2.0


@dataclass
class Prepared:
    """One contract as the extractor sees it, with CUAD's labels matched against its sentences."""

    contract: CuadContract
    features: list[set[str]]
    texts: list[str]
    rule_quotes: dict[str, list[str]]
    labels: dict[str, list[set[str]]]


def prepare(contract: CuadContract) -> Prepared:
    pages = pages_from_text(contract.text, document_id_for(contract.slug))
    clauses = clause_sentences(pages)
    rules = RulesExtractor(model=None).extract(pages)
    rule_quotes: dict[str, list[str]] = {}
    for finding in rules.findings:
        rule_quotes.setdefault(finding.category, []).append(finding.quote)
    return Prepared(
        contract=contract,
        features=[
            sentence_features(c.sentence.text, c.previous, c.heading, c.position, c.rules)
            for c in clauses
        ],
        texts=[c.sentence.text for c in clauses],
        rule_quotes=rule_quotes,
        labels={c: [set(words(s)) for s in contract.spans.get(c, ())] for c in CUAD_CATEGORIES},
    )


def _matches(text_words: set[str], label: set[str], category: str, text: str, raw: str) -> bool:
    union = text_words | label
    if union and len(text_words & label) / len(union) >= 0.5:
        return True
    if category == "Parties":
        needle = " ".join(words(raw))
        return bool(needle) and f" {needle} " in f" {' '.join(words(text))} "
    return False


def sentence_targets(prepared: Sequence[Prepared]) -> dict[str, np.ndarray]:
    """1 where predicting the sentence would be a CUAD true positive for the category."""
    rows = sum(len(p.texts) for p in prepared)
    targets = {c: np.zeros(rows, dtype=np.int8) for c in CUAD_CATEGORIES}
    offset = 0
    for p in prepared:
        for category in CUAD_CATEGORIES:
            raws = p.contract.spans.get(category, ())
            for i, text in enumerate(p.texts):
                text_words = set(words(text))
                if any(
                    _matches(text_words, label, category, text, raw)
                    for label, raw in zip(p.labels[category], raws, strict=True)
                ):
                    targets[category][offset + i] = 1
        offset += len(p.texts)
    return targets


def vocabulary(prepared: Sequence[Prepared]) -> dict[str, int]:
    frequency: Counter[str] = Counter()
    for p in prepared:
        for features in p.features:
            frequency.update(features)
    kept = sorted(f for f, n in frequency.items() if n >= MIN_DOCUMENT_FREQUENCY)
    return {feature: index for index, feature in enumerate(kept)}


def matrix(prepared: Sequence[Prepared], vocab: dict[str, int]) -> sparse.csr_matrix:
    data: list[float] = []
    columns: list[int] = []
    pointers = [0]
    for p in prepared:
        for features in p.features:
            scale = 1.0 / math.sqrt(len(features))
            known = sorted(vocab[f] for f in features if f in vocab)
            columns += known
            data += [scale] * len(known)
            pointers.append(len(columns))
    return sparse.csr_matrix(
        (np.array(data), np.array(columns), np.array(pointers)),
        shape=(len(pointers) - 1, len(vocab)),
    )


def fit(prepared: Sequence[Prepared]) -> dict[str, Any]:
    """Weights per category, pruned to the strongest features, as the model file stores them."""
    vocab = vocabulary(prepared)
    names = sorted(vocab, key=vocab.__getitem__)
    x = matrix(prepared, vocab)
    targets = sentence_targets(prepared)
    bias: dict[str, float] = {}
    weights: dict[str, dict[str, float]] = {}
    for category in CUAD_CATEGORIES:
        y = targets[category]
        if y.sum() < 2:
            bias[category], weights[category] = -20.0, {}
            continue
        model = LogisticRegression(
            C=REGULARISATION_C, solver="liblinear", max_iter=1000, random_state=SEED
        )
        model.fit(x, y)
        coef = model.coef_[0]
        strongest = np.argsort(-np.abs(coef), kind="stable")[:FEATURES_PER_CATEGORY]
        bias[category] = round(float(model.intercept_[0]), 4)
        weights[category] = {
            names[i]: round(float(coef[i]), 4) for i in sorted(strongest) if abs(coef[i]) >= 1e-3
        }
        print(f"  {category:<36} {int(y.sum()):>5} positive sentences", file=sys.stderr)
    return {"categories": list(CUAD_CATEGORIES), "bias": bias, "weights": weights}


def _model(trained: dict[str, Any], policies: dict[str, Any]) -> ClauseModel:
    return ClauseModel(
        {"format": FORMAT_VERSION, "version": "tmp", **trained, "policies": policies}
    )


@dataclass(frozen=True)
class Outcome:
    tp: int
    fp: int
    fn: int
    presence_errors: int

    @property
    def f1(self) -> float:
        return (
            2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp + self.fp + self.fn else 1.0
        )


def _score(predictions: list[str], p: Prepared, category: str) -> tuple[int, int, int, int]:
    raws = p.contract.spans.get(category, ())
    labels = p.labels[category]
    matched = [[False] * len(labels) for _ in predictions]
    for i, text in enumerate(predictions):
        text_words = set(words(text))
        for j, (label, raw) in enumerate(zip(labels, raws, strict=True)):
            matched[i][j] = _matches(text_words, label, category, text, raw)
    tp = sum(1 for j in range(len(labels)) if any(row[j] for row in matched))
    fp = sum(1 for row in matched if not any(row))
    return tp, fp, len(labels) - tp, int(bool(predictions) != bool(labels))


def choose_policies(trained: dict[str, Any], validation: Sequence[Prepared]) -> dict[str, Any]:
    model = _model(trained, {})
    probabilities = []
    for p in validation:
        clauses = clause_sentences(pages_from_text(p.contract.text, "v"))
        probabilities.append(
            [
                model.probabilities(c.sentence.text, c.previous, c.heading, c.position, c.rules)
                for c in clauses
            ]
        )
    policies: dict[str, Any] = {}
    for column, category in enumerate(CUAD_CATEGORIES):
        options: list[tuple[tuple[float, int, int], dict[str, Any]]] = []

        def outcome(choose: Any, c: str = category) -> Outcome:
            total = [0, 0, 0, 0]
            for p, scores in zip(validation, probabilities, strict=True):
                for k, value in enumerate(_score(choose(p, scores), p, c)):
                    total[k] += value
            return Outcome(*total)

        def rules_only(p: Prepared, scores: list[list[float]], c: str = category) -> list[str]:
            return list(dict.fromkeys(p.rule_quotes.get(c, [])))

        candidates: list[tuple[dict[str, Any], Any]] = [
            ({"source": "rules", "threshold": 1.0, "max_findings": 0}, rules_only)
        ]
        for threshold in THRESHOLDS:
            for limit in MAX_FINDINGS:

                def top(
                    p: Prepared,
                    scores: list[list[float]],
                    t: float = threshold,
                    k: int = limit,
                    col: int = column,
                ) -> list[str]:
                    ranked = sorted(range(len(scores)), key=lambda i: -scores[i][col])
                    chosen: list[str] = []
                    for i in ranked:
                        if scores[i][col] < t or len(chosen) == k:
                            break
                        # As the extractor does: a sentence's copies are one finding.
                        if p.texts[i] not in chosen:
                            chosen.append(p.texts[i])
                    return chosen

                def union(
                    p: Prepared,
                    scores: list[list[float]],
                    t: float = threshold,
                    k: int = limit,
                    col: int = column,
                ) -> list[str]:
                    return list(dict.fromkeys(rules_only(p, scores) + top(p, scores, t, k, col)))

                policy = {"threshold": threshold, "max_findings": limit}
                candidates.append(({"source": "model", **policy}, top))
                candidates.append(({"source": "union", **policy}, union))
        for rank, (policy, choose) in enumerate(candidates):
            result = outcome(choose)
            # CUAD F1 less the (weighted) share of contracts whose presence the policy gets wrong
            # (users read "has a non-compete" off the findings too), then the simplest candidate.
            objective = result.f1 - PRESENCE_WEIGHT * result.presence_errors / len(validation)
            options.append(((round(objective, 6), -result.presence_errors, -rank), policy))
        best_key, best = max(options, key=lambda option: option[0])
        policies[category] = best
        print(
            f"  {category:<36} {best['source']:<6} t={best['threshold']:<5} "
            f"k={best['max_findings']:<2} validation F1 - presence errors {best_key[0]:.3f}",
            file=sys.stderr,
        )
    return policies


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("training_file", type=Path)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    started = time.monotonic()
    contracts = list(read_training_file(args.training_file))
    if len(contracts) < HELD_OUT.stop:
        print(f"need {HELD_OUT.stop} contracts, the file has {len(contracts)}", file=sys.stderr)
        return 2
    print(f"preparing {len(contracts)} contracts ...", file=sys.stderr)
    prepared = [prepare(c) for c in contracts]
    print("fitting on the first 300 ...", file=sys.stderr)
    trained = fit(prepared[FIT])
    print("choosing policies on the next 95 ...", file=sys.stderr)
    policies = choose_policies(trained, prepared[VALIDATION])
    print("refitting on all 395 ...", file=sys.stderr)
    final = fit(prepared[FIT.start : VALIDATION.stop])
    body = {"format": FORMAT_VERSION, **final, "policies": policies}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:10]
    document = {
        "format": FORMAT_VERSION,
        "version": f"cuad-lr-{digest}",
        "source": "Trained on CUAD v1 (The Atticus Project, CC BY 4.0) by "
        "scripts/train_clause_model.py; see llm_worker/models/README.md",
        **final,
        "policies": policies,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    args.output.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    print(f"wrote {args.output} ({args.output.stat().st_size:,} bytes)", file=sys.stderr)
    held_out = contracts[HELD_OUT]
    model = ClauseModel(document)
    print(render(evaluate(held_out, RulesExtractor(model=model), source="text")))
    print(f"\nheld-out: the last {len(held_out)} contracts of the training file, never fitted on.")
    print(f"trained in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
