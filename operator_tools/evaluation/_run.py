"""Run contracts through the production parse and extraction code and score them against CUAD.

Pages come from the PDF through `parse_worker`'s pypdf extraction (what the parse stage stores), or
for contracts that have no PDF (the training file) from CUAD's own text cut at paragraph breaks.
The extraction is `extract_verified`, the function the ``llm_extract`` activity runs, so only
quotes that were found in the document are scored.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from statistics import fmean, median
from typing import Literal

from charmelio.contract import (
    CUAD_CATEGORIES,
    PAGE_SEPARATOR,
    PageText,
    ParsedPages,
    ProviderUsage,
)
from charmelio.errors import CharmelioError
from charmelio.settings import Settings
from llm_worker import ClauseExtractor, extract_verified, usage_of
from operator_tools.evaluation._cuad import CuadContract
from operator_tools.evaluation._fields import FieldOutcome, score_fields
from operator_tools.evaluation._matching import Counts, score_spans

PageSource = Literal["pdf", "text"]
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
_TEXT_PAGE_CHARS = 3000


def document_id_for(slug: str) -> str:
    cleaned = _UNSAFE_ID_CHARS.sub("_", slug).strip("_-") or "contract"
    return cleaned[:128]


def pages_from_text(
    text: str, document_id: str, chars_per_page: int = _TEXT_PAGE_CHARS
) -> ParsedPages:
    """CUAD's text as pseudo-pages cut at paragraph breaks; ``full_text()`` is the text itself."""
    pages: list[str] = []
    current: list[str] = []
    size = 0
    for paragraph in text.split(PAGE_SEPARATOR):
        current.append(paragraph)
        size += len(paragraph) + len(PAGE_SEPARATOR)
        if size >= chars_per_page:
            pages.append(PAGE_SEPARATOR.join(current))
            current, size = [], 0
    if current:
        pages.append(PAGE_SEPARATOR.join(current))
    return ParsedPages(
        document_id=document_id,
        engine="cuad-text",
        pages=[PageText(page=number, text=page) for number, page in enumerate(pages, 1)],
    )


def pages_from_pdf(
    contract: CuadContract, settings: Settings | None = None
) -> tuple[ParsedPages, float]:
    """The pages the parse stage would store for this PDF, and the seconds parsing took."""
    from parse_worker.reading import ParseOptions, extract_pages

    settings = settings or Settings(_env_file=None)
    if contract.pdf_path is None:
        raise ValueError(f"{contract.slug} has no PDF")
    data = contract.pdf_path.read_bytes()
    started = time.perf_counter()
    pages, stats = extract_pages(
        data,
        max_bytes=settings.max_pdf_bytes,
        max_pages=settings.max_pdf_pages,
        options=ParseOptions.from_settings(settings),
    )
    parsed = ParsedPages(
        document_id=document_id_for(contract.slug), engine=stats.engine, pages=pages
    )
    return parsed, time.perf_counter() - started


@dataclass(frozen=True)
class ContractScore:
    slug: str
    pages: int
    parse_seconds: float
    extract_seconds: float
    counts: dict[str, Counts]
    presence_correct: int
    fields: list[FieldOutcome]
    candidate_quotes: int
    quotes_dropped: int
    error: str | None = None
    # What the provider reported for this contract, failed requests included (the rules: 0).
    usage: ProviderUsage = field(default_factory=ProviderUsage)

    @property
    def total(self) -> Counts:
        return sum(self.counts.values(), Counts())


@dataclass(frozen=True)
class EvaluationReport:
    provider: str
    model: str
    source: PageSource
    contracts: list[ContractScore] = field(default_factory=list)

    def category(self, name: str) -> Counts:
        return sum((c.counts.get(name, Counts()) for c in self.contracts), Counts())

    @property
    def micro(self) -> Counts:
        return sum((c.total for c in self.contracts), Counts())

    @property
    def macro_f1(self) -> float | None:
        scores = [f1 for name in CUAD_CATEGORIES if (f1 := self.category(name).f1) is not None]
        return fmean(scores) if scores else None

    @property
    def presence_accuracy(self) -> float | None:
        total = len(self.contracts) * len(CUAD_CATEGORIES)
        return sum(c.presence_correct for c in self.contracts) / total if total else None

    def field_accuracy(self, name: str) -> tuple[int, int]:
        outcomes = [o for c in self.contracts for o in c.fields if o.field == name]
        return sum(o.correct for o in outcomes), len(outcomes)

    @property
    def verified_share(self) -> float | None:
        claimed = sum(c.candidate_quotes for c in self.contracts)
        if not claimed:
            return None
        return 1.0 - sum(c.quotes_dropped for c in self.contracts) / claimed

    @property
    def usage(self) -> ProviderUsage:
        return sum((c.usage for c in self.contracts), ProviderUsage())

    @property
    def errors(self) -> list[ContractScore]:
        return [c for c in self.contracts if c.error]

    def seconds_per_contract(self, which: Literal["parse", "extract"]) -> tuple[float, float]:
        """(median, max) seconds per contract."""
        values = [
            c.parse_seconds if which == "parse" else c.extract_seconds for c in self.contracts
        ]
        return (median(values), max(values)) if values else (0.0, 0.0)


def _failed(
    contract: CuadContract,
    pages: int,
    parse_seconds: float,
    error: str,
    usage: ProviderUsage | None = None,
) -> ContractScore:
    counts = {name: Counts(fn=len(contract.spans.get(name, ()))) for name in CUAD_CATEGORIES}
    absent = sum(not contract.present(name) for name in CUAD_CATEGORIES)
    return ContractScore(
        contract.slug,
        pages,
        parse_seconds,
        0.0,
        counts,
        absent,
        [],
        0,
        0,
        error=error,
        usage=usage or ProviderUsage(),
    )


def score_contract(
    contract: CuadContract,
    pages: ParsedPages,
    extractor: ClauseExtractor,
    parse_seconds: float = 0.0,
) -> ContractScore:
    started = time.perf_counter()
    try:
        extraction = extract_verified(pages, extractor)
    except CharmelioError as exc:
        error = f"{exc.type}: {exc.message}"
        return _failed(contract, len(pages.pages), parse_seconds, error, usage_of(exc))
    extract_seconds = time.perf_counter() - started
    result = extraction.result
    counts: dict[str, Counts] = {}
    presence_correct = 0
    for name in CUAD_CATEGORIES:
        predicted = [f.quote for f in result.findings if f.category == name]
        labels = contract.spans.get(name, ())
        counts[name] = score_spans(predicted, labels, name)
        presence_correct += bool(predicted) == bool(labels)
    fields = score_fields(contract, result) if contract.answers else []
    return ContractScore(
        slug=contract.slug,
        pages=len(pages.pages),
        parse_seconds=parse_seconds,
        extract_seconds=extract_seconds,
        counts=counts,
        presence_correct=presence_correct,
        fields=fields,
        candidate_quotes=extraction.candidate_quotes,
        quotes_dropped=result.quotes_dropped,
        usage=ProviderUsage(
            requests=result.llm_requests,
            prompt_tokens=result.prompt_tokens or 0,
            completion_tokens=result.completion_tokens or 0,
        ),
    )


def evaluate(
    contracts: Iterable[CuadContract],
    extractor: ClauseExtractor,
    *,
    source: PageSource = "pdf",
    settings: Settings | None = None,
    on_contract: Callable[[ContractScore], None] | None = None,
) -> EvaluationReport:
    """Score every contract; one that cannot be parsed or extracted counts as finding nothing.

    `settings` are the parse settings (engine options, size limits) used for PDFs.
    """
    report = EvaluationReport(extractor.name, extractor.model, source)
    for contract in contracts:
        if source == "pdf":
            started = time.perf_counter()
            try:
                pages, parse_seconds = pages_from_pdf(contract, settings)
            except CharmelioError as exc:
                elapsed = time.perf_counter() - started
                score = _failed(contract, 0, elapsed, f"{exc.type}: {exc.message}")
                report.contracts.append(score)
                if on_contract:
                    on_contract(score)
                continue
        else:
            pages, parse_seconds = (
                pages_from_text(contract.text, document_id_for(contract.slug)),
                0.0,
            )
        score = score_contract(contract, pages, extractor, parse_seconds)
        report.contracts.append(score)
        if on_contract:
            on_contract(score)
    return report
