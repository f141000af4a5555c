"""The ``llm_extract`` activity: page texts from object storage in, a verified extraction out.

The full `ExtractionResult` is written to object storage under the extraction's draft key and only a
small `ExtractionSummary` goes back to the workflow, because findings with quotes can exceed what
workflow history should carry. The draft key is derived from the extraction id, so a retried attempt
overwrites the same object instead of leaving a second one behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from temporalio import activity

from charmelio.contract import (
    ActivityName,
    DescribeExtractorRequest,
    ExtractionResult,
    ExtractionSummary,
    ExtractorIdentity,
    ExtractRequest,
    ObjectKeys,
    ParsedPages,
    ProviderUsage,
)
from charmelio.errors import DocumentNotFoundError, InvalidInputError
from charmelio.llm_usage import read_llm_usage, write_llm_usage
from charmelio.settings import Settings
from charmelio.storage.objects import ObjectNotFoundError, ObjectStore, open_object_store
from llm_worker._chunk_replies import StoredChunkReplies
from llm_worker._extraction import extract_verified
from llm_worker._heartbeat import call_heartbeating
from llm_worker._identity import identity_of
from llm_worker._openai import OpenAIExtractor
from llm_worker._provider import ClauseExtractor, usage_of
from llm_worker._rules import RulesExtractor


class LLMActivities:
    """``llm_extract`` bound to the worker's object store and its one configured provider.

    The method is synchronous because the OpenAI client blocks on HTTP: the worker runs it in a
    thread pool sized by ``llm_concurrency``. It heartbeats every few seconds while the provider
    call, the one step that can take minutes, runs, so a worker that died mid-call is noticed by
    the heartbeat timeout (StagePolicy.LLM_HEARTBEAT), not by the 10-minute start-to-close.
    """

    def __init__(self, store: ObjectStore, extractor: ClauseExtractor) -> None:
        self._store = store
        self._extractor = extractor
        self._identity = identity_of(extractor)

    @activity.defn(name=ActivityName.DESCRIBE_EXTRACTOR)
    def describe_extractor(self, request: DescribeExtractorRequest) -> ExtractorIdentity:
        """The identity `llm_extract` records: a batch asks it to decide what to reuse."""
        return self._identity

    @activity.defn(name=ActivityName.LLM_EXTRACT)
    def llm_extract(self, request: ExtractRequest) -> ExtractionSummary:
        """Extract clauses, keep only those whose quotes are in the document, store the result.

        The result counts every request of the extraction, earlier failed attempts' included
        (`charmelio.llm_usage`); a failing attempt adds its own to that record before it fails.
        """
        pages = self._read_pages(request)
        activity.heartbeat("calling provider", self._extractor.name)
        earlier = ProviderUsage()
        if activity.info().attempt > 1:
            earlier = read_llm_usage(self._store, request.extraction_id)
        replies = StoredChunkReplies(self._store, request.extraction_id)
        spent = ProviderUsage()
        try:
            extraction = call_heartbeating(
                lambda on_progress: extract_verified(
                    pages, self._extractor, on_progress=on_progress, replies=replies
                ),
                activity.heartbeat,
            )
            activity.heartbeat("provider replied", self._extractor.name)
            result = _with_total_usage(extraction.result, earlier)
            spent = _usage_of_result(extraction.result)
            key = ObjectKeys.extraction_draft(request.extraction_id)
            self._store.put_bytes(
                key, result.model_dump_json().encode(), content_type="application/json"
            )
        except Exception as exc:
            self._record_failed_usage(
                request.extraction_id, earlier + (spent if spent.requests else usage_of(exc))
            )
            raise
        activity.logger.info(
            "extracted %d findings (%d quotes dropped) with %s/%s",
            len(result.findings),
            result.quotes_dropped,
            result.provider,
            result.model,
        )
        return ExtractionSummary(
            result_key=key,
            provider=result.provider,
            model=result.model,
            finding_count=len(result.findings),
            quotes_dropped=result.quotes_dropped,
            tokens_used=result.tokens_used,
            extractor=self._identity.key,
        )

    def _record_failed_usage(self, extraction_id: str, total: ProviderUsage) -> None:
        if not total.requests:
            return
        try:
            write_llm_usage(self._store, extraction_id, total)
        except Exception:
            # The attempt fails either way; losing its count must not replace its error.
            activity.logger.warning(
                "could not record the %d LLM requests of a failed attempt", total.requests
            )

    def _read_pages(self, request: ExtractRequest) -> ParsedPages:
        key = request.parsed.pages_key
        try:
            data = self._store.get_bytes(key)
        except ObjectNotFoundError:
            raise DocumentNotFoundError(
                f"no parsed pages are stored for document {request.document_id!r} "
                f"(looked for {key!r}); parse the document first",
                reason="pages_missing",
                key=key,
            ) from None
        except ValueError:
            raise InvalidInputError(
                f"invalid parsed-pages key {key[:200]!r}", reason="invalid_key"
            ) from None
        try:
            pages = ParsedPages.model_validate_json(data)
        except ValidationError as exc:
            raise InvalidInputError(
                f"{key} is not valid ParsedPages JSON ({exc.error_count()} errors)",
                reason="pages_invalid",
            ) from None
        if pages.document_id != request.document_id:
            raise InvalidInputError(
                f"{key} holds the pages of document {pages.document_id}, not {request.document_id}",
                reason="document_mismatch",
            )
        return pages


def _usage_of_result(result: ExtractionResult) -> ProviderUsage:
    return ProviderUsage(
        requests=result.llm_requests,
        prompt_tokens=result.prompt_tokens or 0,
        completion_tokens=result.completion_tokens or 0,
    )


def _with_total_usage(result: ExtractionResult, earlier: ProviderUsage) -> ExtractionResult:
    """The result counting the earlier failed attempts' requests and tokens too."""
    if not earlier.requests:
        return result
    total = earlier + _usage_of_result(result)
    return result.model_copy(
        update={
            "llm_requests": total.requests,
            "prompt_tokens": total.prompt_tokens,
            "completion_tokens": total.completion_tokens,
            "tokens_used": total.tokens,
        }
    )


def extractor_for(settings: Settings) -> ClauseExtractor:
    """The provider `Settings.effective_llm_provider` names: an LLM endpoint or offline rules."""
    if settings.effective_llm_provider == "openai":
        return OpenAIExtractor.from_settings(settings)
    return RulesExtractor()


def activities_for(settings: Settings) -> list[Callable[..., Any]]:
    """The llm pool's activities, sharing one object-store client and one provider client."""
    activities = LLMActivities(open_object_store(settings), extractor_for(settings))
    return [activities.llm_extract, activities.describe_extractor]
