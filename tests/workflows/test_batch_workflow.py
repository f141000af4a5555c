"""BatchExtractionWorkflow on a real Temporal dev server, with the fake stages.

Sizes are small but chosen to cross every boundary: more documents than the window, more than one
run's page (so the batch continues as new, asserted on the server's own record of its runs).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from charmelio.batches import (
    BatchHandle,
    batch_handle,
    cancel_batch,
    new_batch_id,
    start_batch,
)
from charmelio.contract import (
    BatchInput,
    BatchProgress,
    ErrorType,
    ExtractionCompleted,
    ObjectKeys,
    ParsedDocument,
    ParseRequest,
    TaskQueue,
    workflow_id_for,
)
from charmelio.errors import PDFValidationError
from charmelio.starter import start_extraction
from operator_tools.fakes.stages import Calls, fakes, new_document_id, parsed_for, pipeline

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _documents(count: int) -> list[str]:
    return [new_document_id() for _ in range(count)]


def _batch_id() -> str:
    return new_batch_id(uuid.uuid4().hex[:16])


async def _run(client: Client, batch: BatchInput, batch_id: str | None = None) -> BatchProgress:
    handle = await start_batch(client, batch_id or _batch_id(), batch)
    return await asyncio.wait_for(handle.result(), 120)


async def _runs_of(client: Client, batch_id: str) -> list[str]:
    """Close events of every run of the batch, oldest first (the server's word, not ours)."""
    closes = []
    async for execution in client.list_workflows(f"WorkflowId = '{batch_id}'"):
        handle = client.get_workflow_handle(batch_id, run_id=execution.run_id)
        history = await handle.fetch_history()
        last = history.events[-1]
        closes.append((execution.start_time, EventType.Name(last.event_type)))
    return [name for _, name in sorted(closes)]


async def test_a_batch_larger_than_window_and_page_continues_as_new_and_extracts_each_once(
    temporal_client: Client,
) -> None:
    calls = Calls()
    documents = _documents(23)
    batch_id = _batch_id()
    async with pipeline(temporal_client, fakes(calls)):
        result = await _run(
            temporal_client,
            BatchInput(document_ids=documents, max_in_flight=4, documents_per_run=10),
            batch_id,
        )
    assert (result.status, result.total, result.done, result.failed) == ("completed", 23, 23, 0)
    assert (result.in_flight, result.waiting, result.runs) == (0, 0, 3)
    assert Counter(request.document_id for request in calls.store) == Counter(documents)
    runs = await _runs_of(temporal_client, batch_id)
    assert runs == [
        "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW",
        "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW",
        "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",
    ]
    # The window held: never more than 4 documents between parse and store.
    assert max(len(calls.parse) - len(calls.store), 0) <= 4


async def test_a_failing_document_is_recorded_while_the_rest_complete(
    temporal_client: Client,
) -> None:
    calls = Calls()
    documents = _documents(8)
    broken = documents[3]

    def parse(request: ParseRequest) -> ParsedDocument:
        if request.document_id == broken:
            raise PDFValidationError("the file is not a PDF", reason="not_a_pdf")
        return parsed_for(request)

    async with pipeline(temporal_client, fakes(calls, parse_result=parse)):
        result = await _run(temporal_client, BatchInput(document_ids=documents, max_in_flight=3))
    assert (result.status, result.done, result.failed) == ("completed", 7, 1)
    [failure] = result.failures
    assert failure.document_id == broken
    assert failure.error_type == "PDFValidationError"
    assert "not a PDF" in failure.message
    assert result.failures_by_type == {"PDFValidationError": 1}
    assert [report.document_id for report in calls.failures] == [broken]


async def test_cancel_stops_new_documents_and_lets_those_in_flight_finish(
    temporal_client: Client,
) -> None:
    calls = Calls()
    gate = asyncio.Event()
    documents = _documents(12)
    async with pipeline(temporal_client, fakes(calls, parse_gate=gate)):
        handle = await start_batch(
            temporal_client, _batch_id(), BatchInput(document_ids=documents, max_in_flight=3)
        )
        for _ in range(200):
            if len(calls.parse) >= 3:
                break
            await asyncio.sleep(0.05)
        progress = await handle.query("batch_progress", result_type=BatchProgress)
        assert (progress.in_flight, progress.waiting) == (3, 9)
        await cancel_batch(handle)
        await asyncio.sleep(0.5)
        gate.set()
        result = await asyncio.wait_for(handle.result(), 60)
    assert (result.status, result.done, result.skipped, result.waiting) == ("cancelled", 3, 9, 0)
    assert len(calls.parse) == 3


async def _three_in_flight(
    client: Client, calls: Calls, gate: asyncio.Event, documents: list[str]
) -> BatchHandle:
    handle = await start_batch(
        client, _batch_id(), BatchInput(document_ids=documents, max_in_flight=3)
    )
    await _wait_for(lambda: len(calls.parse) >= 3, 10)
    progress = await handle.query("batch_progress", result_type=BatchProgress)
    assert (progress.in_flight, progress.waiting) == (3, len(documents) - 3)
    return handle


async def test_a_temporal_cancel_is_the_cancel_signal_children_in_flight_finish_and_store(
    temporal_client: Client,
) -> None:
    """`handle.cancel()` (`temporal workflow cancel`, the UI's button) must not cancel the
    children: the batch starts nothing new, those in flight store, the batch ends `cancelled`."""
    calls = Calls()
    gate = asyncio.Event()
    documents = _documents(10)
    async with pipeline(temporal_client, fakes(calls, parse_gate=gate)):
        handle = await _three_in_flight(temporal_client, calls, gate, documents)
        await handle.cancel()
        await asyncio.sleep(0.5)
        gate.set()
        result = await asyncio.wait_for(handle.result(), 60)
        started = [request.document_id for request in calls.parse]
        children = [
            await temporal_client.get_workflow_handle(workflow_id_for(doc)).describe()
            for doc in started
        ]
    assert (result.status, result.done, result.skipped, result.waiting) == ("cancelled", 3, 7, 0)
    assert sorted(request.document_id for request in calls.store) == sorted(started)
    assert [child.status for child in children] == [WorkflowExecutionStatus.COMPLETED] * 3
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_a_terminated_batch_starts_nothing_more_and_its_children_finish_and_store(
    temporal_client: Client,
) -> None:
    """Terminate ends the batch at once (no progress answer is left); its children are abandoned
    (ParentClosePolicy.ABANDON), so they run on and store."""
    calls = Calls()
    gate = asyncio.Event()
    documents = _documents(10)
    async with pipeline(temporal_client, fakes(calls, parse_gate=gate)):
        handle = await _three_in_flight(temporal_client, calls, gate, documents)
        await handle.terminate("operator stopped it")
        gate.set()
        started = [request.document_id for request in calls.parse]
        results = [
            await asyncio.wait_for(
                temporal_client.get_workflow_handle(
                    workflow_id_for(doc), result_type=ExtractionCompleted
                ).result(),
                60,
            )
            for doc in started
        ]
        await asyncio.sleep(1)  # time for a batch that wrongly went on to start another
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
    assert [result.document_id for result in results] == started
    assert len(calls.parse) == 3
    assert sorted(request.document_id for request in calls.store) == sorted(started)


async def test_a_document_already_extracted_by_the_same_extractor_is_reused_unless_forced(
    temporal_client: Client,
) -> None:
    calls = Calls()
    documents = _documents(6)
    async with pipeline(temporal_client, fakes(calls)):
        first = await _run(temporal_client, BatchInput(document_ids=documents))
        again = await _run(temporal_client, BatchInput(document_ids=documents))
        assert len(calls.parse) == 6
        # Another extractor made one of them: that one alone is extracted again.
        calls.extracted[documents[0]] = "openai/gpt-x/result-v1+prompt-0"
        changed = await _run(temporal_client, BatchInput(document_ids=documents))
        forced = await _run(temporal_client, BatchInput(document_ids=documents, force=True))
    assert (first.done, first.reused) == (6, 0)
    assert (again.done, again.reused) == (0, 6)
    assert (changed.done, changed.reused) == (1, 5)
    assert (forced.done, forced.reused) == (6, 0)
    assert Counter(request.document_id for request in calls.parse) == Counter(
        {doc: 2 for doc in documents} | {documents[0]: 3}
    )


async def test_a_batch_from_a_list_in_object_storage_reads_it_page_by_page(
    temporal_client: Client,
) -> None:
    calls = Calls()
    documents = _documents(7)
    batch_id = _batch_id()
    key = ObjectKeys.batch_list(batch_id)
    calls.lists[key] = documents
    async with pipeline(temporal_client, fakes(calls)):
        result = await _run(
            temporal_client, BatchInput(list_key=key, documents_per_run=3), batch_id
        )
    assert (result.done, result.runs) == (7, 3)
    assert [(page.offset, page.limit) for page in calls.pages] == [(0, 1), (0, 3), (3, 3), (6, 3)]


async def test_a_list_that_cannot_be_read_fails_the_batch_at_once_with_its_reason(
    temporal_client: Client,
) -> None:
    calls = Calls()
    batch_id = _batch_id()
    async with pipeline(temporal_client, fakes(calls)):
        handle = await start_batch(
            temporal_client, batch_id, BatchInput(list_key=ObjectKeys.batch_list(batch_id))
        )
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(handle.result(), 30)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == ErrorType.INVALID_INPUT.value
    assert "the batch list cannot be read" in cause.message
    assert len(calls.pages) == 1  # final at once, not retried
    assert calls.parse == []


async def test_a_document_being_extracted_elsewhere_is_waited_for_and_then_reused(
    temporal_client: Client,
) -> None:
    calls = Calls()
    gate = asyncio.Event()
    busy, other = _documents(2)
    async with pipeline(temporal_client, fakes(calls, parse_gate=gate)):
        # Someone else's extraction of `busy` is running when the batch reaches it.
        elsewhere = await start_extraction(temporal_client, busy)
        await _wait_for(lambda: len(calls.parse) >= 1, 10)
        handle = await start_batch(
            temporal_client, _batch_id(), BatchInput(document_ids=[busy, other])
        )
        await _wait_for(lambda: len(calls.parse) >= 2, 10)
        gate.set()
        await asyncio.wait_for(elsewhere.result(), 30)
        result = await asyncio.wait_for(handle.result(), 60)
    assert (result.status, result.done, result.reused, result.failed) == ("completed", 1, 1, 0)
    # One extraction of each document: the batch started none of its own for `busy`.
    assert sorted(request.document_id for request in calls.store) == sorted([busy, other])


async def test_an_invalid_batch_id_fails_at_once(temporal_client: Client) -> None:
    calls = Calls()
    async with pipeline(temporal_client, fakes(calls)):
        handle = await temporal_client.start_workflow(
            "BatchExtractionWorkflow",
            BatchInput(document_ids=_documents(1)),
            id=f"not-a-batch-{uuid.uuid4().hex[:8]}",
            task_queue=TaskQueue.WORKFLOW.value,
        )
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(handle.result(), 30)
    assert "invalid batch id" in str(failed.value.cause)


WORKFLOW_POOL = [sys.executable, "-m", "workflows"]


def _workflow_pool(target: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CHARMELIO_TEMPORAL_ADDRESS": target, "CHARMELIO_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(WORKFLOW_POOL, env=env, stderr=subprocess.DEVNULL)


async def _wait_for(condition: Callable[[], bool], seconds: float) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_the_batch_survives_its_workflow_worker_killed_and_its_starter_gone(
    temporal_client: Client,
) -> None:
    """SIGKILL the workflow pool mid-batch, with nobody following the batch: a new workflow
    process picks the batch up from history and every document is extracted exactly once."""
    from temporalio.worker import Worker

    calls = Calls()
    documents = _documents(30)
    batch_id = _batch_id()
    target = temporal_client.service_client.config.target_host
    activities = fakes(calls)
    workers = [
        Worker(temporal_client, task_queue=queue.value, activities=activities[queue])
        for queue in (TaskQueue.PARSE, TaskQueue.LLM, TaskQueue.STORE)
    ]
    for worker in workers:
        await worker.__aenter__()
    first = _workflow_pool(target)
    second: subprocess.Popen[bytes] | None = None
    try:
        # Started and forgotten, as by a CLI that was closed: nothing here waits on it.
        await start_batch(
            temporal_client,
            batch_id,
            BatchInput(document_ids=documents, max_in_flight=5, documents_per_run=12),
        )
        await _wait_for(lambda: len(calls.store) >= 8, 60)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        stored_at_kill = len(calls.store)
        second = _workflow_pool(target)
        result = await asyncio.wait_for(batch_handle(temporal_client, batch_id).result(), 120)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(10)
        for worker in workers:
            await worker.__aexit__(None, None, None)
    assert stored_at_kill < 30
    assert (result.done, result.failed, result.reused) == (30, 0, 0)
    assert Counter(request.document_id for request in calls.store) == Counter(documents)
