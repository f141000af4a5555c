"""The evaluation as a terminal table and as JSON."""

from __future__ import annotations

from typing import Any

from charmelio.contract import CUAD_CATEGORIES
from operator_tools.evaluation._fields import FIELDS
from operator_tools.evaluation._matching import Counts
from operator_tools.evaluation._run import EvaluationReport


def _pct(value: float | None) -> str:
    return "   -" if value is None else f"{value:5.3f}"


def _row(name: str, counts: Counts) -> str:
    return (
        f"{name:<36} {counts.tp:>4} {counts.fp:>4} {counts.fn:>4}  "
        f"{_pct(counts.precision)}  {_pct(counts.recall)}  {_pct(counts.f1)}"
    )


def render(report: EvaluationReport) -> str:
    micro = report.micro
    lines = [
        f"CUAD evaluation: {len(report.contracts)} contracts, provider {report.provider}/"
        f"{report.model}, pages from {report.source}",
        "matching: word-overlap Jaccard >= 0.5 after normalisation (CUAD's rule; Parties also by "
        "containment)",
        "",
        f"{'CATEGORY':<36} {'TP':>4} {'FP':>4} {'FN':>4}  {'PREC':>5}  {'REC':>5}  {'F1':>5}",
    ]
    lines += [_row(name, report.category(name)) for name in CUAD_CATEGORIES]
    lines.append(_row("all categories (micro)", micro))
    parse_median, parse_max = report.seconds_per_contract("parse")
    extract_median, extract_max = report.seconds_per_contract("extract")
    lines += [
        "",
        f"micro F1                  {_pct(micro.f1)}",
        f"macro F1                  {_pct(report.macro_f1)}  (mean over categories with labels "
        "or predictions)",
        f"clause presence accuracy  {_pct(report.presence_accuracy)}  "
        f"({len(report.contracts)} contracts x {len(CUAD_CATEGORIES)} categories)",
    ]
    for name in FIELDS:
        correct, total = report.field_accuracy(name)
        if total:
            label = f"{name} accuracy"
            lines.append(f"{label:<25} {_pct(correct / total)}  ({correct}/{total})")
    lines += [
        f"quotes verified           {_pct(report.verified_share)}  "
        f"({sum(c.candidate_quotes - c.quotes_dropped for c in report.contracts)}"
        f"/{sum(c.candidate_quotes for c in report.contracts)} claimed quotes found in the text)",
        f"seconds per contract      extract median {extract_median:.3f}, max {extract_max:.3f}; "
        f"parse median {parse_median:.3f}, max {parse_max:.3f}",
    ]
    usage = report.usage
    if usage.requests:
        lines += [
            f"provider usage            {usage.requests} request(s), {usage.tokens:,} tokens "
            f"({usage.prompt_tokens:,} prompt + {usage.completion_tokens:,} completion)",
            "",
            f"{'CONTRACT':<60} {'PAGES':>5} {'REQ':>4} {'PROMPT':>8} {'COMPL':>7}  F1",
        ]
        lines += [
            f"{c.slug[:60]:<60} {c.pages:>5} {c.usage.requests:>4} {c.usage.prompt_tokens:>8,}"
            f" {c.usage.completion_tokens:>7,}  {_pct(c.total.f1)}"
            for c in report.contracts
        ]
    for failed in report.errors:
        lines.append(f"FAILED {failed.slug}: {failed.error}")
    return "\n".join(lines)


def _counts(counts: Counts) -> dict[str, Any]:
    return {
        "tp": counts.tp,
        "fp": counts.fp,
        "fn": counts.fn,
        "precision": counts.precision,
        "recall": counts.recall,
        "f1": counts.f1,
    }


def as_json(report: EvaluationReport) -> dict[str, Any]:
    return {
        "provider": report.provider,
        "model": report.model,
        "source": report.source,
        "contracts": len(report.contracts),
        "micro": _counts(report.micro),
        "macro_f1": report.macro_f1,
        "presence_accuracy": report.presence_accuracy,
        "quotes_verified": report.verified_share,
        "usage": report.usage.model_dump(),
        "fields": {
            name: dict(zip(("correct", "total"), report.field_accuracy(name), strict=True))
            for name in FIELDS
        },
        "categories": {name: _counts(report.category(name)) for name in CUAD_CATEGORIES},
        "per_contract": [
            {
                "slug": c.slug,
                "pages": c.pages,
                "parse_seconds": round(c.parse_seconds, 4),
                "extract_seconds": round(c.extract_seconds, 4),
                **_counts(c.total),
                "error": c.error,
                "usage": c.usage.model_dump(),
                "fields": {
                    o.field: {"ok": o.correct, "expected": o.expected, "got": o.got}
                    for o in c.fields
                },
            }
            for c in report.contracts
        ],
    }
