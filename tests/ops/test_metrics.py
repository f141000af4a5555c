"""A worker built by the shared runtime serves the SDK's metrics and Charmelio's on one port."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from charmelio.contract import (
    ActivityName,
    ExtractionSummary,
    ExtractRequest,
    ObjectKeys,
    ParsedDocument,
    ParseRequest,
    StoredExtraction,
    StoreRequest,
    TaskQueue,
)
from charmelio.errors import LLMRateLimitedError
from charmelio.metrics import main as metrics_main
from charmelio.metrics import scrape, telemetry_runtime
from charmelio.settings import ConfigurationError, Settings
from charmelio.worker_runtime import PoolSpec, build_worker, connect
from operator_tools.devstack import free_port
from operator_tools.fakes.stages import Calls, fakes
from operator_tools.loadtest._probe import StageCall, StageProbeWorkflow

DOCUMENT = "doc_metrics"
EXTRACTION = "3f1c8a52-8a7e-4a8e-9b61-0c3d3b1f2a10"


def parsed() -> ParsedDocument:
    return ParsedDocument(
        document_id=DOCUMENT,
        pages_key=ObjectKeys.parsed_pages(DOCUMENT),
        sha256="0" * 64,
        page_count=7,
        char_count=7000,
        engine="fake",
        parse_seconds=0.1,
    )


def summary() -> ExtractionSummary:
    return ExtractionSummary(
        result_key=ObjectKeys.extraction_draft(EXTRACTION),
        provider="openai",
        model="fake",
        finding_count=3,
        quotes_dropped=2,
        tokens_used=1234,
    )


def stage_fakes() -> list[Callable[..., Any]]:
    """Parse, llm and store fakes on one queue; the llm attempt 1 is a 429, so it runs twice."""

    def rate_limited_once(calls: Calls) -> None:
        if activity.info().attempt == 1:
            raise LLMRateLimitedError("the provider said 429", reason="rate_limited")

    activities = fakes(
        Calls(),
        llm=rate_limited_once,
        parse_result=lambda _: parsed(),
        extract_result=lambda _: summary(),
        store_result=lambda _: StoredExtraction(
            extraction_id=EXTRACTION,
            artifact_key="extractions/x.json",
            clause_count=3,
            created=True,
        ),
    )
    return [
        *activities[TaskQueue.PARSE],
        *activities[TaskQueue.LLM],
        activities[TaskQueue.STORE][0],
    ]


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the one series of ``name`` whose labels include ``labels``."""
    values = []
    for line in text.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            values.append(float(match.group(3)))
    assert len(values) == 1, f"{name} {labels}: {values}"
    return values[0]


async def test_a_worker_serves_sdk_and_stage_metrics_after_running_activities(
    temporal_env: WorkflowEnvironment, temporal_client: Client
) -> None:
    port = free_port()
    address = temporal_client.service_client.config.target_host
    settings = Settings(_env_file=None, temporal_address=address, metrics_port=port)
    runtime = telemetry_runtime(settings, component="parse")
    assert runtime is not None
    client = await connect(settings, runtime=runtime)
    queue = f"metrics-{uuid.uuid4().hex[:8]}"
    spec = PoolSpec(name="parse", task_queue=queue, concurrency=2, activities=stage_fakes())
    probe_queue = f"{queue}-probe"
    async with (
        build_worker(client, spec, settings),
        Worker(temporal_client, task_queue=probe_queue, workflows=[StageProbeWorkflow]),
    ):
        # Ready once its pollers report, which takes the first poll (well under a second).
        for _ in range(100):
            if metrics_main(["ready", "--port", str(port)]) == 0:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the worker never reported pollers")
        calls = [
            (ActivityName.PARSE_PDF, ParseRequest(document_id=DOCUMENT)),
            (
                ActivityName.LLM_EXTRACT,
                ExtractRequest(document_id=DOCUMENT, extraction_id=EXTRACTION, parsed=parsed()),
            ),
            (
                ActivityName.STORE_RESULTS,
                StoreRequest(
                    extraction_id=EXTRACTION,
                    document_id=DOCUMENT,
                    workflow_id="wf",
                    parsed=parsed(),
                    extraction=summary(),
                ),
            ),
        ]
        for name, request in calls:
            await temporal_client.execute_workflow(
                StageProbeWorkflow.run,
                StageCall(
                    activity=name, task_queue=queue, argument=request.model_dump(mode="json")
                ),
                id=f"probe-{uuid.uuid4().hex}",
                task_queue=probe_queue,
            )
        text = scrape(port)

    # The SDK's own series, per queue.
    assert (
        sample(text, "temporal_activity_schedule_to_start_latency_count", task_queue=queue) == 4
    )  # parse, llm twice (one 429), store
    assert "temporal_worker_task_slots_used" in text
    assert (
        sample(
            text,
            "temporal_worker_task_slots_available",
            task_queue=queue,
            worker_type="ActivityWorker",
        )
        == 2
    )
    # Charmelio's, from the activities' results and errors.
    assert (
        sample(text, "charmelio_documents_parsed_total", task_queue=queue, component="parse") == 1
    )
    assert sample(text, "charmelio_pages_parsed_total", task_queue=queue) == 7
    assert sample(text, "charmelio_llm_tokens_total", task_queue=queue, provider="openai") == 1234
    assert sample(text, "charmelio_quotes_dropped_total", task_queue=queue) == 2
    assert sample(text, "charmelio_llm_rate_limited_total", task_queue=queue) == 1
    assert (
        sample(
            text,
            "charmelio_activity_errors_total",
            task_queue=queue,
            activity="llm_extract",
            error_type="LLMRateLimitedError",
        )
        == 1
    )
    assert (
        sample(text, "charmelio_store_latency_seconds_count", task_queue=queue, outcome="completed")
        == 1
    )


def test_metrics_are_off_by_default_and_a_taken_port_is_a_clear_error() -> None:
    assert telemetry_runtime(Settings(_env_file=None), component="parse") is None
    port = free_port()
    first = telemetry_runtime(Settings(_env_file=None, metrics_port=port), component="parse")
    assert first is not None
    with pytest.raises(ConfigurationError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
        telemetry_runtime(Settings(_env_file=None, metrics_port=port), component="llm")


def test_the_readiness_check_fails_without_a_metrics_endpoint() -> None:
    assert metrics_main(["ready", "--port", str(free_port())]) == 1
    assert metrics_main(["ready", "--port", "0"]) == 2
