"""One load-test run: a fresh embedded stack, prepared inputs, the streams, the figures.

Every run starts its own stack (Temporal dev server, embedded Postgres, local objects, worker
processes with their metrics ports) under the output directory, so runs with different pool sizes
start from the same empty state and nothing of the user's `charmelio dev` stack is touched.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from charmelio.contract import (
    WORKFLOW_TYPE,
    ExtractionCompleted,
    ExtractionResult,
    ExtractionSummary,
    ExtractRequest,
    ObjectKeys,
    ParsedDocument,
    ParseRequest,
    StoreRequest,
    TaskQueue,
    workflow_id_for,
)
from charmelio.documents import UploadedDocument, upload_pdf
from charmelio.metrics import scrape
from charmelio.settings import Settings
from charmelio.stages import QUEUE_OF_POOL, STAGES, PoolName, pool_of_queue
from charmelio.storage.objects import ObjectStore, open_object_store
from charmelio.worker_runtime import connect
from operator_tools.devstack import DevStack, free_port
from operator_tools.fakes.openai_server import FakeOpenAIServer
from operator_tools.loadtest._cpu import cores_used, snapshot
from operator_tools.loadtest._documents import contract_pdf, variant
from operator_tools.loadtest._drive import StartItem, StreamOutcome, drive
from operator_tools.loadtest._observe import (
    BacklogSample,
    queue_figures,
    read_attempts,
    sample_backlogs,
    wait_for_pollers,
)
from operator_tools.loadtest._probe import StageCall, StageProbeWorkflow
from operator_tools.loadtest._scenarios import STAGE_QUEUES, Load, Scenario

PROBE_QUEUE = "loadtest-probe"


class LoadTestError(RuntimeError):
    """The stack could not be prepared for a run (a pool failing on the first document, say)."""


ALL_QUEUES: tuple[str, ...] = tuple(QUEUE_OF_POOL.values())
# Charmelio's own counters, summed over a run's worker processes for the report.
REPORTED_COUNTERS = (
    "charmelio_documents_parsed_total",
    "charmelio_pages_parsed_total",
    "charmelio_llm_tokens_total",
    "charmelio_llm_rate_limited_total",
    "charmelio_quotes_dropped_total",
    "charmelio_activity_errors_total",
)
# A queue-wide rate limit is shared out among a queue's partitions (4 by default): measured, a
# 4.5/s limit held one llm process with 2 slots of 1 s calls to 1.57/s instead of 1.85/s. One
# partition per queue (a fresh server per run, so none holds a backlog) keeps the limit exact.
ONE_PARTITION = (
    "--dynamic-config-value",
    "matching.numTaskqueueReadPartitions=1",
    "--dynamic-config-value",
    "matching.numTaskqueueWritePartitions=1",
)
_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})? (\S+)$")


@dataclass(frozen=True)
class RunPlan:
    scenario: Scenario
    processes: Mapping[str, int]
    streams: Mapping[str, Load]  # a stage queue's name, or "pipeline"
    duration: float
    warmup: float
    sample_interval: float
    directory: Path

    @property
    def label(self) -> str:
        return " ".join(
            f"{pool}={count}"
            for pool, count in self.processes.items()
            if pool != PoolName.WORKFLOW or count != 1
        )


class _Inputs:
    """Makes each stream's next workflow: a probe on one stage queue, or the whole pipeline."""

    def __init__(
        self, client: Client, store: ObjectStore, database_url: str, scenario: Scenario, tag: str
    ) -> None:
        self.client = client
        self.store = store
        self.database_url = database_url
        self.scenario = scenario
        self.tag = tag
        self.light_pdf = contract_pdf()
        self.parse_pdf = contract_pdf(scenario.parse_pages) if scenario.parse_pages else None
        self.light: UploadedDocument | None = None
        self.parsed: ParsedDocument | None = None
        self.summary: ExtractionSummary | None = None
        self.draft: ExtractionResult | None = None
        self.parse_documents: list[str] = []

    def _upload(self, pdf: bytes, name: str) -> UploadedDocument:
        return upload_pdf(
            variant(pdf, f"{self.tag} {name}"),
            f"{name}.pdf",
            store=self.store,
            database_url=self.database_url,
            max_bytes=1 << 30,
        )

    async def _probe(self, call: StageCall, index: str) -> WorkflowHandle[Any, Any]:
        return await self.client.start_workflow(
            StageProbeWorkflow.run,
            call,
            id=f"loadtest-{self.tag}-{call.activity}-{index}",
            task_queue=PROBE_QUEUE,
        )

    async def prepare(self) -> None:
        """Parse and extract one document through the real pools: the inputs later stages need."""
        self.light = await asyncio.to_thread(self._upload, self.light_pdf, "light")
        document_id = self.light.document_id
        parsed = await (
            await self._probe(
                self._call(TaskQueue.PARSE, ParseRequest(document_id=document_id)), "prep"
            )
        ).result()
        self.parsed = ParsedDocument.model_validate(parsed)
        request = ExtractRequest(
            document_id=document_id, extraction_id=str(uuid.uuid4()), parsed=self.parsed
        )
        summary = await (await self._probe(self._call(TaskQueue.LLM, request), "prep")).result()
        self.summary = ExtractionSummary.model_validate(summary)
        self.draft = ExtractionResult.model_validate_json(
            await asyncio.to_thread(self.store.get_bytes, self.summary.result_key)
        )
        source = self.parse_pdf or self.light_pdf
        for index in range(4):
            uploaded = await asyncio.to_thread(self._upload, source, f"parse-{index}")
            self.parse_documents.append(uploaded.document_id)

    @staticmethod
    def _call(queue: str, request: Any) -> StageCall:
        """The call of the stage whose requests ``queue`` serves (its first stage: record_failure
        shares store-queue with store_results)."""
        spec = next(spec for spec in STAGES if spec.queue == queue)
        return StageCall(activity=spec.activity.value, argument=request.model_dump(mode="json"))

    def _store_request(self, index: int) -> StoreRequest:
        # Each store gets a document of its own: stores of one document serialise on its row.
        assert self.parsed
        assert self.summary
        assert self.draft
        uploaded = self._upload(self.light_pdf, f"store-{index}")
        document_id = uploaded.document_id
        extraction_id = str(uuid.uuid4())
        key = ObjectKeys.extraction_draft(extraction_id)
        draft = self.draft.model_copy(update={"document_id": document_id})
        self.store.put_bytes(key, draft.model_dump_json().encode(), "application/json")
        parsed = self.parsed.model_copy(
            update={
                "document_id": document_id,
                "sha256": uploaded.sha256,
                "pages_key": ObjectKeys.parsed_pages(document_id),
            }
        )
        return StoreRequest(
            extraction_id=extraction_id,
            document_id=document_id,
            workflow_id=f"loadtest-{self.tag}-store-{index}",
            parsed=parsed,
            extraction=self.summary.model_copy(update={"result_key": key}),
        )

    def starter(self, stream: str) -> StartItem:
        if stream == "pipeline":
            return self._start_pipeline
        queue = TaskQueue(stream)

        async def start(index: int) -> WorkflowHandle[Any, Any]:
            assert self.light
            assert self.parsed
            request: Any
            if queue == TaskQueue.PARSE:
                documents = self.parse_documents
                request = ParseRequest(document_id=documents[index % len(documents)])
            elif queue == TaskQueue.LLM:
                request = ExtractRequest(
                    document_id=self.light.document_id,
                    extraction_id=str(uuid.uuid4()),
                    parsed=self.parsed,
                )
            else:
                request = await asyncio.to_thread(self._store_request, index)
            return await self._probe(self._call(queue, request), str(index))

        return start

    async def _start_pipeline(self, index: int) -> WorkflowHandle[Any, Any]:
        source = self.parse_pdf or self.light_pdf
        uploaded = await asyncio.to_thread(self._upload, source, f"pipeline-{index}")
        return await self.client.start_workflow(
            WORKFLOW_TYPE,
            uploaded.document_id,
            id=workflow_id_for(uploaded.document_id),
            task_queue=TaskQueue.WORKFLOW.value,
            result_type=ExtractionCompleted,
        )


def _slow_store(database_url: str, seconds: float) -> None:
    """Make every extraction insert wait, like a busy or distant database (this run's DB only)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE OR REPLACE FUNCTION loadtest_slow_insert() RETURNS trigger LANGUAGE plpgsql"
            f" AS $$ BEGIN PERFORM pg_sleep({float(seconds)}); RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER loadtest_slow_insert BEFORE INSERT ON extractions"
            " FOR EACH ROW EXECUTE FUNCTION loadtest_slow_insert()"
        )


def _counters(stack: DevStack) -> dict[str, float]:
    totals = dict.fromkeys(REPORTED_COUNTERS, 0.0)
    for process in stack.workers():
        if process.metrics_port is None:
            continue
        for line in scrape(process.metrics_port).splitlines():
            match = _SAMPLE.match(line)
            if match and match.group(1) in totals:
                totals[match.group(1)] += float(match.group(2))
    return totals


def _worker_env(scenario: Scenario, provider: FakeOpenAIServer) -> dict[str, str]:
    env = {
        "CHARMELIO_LLM_PROVIDER": "openai",
        "CHARMELIO_OPENAI_BASE_URL": provider.base_url,
        "CHARMELIO_OPENAI_API_KEY": "sk-loadtest-not-a-secret",
        "CHARMELIO_OPENAI_MODEL": "fake-loadtest",
        "CHARMELIO_OPENAI_TIMEOUT_SECONDS": "30",
        "CHARMELIO_LOG_LEVEL": "INFO",
        **scenario.worker_settings,
    }
    if scenario.llm_rate_limit_per_second:
        env["CHARMELIO_LLM_RATE_LIMIT_PER_SECOND"] = str(scenario.llm_rate_limit_per_second)
    return env


async def run_once(
    plan: RunPlan, provider: FakeOpenAIServer, log: Callable[[str], None]
) -> dict[str, Any]:
    scenario = plan.scenario
    settings = Settings(
        _env_file=None,
        data_dir=plan.directory / "stack",
        storage_dir=plan.directory / "stack" / "objects",
        storage_backend="local",
        database_url=None,
        shutdown_grace_seconds=2,
    )
    stack = DevStack(
        settings,
        processes_per_pool=plan.processes,
        temporal_port=free_port(),
        extra_env=_worker_env(scenario, provider),
        metrics=True,
        api=False,  # the load goes to Temporal directly; an API process would only take CPU
        temporal_args=ONE_PARTITION,
        # Measured: the server took 0.33 of a core with its state in a file, 0.22 in memory, at
        # the parse-bound scenario's load; a run is thrown away, so that CPU goes to the pools.
        temporal_on_disk=False,
    )
    log(f"[{plan.label}] starting the stack in {plan.directory}")
    await asyncio.to_thread(stack.start)
    samples: list[BacklogSample] = []
    try:
        client = await connect(
            settings.model_copy(update={"temporal_address": stack.temporal_address})
        )
        store = open_object_store(settings)
        inputs = _Inputs(client, store, stack.database_url, scenario, uuid.uuid4().hex[:8])
        # The probe is a few lines with no state: run without the sandbox, whose per-run module
        # re-import would spend the driver's CPU, not the pools'.
        async with Worker(
            client,
            task_queue=PROBE_QUEUE,
            workflows=[StageProbeWorkflow],
            max_concurrent_workflow_tasks=100,
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            await wait_for_pollers(
                client, {queue: plan.processes[pool_of_queue(queue)] for queue in ALL_QUEUES}
            )
            log(f"[{plan.label}] every process polls; preparing inputs")
            try:
                await inputs.prepare()
            except WorkflowFailureError as exc:
                raise LoadTestError(
                    f"preparing the inputs failed: {exc.cause or exc}; the pools' logs are in"
                    f" {stack.log_dir}"
                ) from None
            if scenario.store_delay_seconds:
                await asyncio.to_thread(
                    _slow_store, stack.database_url, scenario.store_delay_seconds
                )
            provider.reset()
            log(
                f"[{plan.label}] driving for {plan.duration:.0f} s: "
                + ", ".join(f"{name} {load.describe()}" for name, load in plan.streams.items())
            )
            sampler = asyncio.create_task(
                sample_backlogs(client, ALL_QUEUES, samples, interval=plan.sample_interval)
            )
            cpu_before = await asyncio.to_thread(snapshot, stack.process_ids())
            start = time.time()
            outcomes: list[StreamOutcome] = await asyncio.gather(
                *(
                    drive(name, load, inputs.starter(name), plan.duration)
                    for name, load in plan.streams.items()
                )
            )
            end = time.time()
            cpu = cores_used(cpu_before, await asyncio.to_thread(snapshot, stack.process_ids()))
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
            counters = await asyncio.to_thread(_counters, stack)
            dead = stack.check_alive()
    finally:
        await asyncio.to_thread(stack.stop)
    attempts = read_attempts(stack.log_dir)
    queues = {
        queue: asdict(
            queue_figures(queue, attempts, samples, start=start, end=end, warmup=plan.warmup)
        )
        for queue in STAGE_QUEUES
    }
    backlog = {
        queue: [[round(s.at - start, 2), s.backlog] for s in samples if s.task_queue == queue]
        for queue in ALL_QUEUES
    }
    return {
        "label": plan.label,
        "processes": dict(plan.processes),
        "streams": {outcome.name: outcome.summary() for outcome in outcomes},
        "queues": queues,
        "backlog": backlog,
        "provider": provider.stats().as_dict(),
        "metrics": counters,
        "cpu_cores": cpu,
        "exited_early": dead,
        "cpus": os.cpu_count(),
    }


def run_sync(
    plan: RunPlan, provider: FakeOpenAIServer, log: Callable[[str], None]
) -> dict[str, Any]:
    return asyncio.run(run_once(plan, provider, log))
