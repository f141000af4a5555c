"""The offline extractor: hand-written rules and a small trained classifier, no network.

It is the default when no LLM endpoint is configured, so a fresh checkout extracts something useful
(and tests run) without credentials. Sentences are scored by the regular expressions of
`_clause_rules` and by the shipped classifier (`_clause_model`); per category the model file's
policy says which of them (or both) name findings. Title, parties and dates come from the preamble
(`_preamble`). Every quote is a slice of a page's text, so its evidence always verifies, and the
same input always gives the same output.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import chain
from statistics import fmean
from typing import Literal, cast

from charmelio.contract import CuadCategory, PageText, ParsedPages, Party
from llm_worker._clause_model import ClauseModel, load_clause_model
from llm_worker._clause_rules import CATEGORY_RULES, TOPIC_RULES, is_clause_text, match_rules
from llm_worker._jurisdictions import find_jurisdiction
from llm_worker._preamble import (
    DATE,
    AgreementDate,
    PartyMention,
    find_agreement_date,
    find_parties,
    find_title,
    parse_date,
)
from llm_worker._provider import (
    CandidateFinding,
    CandidateQuote,
    CandidateTopic,
    ChunkReplies,
    ProgressCallback,
    ProviderOutput,
)
from llm_worker._renewal import is_perpetual, renewal_notice_period, renewal_term
from llm_worker._sentences import Sentence, split_sentences
from llm_worker._term import states_term, term_end

# Part of the extractor identity (with the classifier's version): bump it whenever the rules' output
# changes, or a batch will reuse extractions the old rules made.
RULES_MODEL = "rules-v3"

# A category matched in more sentences than this is usually a rule firing on boilerplate.
MAX_FINDINGS_PER_CATEGORY = 8
# The preamble (title, parties, date) is on the first pages, after any cover page and contents.
OPENING_PAGES = 3
PREAMBLE_SEARCH_PAGES = 12
_SUMMARY_QUOTE_CHARS = 160

# A sentence that chooses a law: "governed by ... laws", "governing law ...", "English law
# governs"; not "a corporation organized under the laws of Delaware".
_CHOOSES_LAW = re.compile(
    r"\bgovern(?:ed|s|ing)?\b[^.;]{0,250}\b(?:laws?|legislation)\b|\blaws?\b[^.;]{0,120}\bgovern"
    r"|\b(?:construed|interpreted)\b[^.;]{0,200}\blaws?\b"
    r"|\blaws?\s+of\b[^.;]{0,80}\bappl(?:y|ies)\b",
    re.IGNORECASE,
)
# The agreement itself is what the law governs: "This Agreement shall be construed in accordance
# with the laws of New York", not "counsel's opinion shall be limited to matters governed by the
# laws of Tennessee" in the same contract.
_AGREEMENT_GOVERNED = re.compile(
    r"\b(?:this|the)\s+(?:[\w-]+\s+){0,3}(?:agreement|contract)\b[^.]{0,200}?"
    r"\b(?:governed|construed|interpreted|enforced|governs|subject\s+to)\b",
    re.IGNORECASE,
)
_LAW_HEADING = re.compile(
    r"\bgoverning\s+law\b|\b(?:applicable|controlling|choice\s+of)\s+law\b", re.IGNORECASE
)
_NOT_CHOOSING = re.compile(r"\b(?:organi[sz]ed|incorporated|existing|formed)\s+under\b", re.I)
_TERM_LENGTH = re.compile(
    r"\b(?:term|period)\s+of\s+(?P<a>(?:[a-z-]+\s+)?\(\d+\)\s+(?:years?|months?)|\d+\s+(?:years?"
    r"|months?)|[a-z-]+\s+(?:years?|months?))\b"
    r"|\b(?P<b>(?:[a-z-]+\s+)?\(\d+\)\s+(?:years?|months?))\s+(?:from|after|following)\b",
    re.IGNORECASE,
)


def _collapsed(text: str) -> str:
    return " ".join(text.split())


def _governing_law(candidates: Iterable[str]) -> tuple[str, str] | None:
    """The jurisdiction's usual name ("People's Republic of China" for "PRC Laws", "England" for
    "English law") and the sentence that chooses it.

    The first candidate that says the agreement is governed by it wins; then the first under a
    "Governing Law" heading (a summary table's "Governing Law: ..." restates the clause); then the
    first that names a jurisdiction at all.
    """
    ranked: dict[int, tuple[str, str]] = {}
    for sentence in candidates:
        found = find_jurisdiction(sentence)
        if found is None:
            continue
        if _AGREEMENT_GOVERNED.search(sentence):
            return found.name, sentence
        rank = 1 if _LAW_HEADING.search(sentence) else 2
        ranked.setdefault(rank, (found.name, sentence))
    return ranked[min(ranked)] if ranked else None


def _law_sentences(clauses: list[ClauseSentence]) -> Iterator[str]:
    for clause in clauses:
        text = clause.sentence.text
        if _CHOOSES_LAW.search(text) and not _NOT_CHOOSING.search(text):
            yield text


_EFFECTIVE_DATE_TERM = re.compile(r"\beffective\s+date\b", re.IGNORECASE)


def _gives_effect(dated: AgreementDate | None, pages: ParsedPages) -> bool:
    """Whether the opening's date is also the effective date.

    CUAD reads "made as of <date>" as the agreement's date only, unless the opening ties that date
    to the agreement's effect or the contract speaks of its Effective Date (measured on the
    training contracts: 22% fewer wrong effective dates than taking every opening date).
    """
    if dated is None:
        return False
    if dated.says_effective:
        return True
    text = pages.full_text()
    if _EFFECT_FROM_OPENING.search(text):
        return True
    return _EFFECTIVE_DATE_TERM.search(text) is not None and _EFFECT_BY_EVENT.search(text) is None


# "This Agreement shall become effective on the date first written above", "The Term shall
# commence on the date of this Agreement", "is to be effective as of the date first listed above":
# the opening's date is the effective date even when the contract has no "Effective Date".
_EFFECT_FROM_OPENING = re.compile(
    r"\b(?:agreement|term)\b[^.;]{0,60}?\b(?:becomes?|be|is)?\s*(?:effective|commenc\w*|begins?"
    r"|take\s+effect|come\s+into\s+(?:force|effect))\s+(?:on|as\s+of|from|upon)\s+the\s+(?:date"
    r"\s+(?:first\s+(?:written|set\s+forth|listed|stated|above)|hereof|of\s+this\s+agreement)"
    r"|day\s+and\s+year\s+first)",
    re.IGNORECASE,
)


# The contract dates its effect by an event, not by the opening's date: '"Effective Date" means
# the Closing Date', "effective as of the later of the dates beneath the signatures", "shall become
# effective when counterparts have been signed". CUAD then gives no effective date.
_EFFECT_BY_EVENT = re.compile(
    r"\beffective\s+date[\"\u201d]?\)?\s*(?:of\s+this\s+agreement\s+)?(?:shall\s+)?(?:mean|means"
    r"|has\s+the\s+meaning|shall\s+be|is)\s+(?:(?:of|given\s+to|ascribed\s+to|set\s+forth\s+for)\s+)?"
    r"(?:the\s+)?[\"\u201c]?(?:later|last|closing|date\s+(?:of|on\s+which|upon\s+which|that|when)"
    r"\s+(?:the\s+)?(?:last|closing|signature|execution|both|all|each))"
    r"|\b(?:become|becomes|be)\s+effective\s+(?:only\s+)?(?:when|upon|on)\s+(?:the\s+)?"
    r"(?:later|last|closing|execution\s+(?:and\s+delivery\s+)?(?:hereof|of\s+this)|signature)"
    r"|\beffective\s+as\s+of\s+the\s+(?:later|last)\s+of\s+the\s+dates?\b",
    re.IGNORECASE,
)


def _effective_date(dated: AgreementDate | None, pages: ParsedPages) -> date | None:
    """The opening's date, when the contract gives itself an effective date."""
    return dated.value if dated is not None and _gives_effect(dated, pages) else None


# "shall be effective as of January 1, 2000", "commencing on March 21, 2014", "Effective Date:
# June 1, 1998", 'September 1, 2004 (the "Effective Date")'.
_EFFECT_BEFORE_DATE = re.compile(
    r"(?:\beffective\s+(?:as\s+of|on|from|beginning)|\bcommenc\w*\s+(?:on|as\s+of)"
    r"|\beffective\s+date[\"\u201d]?\)?\s*(?:shall\s+be|is|means|:))\s*(?:the\s+)?$",
    re.IGNORECASE,
)
_EFFECT_AFTER_DATE = re.compile(
    r"^\s*,?\s*\(?\s*(?:the|this)?\s*[\"\u201c]?effective\s+date\b", re.IGNORECASE
)


def _stated_effective_date(sentences: Iterable[Sentence]) -> tuple[date, Sentence] | None:
    """A date the contract itself calls its effective date, wherever it says so."""
    for sentence in sentences:
        text = sentence.text
        for match in DATE.finditer(text):
            before = text[max(0, match.start() - 60) : match.start()]
            after = text[match.end() : match.end() + 30]
            if _EFFECT_BEFORE_DATE.search(before) or _EFFECT_AFTER_DATE.match(after):
                value = parse_date(match)
                if value is not None:
                    return value, sentence
    return None


def _expiration(
    sentences: Iterable[Sentence], start: date | None, signed: date | None
) -> tuple[date, Sentence] | None:
    """The date the term ends, from the first sentence about the agreement's term that states
    it or its length (see `term_end`), with that sentence."""
    for sentence in sentences:
        if not states_term(sentence.text):
            continue
        ends = term_end(sentence.text, start, signed)
        if ends is not None:
            return ends, sentence
    return None


def _term_length(sentence: str) -> str | None:
    match = _TERM_LENGTH.search(sentence)
    return _collapsed(match.group("a") or match.group("b")) if match else None


def _summary_of(label: str, quote: str) -> str:
    text = _collapsed(quote)
    if len(text) > _SUMMARY_QUOTE_CHARS:
        text = text[:_SUMMARY_QUOTE_CHARS].rsplit(" ", 1)[0] + " ..."
    return f"{label} (rule match): {text}"


@dataclass(frozen=True)
class ClauseSentence:
    """A sentence that reads like a clause, with the sentence before it, the last heading above
    it (across pages), its place in the contract's clauses (0 first, 1 last) and the categories
    whose rules match it."""

    sentence: Sentence
    previous: str
    heading: str = ""
    position: float = 0.0
    rules: frozenset[str] = frozenset()


_HEADING_WORDS = 10
_NOT_HEADING = re.compile(r"^\W*(?:source|page|exhibit|schedule|annex|appendix)\b|^[\W\d]*$", re.I)


def _is_heading(text: str) -> bool:
    """A short line that names a section ("ARTICLE 5 TERM AND TERMINATION", "Exclusivity.")."""
    return len(text.split()) <= _HEADING_WORDS and _NOT_HEADING.search(text) is None


def clause_sentences(pages: ParsedPages) -> list[ClauseSentence]:
    found: list[tuple[Sentence, str, str]] = []
    heading = ""
    for page in pages.pages:
        previous = ""
        for sentence in split_sentences(page):
            if is_clause_text(sentence.text):
                found.append((sentence, previous, heading))
            elif _is_heading(sentence.text):
                heading = sentence.text
            previous = sentence.text
    last = max(len(found) - 1, 1)
    matched = match_rules([sentence.text for sentence, _, _ in found])
    return [
        ClauseSentence(sentence, previous, heading, index / last, rules)
        for index, ((sentence, previous, heading), rules) in enumerate(
            zip(found, matched, strict=True)
        )
    ]


def rule_hits(clauses: list[ClauseSentence]) -> dict[str, list[int]]:
    """Indices of the sentences each category's rule matches, at most a few per category."""
    hits: dict[str, list[int]] = {rule.category: [] for rule in CATEGORY_RULES}
    for index, clause in enumerate(clauses):
        for category in clause.rules:
            found = hits[category]
            if len(found) < MAX_FINDINGS_PER_CATEGORY:
                found.append(index)
    return hits


def select_findings(
    clauses: list[ClauseSentence],
    hits: dict[str, list[int]],
    model: ClauseModel | None,
) -> list[CandidateFinding]:
    """Rule matches and model predictions, combined per category as the model's policy says.

    A sentence repeated word for word (a running header, a clause restated in a schedule) is one
    finding, not several: the copies would be the same clause twice, and a copy must not use up
    one of the model's few findings for its category.
    """
    confidence: dict[str, float] = {rule.category: rule.confidence for rule in CATEGORY_RULES}
    # The parse stage has folded the text already: case and spacing are all a copy can differ by.
    keys = [" ".join(c.sentence.text.casefold().split()) for c in clauses]
    if model is None:
        return [
            CandidateFinding(
                cast(CuadCategory, category),
                clauses[i].sentence.text,
                clauses[i].sentence.page,
                confidence[category],
            )
            for category, indices in hits.items()
            for i in _distinct(indices, keys)
        ]

    def probabilities(i: int, *, ranked_only: bool = False) -> list[float]:
        c = clauses[i]
        return model.probabilities(
            c.sentence.text, c.previous, c.heading, c.position, c.rules, ranked_only=ranked_only
        )

    scores = [probabilities(i, ranked_only=True) for i in range(len(clauses))]
    # The rules-only columns are scored where their rules matched, and nowhere else.
    for i in {i for category_hits in hits.values() for i in category_hits}:
        scores[i] = probabilities(i)
    findings: list[CandidateFinding] = []
    for column, category in enumerate(model.categories):
        policy = model.policies.get(category)
        chosen: dict[int, float] = {}
        if policy is None or policy.source in ("rules", "union"):
            for i in _distinct(hits.get(category, []), keys):
                chosen[i] = max(confidence[category], scores[i][column])
        if policy is not None and policy.source in ("model", "union"):
            ranked = sorted(range(len(clauses)), key=lambda i: -scores[i][column])
            confident = [i for i in ranked if scores[i][column] >= policy.threshold]
            for i in _distinct(confident, keys)[: policy.max_findings]:
                chosen.setdefault(i, scores[i][column])
        for i in _distinct(sorted(chosen), keys):
            sentence = clauses[i].sentence
            findings.append(
                CandidateFinding(
                    cast(CuadCategory, category),
                    sentence.text,
                    sentence.page,
                    round(chosen[i], 3),
                )
            )
    return findings


def _distinct(indices: Iterable[int], keys: list[str]) -> list[int]:
    """`indices` without the later copies of a sentence text already among them."""
    seen: set[str] = set()
    kept: list[int] = []
    for i in indices:
        if keys[i] not in seen:
            seen.add(keys[i])
            kept.append(i)
    return kept


class RulesExtractor:
    """Regex rules and a small trained sentence classifier; no network, same output every run."""

    name = "rules"

    def __init__(self, model: ClauseModel | Literal["shipped"] | None = "shipped") -> None:
        self._model = load_clause_model() if model == "shipped" else model

    @property
    def model(self) -> str:
        return f"{RULES_MODEL}+{self._model.version}" if self._model else RULES_MODEL

    def extract(
        self,
        pages: ParsedPages,
        on_progress: ProgressCallback | None = None,
        replies: ChunkReplies | None = None,  # one pass, in milliseconds: nothing worth keeping
    ) -> ProviderOutput:
        opening = pages.pages[:OPENING_PAGES]
        # Filed contracts may open with a cover page and a table of contents: look further.
        further = pages.pages[:PREAMBLE_SEARCH_PAGES]
        mentions = find_parties(opening) or find_parties(further)
        dated = find_agreement_date(opening) or find_agreement_date(further)
        clauses = clause_sentences(pages)
        sentences = [clause.sentence for clause in clauses]
        hits = rule_hits(clauses)
        opening_findings = [
            finding
            for finding in self._opening_findings(
                opening, mentions, dated, _gives_effect(dated, pages)
            )
            if self._uses_rules(finding.category)
        ]
        findings = opening_findings + select_findings(clauses, hits, self._model)
        parties = [Party(name=_collapsed(m.name.text), role=m.role) for m in mentions]
        # Fields are read from the sentence a precise rule matched when there is one: the model
        # ranks evidence well, but "laws of ..." in an arbitration clause is not the governing law.
        governing_sources = [clauses[i].sentence.text for i in hits.get("Governing Law", [])] + [
            f.quote for f in findings if f.category == "Governing Law"
        ]
        law = _governing_law(chain(governing_sources, _law_sentences(clauses)))
        governing_law = law[0] if law else None
        expiration = self._field_source(clauses, hits, findings, "Expiration Date")
        quotes: dict[str, CandidateQuote] = {}
        effective = _effective_date(dated, pages)
        if dated is not None and dated.value is not None:
            quotes["agreement_date"] = CandidateQuote(dated.found.text, dated.found.page)
            if effective is not None:
                quotes["effective_date"] = quotes["agreement_date"]
        if dated is None or not dated.says_effective:
            # The opening does not date the agreement's effect: a date the contract calls its
            # effective date elsewhere ("shall be effective as of ...") is the better answer.
            stated = _stated_effective_date(sentences)
            if stated is not None:
                effective = stated[0]
                quotes["effective_date"] = CandidateQuote(stated[1].text, stated[1].page)
        # The expiration rule's and findings' sentences first, then any sentence that sets the
        # agreement's term; a length counts from the effective date, as CUAD's annotators count.
        term_sentences = self._field_sources(clauses, hits, findings, "Expiration Date")
        term_sentences += sentences
        signed = dated.value if dated else None
        term_end_read = _expiration(term_sentences, effective or signed, signed)
        ends = term_end_read[0] if term_end_read else None
        if term_end_read is not None:
            source = term_end_read[1]
            quotes["termination_date"] = CandidateQuote(source.text, source.page)
        perpetual = None if ends is not None else self._perpetual(clauses, expiration)
        if perpetual is not None:
            quotes["perpetual"] = CandidateQuote(perpetual.text, perpetual.page)
        renewal = self._read_field(clauses, hits, findings, "Renewal Term", renewal_term)
        notice = self._read_field(
            clauses, hits, findings, "Notice Period to Terminate Renewal", renewal_notice_period
        )
        for name, read in (("renewal_term", renewal), ("renewal_notice_period", notice)):
            if read is not None:
                quotes[name] = CandidateQuote(read[1].text, read[1].page)
        if law is not None:
            quotes["governing_law"] = CandidateQuote(law[1], None)
        return ProviderOutput(
            findings=findings,
            topics=self._topics(sentences),
            parties=parties,
            effective_date=effective,
            termination_date=ends,
            term_length=_term_length(expiration.text) if expiration else None,
            governing_law=governing_law,
            agreement_date=dated.value if dated else None,
            perpetual=perpetual is not None,
            renewal_term=renewal[0] if renewal else None,
            renewal_notice_period=notice[0] if notice else None,
            field_quotes=quotes,
            summary=self._summary(findings, parties, governing_law),
            confidence=round(fmean(f.confidence for f in findings), 3) if findings else 0.0,
        )

    def _uses_rules(self, category: str) -> bool:
        """False where the model's policy names a category's findings from the model alone."""
        policy = self._model.policies.get(category) if self._model else None
        return policy is None or policy.source != "model"

    @staticmethod
    def _field_sources(
        clauses: list[ClauseSentence],
        hits: dict[str, list[int]],
        findings: list[CandidateFinding],
        category: str,
    ) -> list[Sentence]:
        """The category's sentences a field is read from: the precise rule's matches first, then
        the findings, most confident first."""
        sources = [clauses[i].sentence for i in hits.get(category, [])]
        chosen = sorted(
            (f for f in findings if f.category == category), key=lambda f: -f.confidence
        )
        # A finding's quote is a sentence's text; its offsets are not needed to read a field.
        sources += [Sentence(f.page or 1, 0, len(f.quote), f.quote) for f in chosen]
        return sources

    @classmethod
    def _field_source(
        cls,
        clauses: list[ClauseSentence],
        hits: dict[str, list[int]],
        findings: list[CandidateFinding],
        category: str,
    ) -> Sentence | None:
        sources = cls._field_sources(clauses, hits, findings, category)
        return sources[0] if sources else None

    @classmethod
    def _read_field(
        cls,
        clauses: list[ClauseSentence],
        hits: dict[str, list[int]],
        findings: list[CandidateFinding],
        category: str,
        read: Callable[[str], str | None],
    ) -> tuple[str, Sentence] | None:
        """The first value `read` finds in the category's sentences, with its sentence."""
        for sentence in cls._field_sources(clauses, hits, findings, category):
            value = read(sentence.text)
            if value is not None:
                return value, sentence
        return None

    @staticmethod
    def _perpetual(clauses: list[ClauseSentence], expiration: Sentence | None) -> Sentence | None:
        """The sentence saying the agreement runs until terminated, when its term has no end."""
        candidates = ([expiration] if expiration else []) + [c.sentence for c in clauses]
        return next((s for s in candidates if is_perpetual(s.text)), None)

    @staticmethod
    def _opening_findings(
        opening: list[PageText],
        mentions: list[PartyMention],
        dated: AgreementDate | None,
        says_effective: bool,
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
            # The opening's date is the effective date on the same terms as the field's.
            if says_effective:
                confidence = 0.75 if dated.says_effective else 0.5
                findings.append(
                    CandidateFinding("Effective Date", found.text, found.page, confidence)
                )
        return findings

    @staticmethod
    def _topics(clauses: list[Sentence]) -> dict[str, CandidateTopic]:
        topics: dict[str, CandidateTopic] = {}
        for topic, rule in TOPIC_RULES.items():
            best: tuple[float, Sentence] | None = None
            for sentence in clauses:
                if not rule.admits(sentence.text):
                    continue
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
    def _summary(findings: list[CandidateFinding], parties: list[Party], law: str | None) -> str:
        categories = sorted({f.category for f in findings})
        parts = [
            f"Rule-based extraction ({RULES_MODEL}): {len(findings)} findings in "
            f"{len(categories)} CUAD categories"
        ]
        if parties:
            parts.append("parties: " + "; ".join(p.name for p in parties))
        if law:
            parts.append(f"governing law: {law}")
        return ", ".join(parts) + "."
