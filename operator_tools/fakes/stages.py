"""Fake stages under the real activity names, and a pipeline of real workers to run them.

The one set of stage fakes: the workflow, parse, metrics and security tests, `record_histories`
(which records the histories the replay test checks every later workflow against) and the
orchestration benchmark all register these, so a change of a stage's contract is made once here.
Each fake records what it was called with and by which attempt (`Calls`); a ``Behaviour`` runs
first and may raise to fail that attempt, and a ``*_result`` function may replace the answer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from charmelio.contract import (
    ActivityName,
    BatchListRef,
    BatchPage,
    BatchPageRequest,
    DescribeExtractorRequest,
    ExtractionSummary,
    ExtractorIdentity,
    ExtractRequest,
    FailureReport,
    ObjectKeys,
    ParsedDocument,
    ParseRequest,
    SaveBatchListRequest,
    StoredExtraction,
    StoreRequest,
    TaskQueue,
)
from charmelio.errors import InvalidInputError
from charmelio.stages import PoolName
from workflows import BatchExtractionWorkflow, ExtractionWorkflow


@dataclass
class Calls:
    """What the fake stages saw, with per-attempt records."""

    parse: list[ParseRequest] = field(default_factory=list)
    llm: list[ExtractRequest] = field(default_factory=list)
    store: list[StoreRequest] = field(default_factory=list)
    failures: list[FailureReport] = field(default_factory=list)
    attempts: dict[str, list[int]] = field(default_factory=dict)
    # The batch side: lists by key, and each document's current extractor (what store_results
    # stored last), which read_batch_page's reuse check reads.
    lists: dict[str, list[str]] = field(default_factory=dict)
    extracted: dict[str, str] = field(default_factory=dict)
    pages: list[BatchPageRequest] = field(default_factory=list)

    def attempt(self, name: str) -> None:
        self.attempts.setdefault(name, []).append(activity.info().attempt)


def parsed_for(request: ParseRequest) -> ParsedDocument:
    return ParsedDocument(
        document_id=request.document_id,
        pages_key=ObjectKeys.parsed_pages(request.document_id),
        sha256="0" * 64,
        page_count=3,
        char_count=1200,
        engine="fake",
        parse_seconds=0.01,
    )


Behaviour = Callable[[Calls], None]

FAKE_EXTRACTOR = ExtractorIdentity(provider="fake", model="fake-1", version="result-v1")


def summary_for(request: ExtractRequest) -> ExtractionSummary:
    return ExtractionSummary(
        result_key=ObjectKeys.extraction_draft(request.extraction_id),
        provider="fake",
        model="fake-1",
        finding_count=2,
        extractor=FAKE_EXTRACTOR.key,
    )


def stored_for(request: StoreRequest) -> StoredExtraction:
    return StoredExtraction(
        extraction_id=request.extraction_id,
        artifact_key=ObjectKeys.extraction_artifact(request.document_id, request.extraction_id),
        clause_count=2,
        created=True,
    )


def fakes(
    calls: Calls,
    *,
    parse: Behaviour | None = None,
    llm: Behaviour | None = None,
    store: Behaviour | None = None,
    record: Behaviour | None = None,
    parse_gate: asyncio.Event | None = None,
    parse_result: Callable[[ParseRequest], ParsedDocument] = parsed_for,
    extract_result: Callable[[ExtractRequest], ExtractionSummary] = summary_for,
    store_result: Callable[[StoreRequest], StoredExtraction] = stored_for,
) -> dict[TaskQueue, list[Callable[..., Any]]]:
    """The four stage activities, by the queue each is registered on."""

    @activity.defn(name=ActivityName.PARSE_PDF)
    async def parse_pdf(request: ParseRequest) -> ParsedDocument:
        calls.attempt(PoolName.PARSE)
        calls.parse.append(request)
        if parse_gate is not None:
            await parse_gate.wait()
        if parse:
            parse(calls)
        return parse_result(request)

    @activity.defn(name=ActivityName.LLM_EXTRACT)
    async def llm_extract(request: ExtractRequest) -> ExtractionSummary:
        calls.attempt(PoolName.LLM)
        calls.llm.append(request)
        if llm:
            llm(calls)
        return extract_result(request)

    @activity.defn(name=ActivityName.STORE_RESULTS)
    async def store_results(request: StoreRequest) -> StoredExtraction:
        calls.attempt(PoolName.STORE)
        calls.store.append(request)
        if store:
            store(calls)
        stored = store_result(request)
        calls.extracted[request.document_id] = request.extraction.extractor
        return stored

    @activity.defn(name=ActivityName.RECORD_FAILURE)
    async def record_failure(report: FailureReport) -> None:
        calls.attempt("record")
        calls.failures.append(report)
        if record:
            record(calls)

    @activity.defn(name=ActivityName.DESCRIBE_EXTRACTOR)
    async def describe_extractor(request: DescribeExtractorRequest) -> ExtractorIdentity:
        return FAKE_EXTRACTOR

    @activity.defn(name=ActivityName.SAVE_BATCH_LIST)
    async def save_batch_list(request: SaveBatchListRequest) -> BatchListRef:
        key = ObjectKeys.batch_list(request.batch_id)
        calls.lists[key] = list(request.document_ids)
        return BatchListRef(list_key=key, total=len(request.document_ids))

    @activity.defn(name=ActivityName.READ_BATCH_PAGE)
    async def read_batch_page(request: BatchPageRequest) -> BatchPage:
        calls.pages.append(request)
        if request.list_key not in calls.lists:  # as store_worker answers: final, with a reason
            raise InvalidInputError(
                f"batch list {request.list_key} does not exist", reason="list_missing"
            )
        ids = calls.lists[request.list_key]
        page = ids[request.offset : request.offset + request.limit]
        reusable = [
            doc
            for doc in page
            if request.extractor is not None and calls.extracted.get(doc) == request.extractor
        ]
        return BatchPage(document_ids=page, reusable=reusable, total=len(ids))

    return {
        TaskQueue.PARSE: [parse_pdf],
        TaskQueue.LLM: [llm_extract, describe_extractor],
        TaskQueue.STORE: [store_results, record_failure, save_batch_list, read_batch_page],
    }


@asynccontextmanager
async def pipeline(
    client: Client,
    activities: dict[TaskQueue, list[Callable[..., Any]]],
    *,
    max_cached_workflows: int = 1000,
    pools: Sequence[TaskQueue] = (TaskQueue.PARSE, TaskQueue.LLM, TaskQueue.STORE),
) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(
            Worker(
                client,
                task_queue=TaskQueue.WORKFLOW.value,
                workflows=[ExtractionWorkflow, BatchExtractionWorkflow],
                max_cached_workflows=max_cached_workflows,
            )
        )
        for queue in pools:
            await stack.enter_async_context(
                Worker(client, task_queue=queue.value, activities=activities[queue])
            )
        yield


def new_document_id() -> str:
    return f"doc_{uuid.uuid4().hex[:16]}"
