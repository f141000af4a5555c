"""One extraction from page texts to a verified `ExtractionResult`: provider, then evidence check.

Shared by the ``llm_extract`` activity and by ``charmelio eval``, so the figures the evaluation
prints are those of the code that runs in production, not of a copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from charmelio.contract import ExtractionResult, ParsedPages
from llm_worker._evidence import clamp_confidence, verify_evidence
from llm_worker._provider import ChunkReplies, ClauseExtractor, ProgressCallback


@dataclass(frozen=True)
class VerifiedExtraction:
    result: ExtractionResult
    candidate_quotes: int
    """Quotes the provider claimed (findings and topic clauses) before verification."""

    @property
    def verified_share(self) -> float:
        """Share of claimed quotes found in the document (1.0 when nothing was claimed)."""
        if not self.candidate_quotes:
            return 1.0
        return 1.0 - self.result.quotes_dropped / self.candidate_quotes


def extract_verified(
    pages: ParsedPages,
    extractor: ClauseExtractor,
    on_progress: ProgressCallback | None = None,
    replies: ChunkReplies | None = None,
) -> VerifiedExtraction:
    """Run the provider over the whole document and keep only what its quotes prove."""
    output = extractor.extract(pages, on_progress=on_progress, replies=replies)
    evidence = verify_evidence(pages, output)
    result = ExtractionResult(
        document_id=pages.document_id,
        provider=extractor.name,
        model=extractor.model,
        parties=evidence.parties,
        effective_date=output.effective_date,
        termination_date=output.termination_date,
        term_length=evidence.term_length,
        governing_law=evidence.governing_law,
        agreement_date=output.agreement_date,
        perpetual=output.perpetual and output.termination_date is None,
        renewal_term=evidence.renewal_term,
        renewal_notice_period=evidence.renewal_notice_period,
        field_evidence=evidence.field_evidence,
        findings=evidence.findings,
        confidence=clamp_confidence(output.confidence),
        summary=output.summary,
        page_count=len(pages.pages),
        quotes_dropped=evidence.quotes_dropped,
        fields_dropped=evidence.fields_dropped,
        chunks_read=output.chunks_read,
        tokens_used=output.tokens_used,
        llm_requests=output.spent.requests,
        prompt_tokens=output.spent.prompt_tokens if output.spent.requests else None,
        completion_tokens=output.spent.completion_tokens if output.spent.requests else None,
        **evidence.topics,
    )
    return VerifiedExtraction(result, len(output.findings) + len(output.topics))


__all__ = ["VerifiedExtraction", "extract_verified"]
