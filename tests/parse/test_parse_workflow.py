"""Bad files through the real workflow: the real parse pool refuses each one, once, with its reason.

ExtractionWorkflow and the production parse pool (`parse_worker.worker.pool_spec` built by the
worker runtime, so its thread pool and engine processes are the real ones) run on a real Temporal
dev server. The llm and store stages are fakes registered under the real activity names on the
real queues; the fake ``record_failure`` keeps the reports the store pool would write to the
extraction row.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from charmelio.contract import (
    ActivityName,
    ObjectKeys,
    Stage,
    TaskQueue,
)
from charmelio.settings import Settings
from charmelio.storage.objects import LocalObjectStore
from charmelio.worker_runtime import build_worker
from operator_tools.fakes.stages import Calls, fakes
from operator_tools.fakes.stages import pipeline as fake_pipeline
from parse_worker.worker import pool_spec
from tests.parse.pdfs import SMALL_CONTRACT, awkward, blank_pdf, cuad

pytestmark = pytest.mark.asyncio(loop_scope="session")


@asynccontextmanager
async def pipeline(client: Client, settings: Settings, calls: Calls) -> AsyncIterator[None]:
    """The real workflow and parse pool; the llm and store stages are the shared fakes."""
    async with (
        build_worker(client, pool_spec(settings), settings),
        fake_pipeline(client, fakes(calls), pools=(TaskQueue.LLM, TaskQueue.STORE)),
    ):
        yield


# name: (the file, made from the session's decompression bomb if it wants it; type; reason)
BAD_FILES: dict[str, tuple[Callable[[bytes], bytes], str, str]] = {
    "empty": (lambda _: b"", "PDFValidationError", "empty"),
    "random-bytes": (
        lambda _: random.Random(3).randbytes(8192),
        "PDFValidationError",
        "not_a_pdf",
    ),
    "html-named-pdf": (
        lambda _: b"<!DOCTYPE html><html><body><h1>Services Agreement</h1></body></html>",
        "PDFValidationError",
        "not_a_pdf",
    ),
    "over-50-mb": (
        lambda _: cuad(SMALL_CONTRACT) + b"\n" * (50 * 1024 * 1024),
        "PDFValidationError",
        "too_large",
    ),
    "over-2000-pages": (lambda _: blank_pdf(2001), "PDFValidationError", "too_many_pages"),
    "decompression-bomb": (lambda bomb: bomb, "PDFParseError", "memory_limit"),
    "encrypted": (
        lambda _: awkward("sf_encrypted_userpw_libreoffice.pdf"),
        "PDFValidationError",
        "encrypted",
    ),
    "scanned-no-text": (
        lambda _: awkward("sf_image_only_ccittfax.pdf"),
        "PDFValidationError",
        "no_text_layer",
    ),
    "no-header": (
        lambda _: awkward("qpdf_no_header_no_trailer.pdf"),
        "PDFValidationError",
        "not_a_pdf",
    ),
    "truncated": (
        lambda _: awkward("truncated_contract_55pct.pdf"),
        "PDFParseError",
        "unreadable",
    ),
}


async def start(client: Client, document_id: str) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(
        "ExtractionWorkflow",
        document_id,
        id=f"test-parse-{document_id}",
        task_queue=TaskQueue.WORKFLOW.value,
        execution_timeout=timedelta(minutes=2),
    )


async def parse_attempts(handle: WorkflowHandle[Any, Any]) -> list[int]:
    """The attempt number of each parse_pdf activity the workflow scheduled."""
    history = await handle.fetch_history()
    scheduled = {
        event.event_id
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
        and event.activity_task_scheduled_event_attributes.activity_type.name
        == ActivityName.PARSE_PDF
    }
    return [
        event.activity_task_started_event_attributes.attempt
        for event in history.events
        if event.HasField("activity_task_started_event_attributes")
        and event.activity_task_started_event_attributes.scheduled_event_id in scheduled
    ]


async def test_each_bad_file_ends_its_workflow_after_one_parse_attempt_with_its_reason(
    temporal_client: Client, tmp_path: Path, bomb: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="temporalio")
    settings = Settings(
        storage_backend="local", storage_dir=tmp_path / "objects", parse_concurrency=2
    )
    store = LocalObjectStore(settings.storage_dir)
    run = uuid.uuid4().hex[:8]
    document_ids = {name: f"doc_{run}_{name}" for name in BAD_FILES}
    for name, (make, _, _) in BAD_FILES.items():
        store.put_bytes(ObjectKeys.document_pdf(document_ids[name]), make(bomb))
    good_id = f"doc_{run}_good"
    store.put_bytes(ObjectKeys.document_pdf(good_id), cuad(SMALL_CONTRACT))

    calls = Calls()
    async with pipeline(temporal_client, settings, calls):
        handles = {name: await start(temporal_client, doc) for name, doc in document_ids.items()}
        for name, handle in handles.items():
            with pytest.raises(WorkflowFailureError) as failure:
                await handle.result()
            _, error_type, _ = BAD_FILES[name]
            cause = failure.value.cause
            assert isinstance(cause, ApplicationError), name
            assert cause.type == error_type, name
            assert await parse_attempts(handle) == [1], name

        # The same pool, after every one of those, still parses the next document.
        good = await start(temporal_client, good_id)
        result = await asyncio.wait_for(good.result(), timeout=60)

    assert result["status"] == "completed"
    [stored] = calls.store
    assert stored.parsed.page_count == 4
    assert stored.parsed.engine.startswith("pdfium ")

    reports = {report.document_id: report for report in calls.failures}
    assert len(calls.failures) == len(BAD_FILES)
    for name, (_, error_type, reason) in BAD_FILES.items():
        report = reports[document_ids[name]]
        assert report.stage == Stage.PARSING, name
        assert report.error_type == error_type, name
        assert f"(reason: {reason})" in report.message, name
    # An expected refusal is an answer, not a fault: the SDK logs it at DEBUG, never with a
    # traceback at WARNING (the worker's own one line per attempt says what happened).
    refusals = [
        r for r in caplog.records if r.getMessage().startswith("Completing activity as failed")
    ]
    assert len(refusals) >= len(BAD_FILES)
    assert all(r.levelno == logging.DEBUG for r in refusals)
