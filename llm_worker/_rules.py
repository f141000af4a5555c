"""The offline extractor: deterministic rules, no model, no network.

It is the default when no LLM endpoint is configured, so a fresh checkout extracts something useful
(and tests run) without credentials. Every quote it produces is a slice of a page's text, so its
evidence always verifies; precision comes from the rules in `_clause_rules`.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from statistics import fmean

from charmelio.contract import PageText, ParsedPages, Party
from llm_worker._clause_rules import CATEGORY_RULES, TOPIC_RULES, is_clause_text
from llm_worker._preamble import (
    DATE,
    AgreementDate,
    PartyMention,
    find_agreement_date,
    find_parties,
    find_title,
    parse_date,
)
from llm_worker._provider import CandidateFinding, CandidateTopic, ProviderOutput
from llm_worker._sentences import Sentence, split_sentences

RULES_MODEL = "rules-v1"

# A category matched in more sentences than this is usually a rule firing on boilerplate.
MAX_FINDINGS_PER_CATEGORY = 8
# The preamble (title, parties, date) is on the first pages, after any cover page and contents.
OPENING_PAGES = 3
_SUMMARY_QUOTE_CHARS = 160

_JURISDICTION = re.compile(
    r"\blaws?\s+(?:in\s+force\s+in\s+|of\s+)(?:the\s+)?"
    r"(?:(?:state|commonwealth|province|republic|kingdom|government)\s+of\s+)?"
    r"(?P<name>(?-i:[A-Z][\w.'-]*(?:[ \t]+(?:of[ \t]+)?[A-Z][\w.'-]*){0,3}))",
    re.IGNORECASE,
)
_TERM_END = re.compile(
    r"\b(?:expire|until|through|end(?:s|ing)?\s+on|terminate\s+on|later\s+than)\s+(?:on\s+)?"
    r"(?:the\s+)?",
    re.IGNORECASE,
)
_TERM_LENGTH = re.compile(
    r"\b(?:term|period)\s+of\s+(?P<a>(?:[a-z-]+\s+)?\(\d+\)\s+(?:years?|months?)|\d+\s+(?:years?"
    r"|months?)|[a-z-]+\s+(?:years?|months?))\b"
    r"|\b(?P<b>(?:[a-z-]+\s+)?\(\d+\)\s+(?:years?|months?))\s+(?:from|after|following)\b",
    re.IGNORECASE,
)


def _collapsed(text: str) -> str:
    return " ".join(text.split())


def _jurisdiction(sentence: str) -> str | None:
    for match in _JURISDICTION.finditer(sentence):
        name = match.group("name").rstrip(".")
        if name[:1].isupper() and name.lower() not in {"this", "such", "any", "the"}:
            return _collapsed(name)
    return None


def _term_end_date(sentence: str) -> date | None:
    for cue in _TERM_END.finditer(sentence):
        found = DATE.match(sentence, cue.end())
        if found:
            return parse_date(found)
    return None


def _term_length(sentence: str) -> str | None:
    match = _TERM_LENGTH.search(sentence)
    return _collapsed(match.group("a") or match.group("b")) if match else None


def _summary_of(label: str, quote: str) -> str:
    text = _collapsed(quote)
    if len(text) > _SUMMARY_QUOTE_CHARS:
        text = text[:_SUMMARY_QUOTE_CHARS].rsplit(" ", 1)[0] + " ..."
    return f"{label} (rule match): {text}"


class RulesExtractor:
    """Regex and keyword rules over the sentences of each page."""

    name = "rules"
    model = RULES_MODEL

    def extract(self, pages: ParsedPages) -> ProviderOutput:
        opening = pages.pages[:OPENING_PAGES]
        mentions = find_parties(opening)
        dated = find_agreement_date(opening)
        clauses = [
            sentence
            for page in pages.pages
            for sentence in split_sentences(page)
            if is_clause_text(sentence.text)
        ]
        findings = self._opening_findings(opening, mentions, dated) + self._clause_findings(clauses)
        parties = [Party(name=_collapsed(m.name.text), role=m.role) for m in mentions]
        governing = self._first(findings, "Governing Law")
        expiration = self._first(findings, "Expiration Date")
        return ProviderOutput(
            findings=findings,
            topics=self._topics(clauses),
            parties=parties,
            effective_date=dated.value if dated else None,
            termination_date=_term_end_date(expiration) if expiration else None,
            term_length=_term_length(expiration) if expiration else None,
            governing_law=_jurisdiction(governing) if governing else None,
            summary=self._summary(findings, parties, governing),
            confidence=round(fmean(f.confidence for f in findings), 3) if findings else 0.0,
        )

    @staticmethod
    def _first(findings: list[CandidateFinding], category: str) -> str | None:
        return next((f.quote for f in findings if f.category == category), None)

    @staticmethod
    def _opening_findings(
        opening: list[PageText], mentions: list[PartyMention], dated: AgreementDate | None
    ) -> list[CandidateFinding]:
        findings: list[CandidateFinding] = []
        title = find_title(opening[0]) if opening else None
        if title:
            findings.append(CandidateFinding("Document Name", title.text, title.page, 0.7))
        for mention in mentions:
            findings.append(CandidateFinding("Parties", mention.name.text, mention.name.page, 0.8))
            if mention.alias:
                alias = mention.alias
                findings.append(CandidateFinding("Parties", alias.text, alias.page, 0.6))
        if dated:
            found = dated.found
            findings.append(CandidateFinding("Agreement Date", found.text, found.page, 0.75))
            effective_confidence = 0.75 if dated.says_effective else 0.5
            findings.append(
                CandidateFinding("Effective Date", found.text, found.page, effective_confidence)
            )
        return findings

    @staticmethod
    def _clause_findings(clauses: list[Sentence]) -> list[CandidateFinding]:
        findings: list[CandidateFinding] = []
        counts: Counter[str] = Counter()
        for sentence in clauses:
            lowered = sentence.text.lower()
            for rule in CATEGORY_RULES:
                if counts[rule.category] < MAX_FINDINGS_PER_CATEGORY and rule.matches(
                    sentence.text, lowered
                ):
                    counts[rule.category] += 1
                    findings.append(
                        CandidateFinding(
                            rule.category, sentence.text, sentence.page, rule.confidence
                        )
                    )
        return findings

    @staticmethod
    def _topics(clauses: list[Sentence]) -> dict[str, CandidateTopic]:
        topics: dict[str, CandidateTopic] = {}
        for topic, rule in TOPIC_RULES.items():
            best: tuple[float, Sentence] | None = None
            for sentence in clauses:
                score = sum(w for cue, w in rule.cues if cue.search(sentence.text))
                if score >= rule.threshold and (best is None or score > best[0]):
                    best = (score, sentence)
            if best is not None:
                score, sentence = best
                total = sum(w for _, w in rule.cues)
                topics[topic] = CandidateTopic(
                    summary=_summary_of(rule.label, sentence.text),
                    quote=sentence.text,
                    page=sentence.page,
                    confidence=round(min(0.9, 0.4 + 0.5 * score / total), 3),
                )
        return topics

    @staticmethod
    def _summary(
        findings: list[CandidateFinding], parties: list[Party], governing: str | None
    ) -> str:
        categories = sorted({f.category for f in findings})
        parts = [
            f"Rule-based extraction ({RULES_MODEL}): {len(findings)} findings in "
            f"{len(categories)} CUAD categories"
        ]
        if parties:
            parts.append("parties: " + "; ".join(p.name for p in parties))
        law = _jurisdiction(governing) if governing else None
        if law:
            parts.append(f"governing law: {law}")
        return ", ".join(parts) + "."
