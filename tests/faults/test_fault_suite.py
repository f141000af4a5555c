"""The fault suite (issue 7): the real stack keeps every document through crashes and outages.

One stack (a process per pool, Temporal dev server with its state on disk, Postgres and S3 (moto)
reached by the workers through `TcpProxy`, the fake OpenAI server answering with latency so work is
in flight) runs three batches of 30 documents, each copy of a CUAD PDF under its own id:

1. SIGKILL a parse, an llm, a store and the workflow worker mid-work, restarting each at once;
   then restart the Temporal server.
2. Postgres refuses connections for 20 s while documents are being stored.
3. Object storage refuses connections for 20 s while documents are in every stage.

Afterwards every workflow has completed, and every document has exactly one completed extraction,
one set of clause rows and one artifact, with no orphan artifact and no draft left. The figures
(documents in flight, time to recover) are printed and written to `$CHARMELIO_FAULTS_REPORT` when
set; docs/reliability.md keeps the latest run's.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError

from charmelio.contract import ErrorType, ExtractionCompleted, ObjectKeys
from charmelio.documents import upload_pdf
from charmelio.starter import start_extraction
from charmelio.storage.objects import ObjectStore, open_object_store
from charmelio.worker_runtime import connect
from operator_tools.devstack import DevStack, free_port
from operator_tools.fakes.openai_server import FakeOpenAIServer
from tests.conftest import CUAD_PDFS, s3_settings
from tests.faults.tcp_proxy import TcpProxy
from tests.integration.test_pipeline import (
    _S3_FIELDS,
    assert_one_current_extraction,
    completed_activities,
    openai_env,
    rows,
    stack_settings,
)

pytestmark = [pytest.mark.faults, pytest.mark.asyncio(loop_scope="session")]

BATCH = 30
OUTAGE_SECONDS = 20.0
PROVIDER_LATENCY_SECONDS = 1.0
WAIT_LIMIT_SECONDS = 150.0
_STAGES = ("parse_pdf", "llm_extract", "store_results")
_WAITING_ON_A_LOCK = (
    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    " AND query ILIKE '%%clauses%%'"
)


@dataclass
class FaultRecord:
    fault: str
    documents_in_flight: int
    outcome: str
    recovery_seconds: float
    recovery_measure: str


@dataclass
class Pipeline:
    stack: DevStack
    client: Client
    database_url: str
    store: ObjectStore
    fake_llm: FakeOpenAIServer
    records: list[FaultRecord]

    def upload_batch(self, batch: int) -> list[str]:
        """Two copies of each CUAD PDF, each with its own bytes after %%EOF and so its own id."""
        ids = []
        for copy in range(BATCH // 15):
            for pdf in sorted(CUAD_PDFS.glob("*.pdf"))[:15]:
                data = pdf.read_bytes() + f"\n%charmelio-fault-batch-{batch}-{copy}\n".encode()
                uploaded = upload_pdf(
                    data,
                    pdf.name,
                    store=self.store,
                    database_url=self.database_url,
                    max_bytes=50 << 20,
                )
                ids.append(uploaded.document_id)
        assert len(set(ids)) == BATCH
        return ids

    async def start(self, document_ids: list[str]) -> list[WorkflowHandle[object, Any]]:
        return [await start_extraction(self.client, doc) for doc in document_ids]

    def stored(self, document_ids: list[str]) -> int:
        [(count,)] = rows(
            self.database_url,
            "SELECT count(*) FROM extractions WHERE status = 'completed' AND document_id = ANY(%s)",
            document_ids,
        )
        return int(count)

    async def wait_for(
        self, what: str, condition: Callable[[], bool], limit: float = WAIT_LIMIT_SECONDS
    ) -> float:
        """Seconds until `condition` held; fails the test after `limit`."""
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > limit:
                pytest.fail(f"waited {limit:.0f} s for {what}; dead: {self.stack.check_alive()}")
            await asyncio.sleep(0.1)
        return round(time.monotonic() - started, 1)

    async def next_stored_after(self, document_ids: list[str]) -> float:
        before = self.stored(document_ids)
        return await self.wait_for(
            "the next stored extraction", lambda: self.stored(document_ids) > before
        )

    def record(self, fault: str, in_flight: int, outcome: str, seconds: float, how: str) -> None:
        self.records.append(FaultRecord(fault, in_flight, outcome, seconds, how))

    async def kill_and_restart(
        self, pool: str, batch: list[str], after_restart: Callable[[], object] = lambda: None
    ) -> None:
        [process] = self.stack.workers(pool)
        in_flight = BATCH - self.stored(batch)
        self.stack.stop_worker(process, kill=True)
        index = int(process.name.rsplit("-", 1)[1]) + 1
        self.stack.start_worker(pool, index)
        after_restart()
        if pool == "workflow":
            seconds = await self.next_stored_after(batch)
            how = "restart to the next stored extraction"
        else:
            activity = {"parse": "parse_pdf", "llm": "llm_extract", "store": "store_results"}[pool]
            seconds = await self.wait_for(
                f"the restarted {pool} worker's first activity",
                lambda: _completed(self.stack, f"{pool}-{index}.log", activity) > 0,
            )
            how = "restart to the new process's first completed activity"
        self.record(f"SIGKILL {pool} worker mid-work", in_flight, "restarted", seconds, how)

    async def outage(self, name: str, proxy: TcpProxy, batch: list[str]) -> None:
        in_flight = BATCH - self.stored(batch)
        unavailable = {"outcome": "failed", "error_type": ErrorType.STORAGE_UNAVAILABLE.value}
        before = {stage: _attempts(self.stack, activity=stage, **unavailable) for stage in _STAGES}
        with proxy.outage():
            await asyncio.sleep(OUTAGE_SECONDS)
        seconds = await self.next_stored_after(batch)
        failed = {
            stage: _attempts(self.stack, activity=stage, **unavailable) - before[stage]
            for stage in _STAGES
        }
        # The outage must have failed attempts, or this run proved nothing.
        assert sum(failed.values()) > 0, failed
        attempts = ", ".join(f"{stage} {n}" for stage, n in failed.items() if n)
        self.record(
            f"{name} refuses connections {OUTAGE_SECONDS:.0f} s",
            in_flight,
            f"attempts failed with {ErrorType.STORAGE_UNAVAILABLE.value} ({attempts}), retried",
            seconds,
            "end of outage to the next stored extraction",
        )

    async def finish(self, fault: str, handles: list[WorkflowHandle[object, Any]]) -> None:
        """Wait for every workflow; record the batch's outcome and how long its tail took."""
        started = time.monotonic()
        results = await asyncio.wait_for(
            asyncio.gather(*(_result(handle) for handle in handles)), WAIT_LIMIT_SECONDS
        )
        tail = round(time.monotonic() - started, 1)
        completed = sum(isinstance(result, ExtractionCompleted) for result in results)
        self.record(
            f"{fault}: whole batch",
            len(handles),
            f"{completed}/{len(handles)} workflows completed",
            tail,
            "last fault's recovery to the batch's last workflow",
        )
        for handle, result in zip(handles, results, strict=True):
            described = await handle.describe()
            assert described.status == WorkflowExecutionStatus.COMPLETED, handle.id
            assert_one_extraction(
                self.database_url, self.store, result.document_id, result.extraction_id
            )


def assert_one_extraction(
    database_url: str, store: ObjectStore, document_id: str, extraction_id: str
) -> None:
    """`assert_one_current_extraction`, for documents whose verified clauses may number 0.

    The fake provider's quotes are not all in every contract, so some documents keep no clause.
    """
    [(status, clause_count)] = rows(
        database_url,
        "SELECT status, clause_count FROM extractions WHERE document_id = %s",
        document_id,
    )
    assert status == "completed"
    if clause_count:
        assert_one_current_extraction(database_url, store, document_id, extraction_id)
        return
    assert rows(
        database_url,
        "SELECT count(*) FROM clauses c JOIN extractions e ON e.id = c.extraction_id"
        " WHERE e.document_id = %s",
        document_id,
    ) == [(0,)]
    artifacts = list(store.list_keys(ObjectKeys.extraction_artifact_prefix(document_id)))
    assert artifacts == [ObjectKeys.extraction_artifact(document_id, extraction_id)]
    assert not store.exists(ObjectKeys.extraction_draft(extraction_id))


async def _result(handle: WorkflowHandle[object, Any]) -> ExtractionCompleted:
    """The workflow's result; a long poll cut by a Temporal restart is polled again."""
    while True:
        try:
            result = await handle.result()
        except RPCError:
            await asyncio.sleep(0.5)
            continue
        assert isinstance(result, ExtractionCompleted)
        return result


def _attempts(stack: DevStack, **match: object) -> int:
    """Activity attempts in every worker log whose structured line has all of `match`."""
    count = 0
    for log in stack.log_dir.glob("*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if all(record.get(key) == value for key, value in match.items()):
                    count += 1
    return count


def _attempt_outcomes(stack: DevStack, activity: str) -> dict[str, int]:
    """``{"attempt 1 completed": 29, ...}``: what a failed assertion shows about a stage."""
    outcomes: dict[str, int] = {}
    for log in sorted(stack.log_dir.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("activity") == activity:
                    key = f"{log.stem}: attempt {record.get('attempt')} {record.get('outcome')}"
                    outcomes[key] = outcomes.get(key, 0) + 1
    return outcomes


def _completed(stack: DevStack, log_name: str, activity: str) -> int:
    if not (stack.log_dir / log_name).exists():
        return 0
    return completed_activities(stack, log_name, activity)


def _proxied_url(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    netloc[-1] = host
    return urlunsplit(parts._replace(netloc="@".join(netloc)))


def _upstream(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname
    assert parts.port
    return parts.hostname, parts.port


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(latency_seconds=PROVIDER_LATENCY_SECONDS) as server:
        yield server


async def test_documents_survive_crashes_restarts_and_outages(
    tmp_path: Path, database_url: str, s3_endpoint: str, fake_llm: FakeOpenAIServer
) -> None:
    direct = s3_settings(s3_endpoint)
    store = open_object_store(direct)
    with TcpProxy(*_upstream(database_url)) as postgres, TcpProxy(*_upstream(s3_endpoint)) as s3:
        s3_fields = direct.model_dump(include=_S3_FIELDS)
        s3_fields["s3_endpoint"] = f"http://127.0.0.1:{s3.port}"
        settings = stack_settings(tmp_path, _proxied_url(database_url, postgres), **s3_fields)
        stack = DevStack(
            settings,
            processes_per_pool={"workflow": 1, "parse": 1, "llm": 1, "store": 1},
            temporal_port=free_port(),
            extra_env=openai_env(fake_llm),
            api=False,
        )
        await asyncio.to_thread(stack.start)
        try:
            client = await connect(
                settings.model_copy(update={"temporal_address": stack.temporal_address})
            )
            pipeline = Pipeline(stack, client, database_url, store, fake_llm, [])
            await _run_faults(pipeline, postgres, s3)
        finally:
            await asyncio.to_thread(stack.stop)
    _assert_nothing_left_behind(pipeline)
    _report(pipeline.records)


async def _run_faults(pipeline: Pipeline, postgres: TcpProxy, s3: TcpProxy) -> None:
    stack = pipeline.stack

    # 1. Each pool's worker killed mid-work, then the Temporal server restarted.
    batch = pipeline.upload_batch(1)
    handles = await pipeline.start(batch)
    await pipeline.wait_for(
        "parses under way", lambda: _completed(stack, "parse-0.log", "parse_pdf") >= 2
    )
    # A parse takes about 0.1 s and the worker is between two for a moment after each: a kill
    # at a random time can miss every attempt. Object storage stops answering first, so the
    # worker is caught inside an attempt, waiting on its download or upload, when it dies.
    s3.pause()
    await asyncio.sleep(1.0)
    await pipeline.kill_and_restart("parse", batch, after_restart=s3.resume)
    # A request that has just arrived is still inside the provider's 1 s latency when the worker
    # is killed (the loop polls every 0.1 s), so the kill always interrupts an llm attempt.
    seen = max(pipeline.fake_llm.request_count, 2)
    await pipeline.wait_for(
        "a provider call in flight", lambda: pipeline.fake_llm.request_count > seen
    )
    await pipeline.kill_and_restart("llm", batch)
    # Hold store_results inside its transaction (clause inserts wait on a lock) to kill it there.
    with psycopg.connect(pipeline.database_url) as blocker:
        blocker.execute("LOCK TABLE clauses IN EXCLUSIVE MODE")
        await pipeline.wait_for(
            "a store waiting inside its transaction",
            lambda: rows(pipeline.database_url, _WAITING_ON_A_LOCK) != [(0,)],
        )
        await pipeline.kill_and_restart("store", batch, after_restart=blocker.rollback)
    await pipeline.kill_and_restart("workflow", batch)
    in_flight = BATCH - pipeline.stored(batch)
    await asyncio.to_thread(stack.restart_temporal)
    seconds = await pipeline.next_stored_after(batch)
    pipeline.record(
        "Temporal dev server restarted",
        in_flight,
        "history kept",
        seconds,
        "server back to the next stored extraction",
    )
    await pipeline.finish("crashes and restart", handles)
    for stage in _STAGES:  # each attempt killed with its worker ran again and completed
        retried = _attempts(stack, activity=stage, outcome="completed", attempt=2)
        assert retried > 0, (stage, _attempt_outcomes(stack, stage))

    # 2. Postgres down while documents are being stored.
    batch = pipeline.upload_batch(2)
    handles = await pipeline.start(batch)
    await pipeline.wait_for("a stored extraction", lambda: pipeline.stored(batch) >= 1)
    await pipeline.outage("Postgres", postgres, batch)
    await pipeline.finish("Postgres outage", handles)

    # 3. Object storage down while documents are in every stage.
    batch = pipeline.upload_batch(3)
    handles = await pipeline.start(batch)
    await pipeline.wait_for("a stored extraction", lambda: pipeline.stored(batch) >= 1)
    await pipeline.outage("Object storage (S3)", s3, batch)
    await pipeline.finish("S3 outage", handles)


def _assert_nothing_left_behind(pipeline: Pipeline) -> None:
    statuses = rows(pipeline.database_url, "SELECT status, count(*) FROM extractions GROUP BY 1")
    assert statuses == [("completed", 3 * BATCH)]
    completed = {
        key
        for (key,) in rows(
            pipeline.database_url,
            "SELECT artifact_key FROM extractions WHERE status = 'completed'",
        )
    }
    assert set(pipeline.store.list_keys("extractions/")) == completed
    assert list(pipeline.store.list_keys("work/")) == []


def _report(records: list[FaultRecord]) -> None:
    lines = [json.dumps(asdict(record)) for record in records]
    print("\n".join(["fault suite figures:", *lines]))
    target = os.environ.get("CHARMELIO_FAULTS_REPORT")
    if target:
        Path(target).write_text("\n".join(lines) + "\n", encoding="utf-8")
