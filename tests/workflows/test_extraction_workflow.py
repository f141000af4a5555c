"""ExtractionWorkflow on a real Temporal dev server, with fake stages under the real activity names.

The fakes are registered on the real queue names because routing is part of what is tested: a
misspelled queue would leave the task in a backlog forever and the test would time out.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.worker import Replayer, Worker

from charmelio.contract import (
    ExtractionCompleted,
    ExtractRequest,
    ParseRequest,
    Stage,
    TaskQueue,
)
from charmelio.errors import LLMRequestError, LLMUnavailableError, PDFParseError, PDFValidationError
from charmelio.settings import Settings
from charmelio.starter import follow, start_extraction
from operator_tools.fakes.stages import Calls, fakes, new_document_id, parsed_for, pipeline
from workflows import BatchExtractionWorkflow, ExtractionWorkflow
from workflows.worker import pool_spec

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def start(client: Client, document_id: str | None = None) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(
        "ExtractionWorkflow",
        document_id or new_document_id(),
        id=f"test-{uuid.uuid4()}",
        task_queue=TaskQueue.WORKFLOW.value,
        execution_timeout=timedelta(minutes=2),
    )


async def test_runs_the_three_stages_in_order_with_one_extraction_id(
    temporal_client: Client,
) -> None:
    calls = Calls()
    document_id = new_document_id()
    async with pipeline(temporal_client, fakes(calls)):
        handle = await start(temporal_client, document_id)
        result = await handle.result()
        assert await handle.query("current_stage") == Stage.COMPLETED.value

    assert set(result) == {"status", "document_id", "extraction_id"}
    assert result["status"] == "completed"
    assert result["document_id"] == document_id
    extraction_id = result["extraction_id"]
    uuid.UUID(extraction_id)

    assert calls.parse == [ParseRequest(document_id=document_id)]
    assert calls.llm == [
        ExtractRequest(
            document_id=document_id,
            extraction_id=extraction_id,
            parsed=parsed_for(ParseRequest(document_id=document_id)),
        )
    ]
    [stored] = calls.store
    assert stored.extraction_id == extraction_id
    assert stored.document_id == document_id
    assert stored.workflow_id == handle.id
    assert stored.parsed == calls.llm[0].parsed
    assert stored.extraction.result_key == f"work/{extraction_id}/extraction.json"
    assert calls.failures == []


async def test_extraction_id_is_stable_when_every_task_replays_history(
    temporal_client: Client,
) -> None:
    # With no workflow cache every workflow task rebuilds the workflow from history, so each
    # activity completion replays the uuid4() call made in the first task.
    calls = Calls()
    async with pipeline(temporal_client, fakes(calls), max_cached_workflows=0):
        handle = await start(temporal_client)
        result = await handle.result()
    assert calls.llm[0].extraction_id == calls.store[0].extraction_id == result["extraction_id"]

    history = await handle.fetch_history()
    replayer = Replayer(workflows=[ExtractionWorkflow], data_converter=pydantic_data_converter)
    replay = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert replay.replay_failure is None


async def test_history_payloads_stay_small(temporal_client: Client) -> None:
    calls = Calls()
    async with pipeline(temporal_client, fakes(calls)):
        handle = await start(temporal_client)
        await handle.result()
    history = await handle.fetch_history()
    biggest = max(len(event.SerializeToString()) for event in history.events)
    assert biggest < 64 * 1024


@pytest.mark.parametrize(
    "error",
    [
        PDFValidationError("not a PDF", reason="not_a_pdf"),
        PDFParseError("damaged beyond repair", reason="unreadable"),
    ],
    ids=["validation", "parse"],
)
async def test_non_retryable_parse_errors_stop_after_one_attempt_and_are_recorded(
    temporal_client: Client, error: ApplicationError
) -> None:
    def fail(_: Calls) -> None:
        raise error

    calls = Calls()
    async with pipeline(temporal_client, fakes(calls, parse=fail)):
        handle = await start(temporal_client)
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        assert await handle.query("current_stage") == Stage.FAILED.value

    assert calls.attempts["parse"] == [1]
    assert calls.llm == []
    assert calls.store == []
    [report] = calls.failures
    assert report.stage == Stage.PARSING
    assert report.error_type == error.type
    assert error.message in report.message
    assert "reason:" in report.message
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == error.type
    assert "parsing failed" in cause.message


async def test_other_parse_errors_get_two_attempts(temporal_client: Client) -> None:
    def fail(_: Calls) -> None:
        raise RuntimeError("object storage hiccup")

    calls = Calls()
    async with pipeline(temporal_client, fakes(calls, parse=fail)):
        handle = await start(temporal_client)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    assert calls.attempts["parse"] == [1, 2]
    assert calls.failures[0].error_type == "RuntimeError"


async def test_llm_gets_three_attempts_with_backoff_then_failure_is_recorded(
    temporal_client: Client,
) -> None:
    def fail(_: Calls) -> None:
        raise LLMUnavailableError("provider returned 503")

    calls = Calls()
    async with pipeline(temporal_client, fakes(calls, llm=fail)):
        handle = await start(temporal_client)
        with pytest.raises(WorkflowFailureError):
            await handle.result()

    assert calls.attempts["llm"] == [1, 2, 3]
    history = await handle.fetch_history()
    scheduled = [
        e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
    ]
    llm_policy = next(
        e.activity_task_scheduled_event_attributes.retry_policy
        for e in scheduled
        if e.activity_task_scheduled_event_attributes.activity_type.name == "llm_extract"
    )
    assert llm_policy.maximum_attempts == 3
    assert llm_policy.initial_interval.ToTimedelta() == timedelta(seconds=2)
    assert llm_policy.backoff_coefficient == 2.0
    assert llm_policy.maximum_interval.ToTimedelta() == timedelta(seconds=30)
    [report] = calls.failures
    assert (report.stage, report.error_type) == (Stage.EXTRACTING, "LLMUnavailableError")
    assert calls.store == []


async def test_a_final_llm_error_is_not_retried(temporal_client: Client) -> None:
    def fail(_: Calls) -> None:
        raise LLMRequestError("401 from provider: check CHARMELIO_OPENAI_API_KEY")

    calls = Calls()
    async with pipeline(temporal_client, fakes(calls, llm=fail)):
        handle = await start(temporal_client)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    assert calls.attempts["llm"] == [1]
    assert calls.failures[0].error_type == "LLMRequestError"


async def test_store_gets_three_attempts_and_succeeds_on_the_last(temporal_client: Client) -> None:
    def flaky(calls: Calls) -> None:
        if len(calls.store) < 3:
            raise RuntimeError("database restarting")

    calls = Calls()
    async with pipeline(temporal_client, fakes(calls, store=flaky)):
        handle = await start(temporal_client)
        result = await handle.result()
    assert calls.attempts["store"] == [1, 2, 3]
    assert {request.extraction_id for request in calls.store} == {result["extraction_id"]}
    assert calls.failures == []


async def test_store_failing_three_times_is_recorded(temporal_client: Client) -> None:
    def fail(_: Calls) -> None:
        raise RuntimeError("database down")

    calls = Calls()
    async with pipeline(temporal_client, fakes(calls, store=fail)):
        handle = await start(temporal_client)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    assert calls.attempts["store"] == [1, 2, 3]
    assert calls.failures[0].stage == Stage.STORING
    assert calls.failures[0].extraction_id == calls.store[0].extraction_id


async def test_the_workflow_still_fails_clearly_when_recording_the_failure_fails(
    temporal_client: Client,
) -> None:
    def fail_parse(_: Calls) -> None:
        raise PDFValidationError("encrypted", reason="encrypted")

    def fail_record(_: Calls) -> None:
        raise ApplicationError("no database", type="Fatal", non_retryable=True)

    calls = Calls()
    async with pipeline(temporal_client, fakes(calls, parse=fail_parse, record=fail_record)):
        handle = await start(temporal_client)
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert calls.attempts["record"] == [1]
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "PDFValidationError"


async def test_an_invalid_document_id_fails_at_once_without_any_stage(
    temporal_client: Client,
) -> None:
    calls = Calls()
    async with pipeline(temporal_client, fakes(calls)):
        handle = await start(temporal_client, "../../etc/passwd")
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "InvalidInputError"
    assert calls.parse == []
    assert calls.failures == []


async def test_query_reports_the_current_stage_and_a_second_start_attaches(
    temporal_client: Client,
) -> None:
    calls = Calls()
    gate = asyncio.Event()
    document_id = new_document_id()
    stages: list[str] = []
    async with pipeline(temporal_client, fakes(calls, parse_gate=gate)):
        first = await start_extraction(temporal_client, document_id)
        while not calls.parse:
            await asyncio.sleep(0.05)
        assert await first.query("current_stage") == Stage.PARSING.value

        second = await start_extraction(temporal_client, document_id)
        assert second.id == first.id
        assert second.result_run_id == first.result_run_id

        follower = asyncio.ensure_future(follow(second, stages.append, interval=0.05))
        while not stages:
            await asyncio.sleep(0.05)
        gate.set()
        result = await follower
    assert isinstance(result, ExtractionCompleted)
    assert len(calls.parse) == 1
    assert len(calls.store) == 1
    assert stages[0] == Stage.PARSING.value
    assert stages[-1] == Stage.COMPLETED.value


async def test_documents_wait_at_a_stage_whose_pool_is_down_and_finish_when_it_returns(
    temporal_client: Client,
) -> None:
    calls = Calls()
    activities = fakes(calls)
    async with pipeline(temporal_client, activities, pools=(TaskQueue.PARSE, TaskQueue.STORE)):
        handle = await start(temporal_client)
        while not calls.parse:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        assert await handle.query("current_stage") == Stage.EXTRACTING.value
        assert calls.llm == []
        async with Worker(
            temporal_client, task_queue=TaskQueue.LLM.value, activities=activities[TaskQueue.LLM]
        ):
            result = await handle.result()
    assert result["status"] == "completed"


async def test_workflow_pool_spec_polls_only_workflows_on_the_extraction_queue() -> None:
    spec = pool_spec(Settings(workflow_concurrency=7))
    assert spec.task_queue == "extraction-queue"
    assert list(spec.workflows) == [ExtractionWorkflow, BatchExtractionWorkflow]
    assert list(spec.activities) == []
    assert spec.concurrency == 7


async def test_start_extraction_uses_the_document_workflow_id_and_attach_policy(
    temporal_client: Client,
) -> None:
    document_id = new_document_id()
    handle = await start_extraction(temporal_client, document_id)
    description = await handle.describe()
    assert handle.id == f"extraction-{document_id}"
    assert description.task_queue == "extraction-queue"
    await handle.terminate("test cleanup")
