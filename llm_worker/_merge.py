"""One `ProviderOutput` from the outputs of several chunks of the same contract.

Overlapping chunks see the same edge pages, so the same clause can come back twice: findings are
deduplicated by category and normalised quote (the most confident copy is kept), topic clauses keep
the most confident candidate, parties are merged by normalised name, and single-valued fields
(dates, term, renewal, governing law, and the quote each was read from) come from the earliest
chunk that has them, since a contract states them in its opening pages. Token counts add up;
`chunks_read` says how many requests were read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from statistics import fmean
from typing import TypeVar

from charmelio.contract import Party
from llm_worker._evidence import normalise
from llm_worker._provider import CandidateFinding, CandidateQuote, CandidateTopic, ProviderOutput

_T = TypeVar("_T")


def _first(values: Sequence[_T | None]) -> _T | None:
    return next((value for value in values if value is not None), None)


def _field_quotes(outputs: Sequence[ProviderOutput]) -> dict[str, CandidateQuote]:
    """Each field's quote from the chunk its value comes from: the earliest that has one."""
    quotes: dict[str, CandidateQuote] = {}
    for output in outputs:
        for name, quote in output.field_quotes.items():
            if name in quotes:
                continue
            if getattr(output, name, None) not in (None, False):
                quotes[name] = quote
    return quotes


def merge_outputs(outputs: Sequence[ProviderOutput]) -> ProviderOutput:
    if not outputs:
        raise ValueError("nothing to merge")
    if len(outputs) == 1:
        return replace(outputs[0], chunks_read=1)
    findings: dict[tuple[str, str], CandidateFinding] = {}
    for output in outputs:
        for finding in output.findings:
            key = (finding.category, normalise(finding.quote))
            if key not in findings or findings[key].confidence < finding.confidence:
                findings[key] = finding
    topics: dict[str, CandidateTopic] = {}
    for output in outputs:
        for name, topic in output.topics.items():
            if name not in topics or topics[name].confidence < topic.confidence:
                topics[name] = topic
    parties: dict[str, Party] = {}
    for output in outputs:
        for party in output.parties:
            name = normalise(party.name)
            known = parties.get(name)
            if known is None or (known.role is None and party.role):
                parties[name] = party
    tokens = [o.tokens_used for o in outputs if o.tokens_used is not None]
    return ProviderOutput(
        findings=list(findings.values()),
        topics=topics,
        parties=list(parties.values()),
        effective_date=_first([o.effective_date for o in outputs]),
        termination_date=_first([o.termination_date for o in outputs]),
        term_length=_first([o.term_length for o in outputs]),
        governing_law=_first([o.governing_law for o in outputs]),
        agreement_date=_first([o.agreement_date for o in outputs]),
        perpetual=any(o.perpetual for o in outputs),
        renewal_term=_first([o.renewal_term for o in outputs]),
        renewal_notice_period=_first([o.renewal_notice_period for o in outputs]),
        field_quotes=_field_quotes(outputs),
        summary=next((o.summary for o in outputs if o.summary), ""),
        confidence=round(fmean(o.confidence for o in outputs), 3),
        tokens_used=sum(tokens) if tokens else None,
        chunks_read=len(outputs),
    )
