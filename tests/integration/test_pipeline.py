"""The whole pipeline as it runs in production: four pools of real worker processes, a real Temporal
dev server, real Postgres, object storage on a local directory and on S3 (moto), and an
OpenAI-compatible HTTP server (a local fake).
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from temporalio.client import Client

from charmelio.contract import ObjectKeys, Stage
from charmelio.documents import upload_pdf
from charmelio.settings import Settings
from charmelio.starter import start_extraction
from charmelio.storage.objects import ObjectStore, open_object_store
from charmelio.worker_runtime import connect
from operator_tools.devstack import DevStack, free_port, temporal_binary
from operator_tools.fakes.openai_server import FakeOpenAIServer
from tests.conftest import CUAD_PDFS, FIXTURES, s3_settings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

SAMPLE = CUAD_PDFS / "FLOTEKINDUSTRIESINCCN_05_09_2019_EX_10_1_SUPPLY_AGREEMENT.pdf"
ALL_POOLS = {"workflow": 1, "parse": 1, "llm": 1, "store": 1}


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


def openai_env(server: FakeOpenAIServer) -> dict[str, str]:
    return {
        "CHARMELIO_LLM_PROVIDER": "openai",
        "CHARMELIO_OPENAI_BASE_URL": server.base_url,
        "CHARMELIO_OPENAI_API_KEY": "sk-test-not-a-secret",
        "CHARMELIO_OPENAI_MODEL": "fake-contract-model",
        "CHARMELIO_OPENAI_TIMEOUT_SECONDS": "20",
    }


@asynccontextmanager
async def running_stack(
    settings: Settings,
    pools: Mapping[str, int] = ALL_POOLS,
    extra_env: Mapping[str, str] | None = None,
) -> AsyncIterator[tuple[DevStack, Client]]:
    stack = DevStack(
        settings,
        processes_per_pool=pools,
        temporal_port=free_port(),
        extra_env=dict(extra_env or {}),
    )
    await asyncio.to_thread(stack.start)
    try:
        client = await connect(
            settings.model_copy(update={"temporal_address": stack.temporal_address})
        )
        yield stack, client
    finally:
        await asyncio.to_thread(stack.stop)


def stack_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "stack",
        "storage_dir": tmp_path / "stack" / "objects",
        "database_url": database_url,
        "shutdown_grace_seconds": 5,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def rows(database_url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchall()


def upload(path: Path, store: ObjectStore, database_url: str) -> str:
    return upload_pdf(
        path.read_bytes(), path.name, store=store, database_url=database_url, max_bytes=50 << 20
    ).document_id


def assert_one_current_extraction(
    database_url: str, store: ObjectStore, document_id: str, extraction_id: str
) -> None:
    current = rows(
        database_url,
        "SELECT id::text, clause_count FROM extractions WHERE document_id = %s"
        " AND status = 'completed'",
        document_id,
    )
    assert [row[0] for row in current] == [extraction_id]
    clause_sets = rows(
        database_url,
        "SELECT c.extraction_id::text, count(*) FROM clauses c JOIN extractions e"
        " ON e.id = c.extraction_id WHERE e.document_id = %s GROUP BY 1",
        document_id,
    )
    assert clause_sets == [(extraction_id, current[0][1])]
    assert current[0][1] > 0
    artifacts = list(store.list_keys(ObjectKeys.extraction_artifact_prefix(document_id)))
    assert artifacts == [ObjectKeys.extraction_artifact(document_id, extraction_id)]
    assert not store.exists(ObjectKeys.extraction_draft(extraction_id))


async def largest_history_event(client: Client, workflow_id: str) -> int:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return max(len(event.SerializeToString()) for event in history.events)


def completed_activities(stack: DevStack, log_name: str, activity: str) -> int:
    count = 0
    for line in (stack.log_dir / log_name).read_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("activity") == activity and record.get("outcome") == "completed":
                count += 1
    return count


async def test_every_dev_contract_through_the_local_stack_with_two_parse_processes(
    tmp_path: Path, database_url: str
) -> None:
    settings = stack_settings(tmp_path, database_url)
    store = open_object_store(settings)
    pdfs = sorted(CUAD_PDFS.glob("*.pdf"))
    expected_pages = {
        row["slug"]: int(row["pdf_pages"])
        for row in csv.DictReader((FIXTURES / "cuad" / "index.csv").open())
    }
    async with running_stack(settings, {**ALL_POOLS, "parse": 2}) as (stack, client):
        document_ids = [upload(pdf, store, database_url) for pdf in pdfs]
        handles = [await start_extraction(client, doc) for doc in document_ids]
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 600)
        largest = [await largest_history_event(client, h.id) for h in handles]

        assert completed_activities(stack, "parse-0.log", "parse_pdf") > 0
        assert completed_activities(stack, "parse-1.log", "parse_pdf") > 0
        assert completed_activities(stack, "parse-0.log", "parse_pdf") + completed_activities(
            stack, "parse-1.log", "parse_pdf"
        ) == len(pdfs)

    assert max(largest) < 64 * 1024
    for pdf, document_id, result in zip(pdfs, document_ids, results, strict=True):
        assert result.status == "completed"
        assert_one_current_extraction(database_url, store, document_id, result.extraction_id)
        [(pages, provider)] = rows(
            database_url,
            "SELECT d.page_count, e.provider FROM documents d JOIN extractions e"
            " ON e.document_id = d.id WHERE e.id = %s",
            result.extraction_id,
        )
        assert pages == expected_pages[pdf.stem]
        assert provider == "rules"


async def test_s3_and_openai_provider_then_again_then_a_pool_down_and_back(
    tmp_path: Path, database_url: str, s3_endpoint: str, fake_llm: FakeOpenAIServer
) -> None:
    settings = stack_settings(
        tmp_path, database_url, **s3_settings(s3_endpoint).model_dump(include=_S3_FIELDS)
    )
    store = open_object_store(settings)
    document_id = upload(SAMPLE, store, database_url)
    async with running_stack(settings, extra_env=openai_env(fake_llm)) as (stack, client):
        first = await (await start_extraction(client, document_id)).result()
        assert_one_current_extraction(database_url, store, document_id, first.extraction_id)
        [(provider, model)] = rows(
            database_url,
            "SELECT provider, model FROM extractions WHERE id = %s",
            first.extraction_id,
        )
        assert (provider, model) == ("openai", "fake-contract-model")
        assert fake_llm.requests, "the llm pool never called the provider"

        # Extracting the same document again leaves one current set of rows and one artifact.
        second = await (await start_extraction(client, document_id)).result()
        assert second.extraction_id != first.extraction_id
        assert_one_current_extraction(database_url, store, document_id, second.extraction_id)
        assert rows(
            database_url, "SELECT status FROM extractions WHERE id = %s", first.extraction_id
        ) == [("superseded",)]

        # With every llm process stopped, a document waits at that stage; it finishes on return.
        for process in list(stack.workers("llm")):
            stack.stop_worker(process)
        handle = await start_extraction(client, document_id)
        await asyncio.sleep(3)
        assert await handle.query("current_stage") == Stage.EXTRACTING.value
        stack.start_worker("llm", 1)
        third = await asyncio.wait_for(handle.result(), 120)
        assert_one_current_extraction(database_url, store, document_id, third.extraction_id)


_S3_FIELDS = {"storage_backend", "s3_endpoint", "s3_access_key", "s3_secret_key", "s3_bucket"}
_S3_FIELDS |= {"s3_region", "s3_secure"}


_WAITING_ON_A_LOCK = (
    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    " AND query ILIKE '%%clauses%%'"
)


async def test_a_store_worker_killed_mid_store_leaves_exactly_one_set_after_restart(
    tmp_path: Path, database_url: str
) -> None:
    settings = stack_settings(tmp_path, database_url)
    store = open_object_store(settings)
    document_id = upload(SAMPLE, store, database_url)
    async with running_stack(settings) as (stack, client):
        # Block writes to `clauses`: store_results writes its artifact and its extraction row,
        # then waits inside its transaction for the clause inserts, which is where we kill it.
        with psycopg.connect(database_url) as blocker:
            blocker.execute("LOCK TABLE clauses IN EXCLUSIVE MODE")
            handle = await start_extraction(client, document_id)
            prefix = ObjectKeys.extraction_artifact_prefix(document_id)
            for _ in range(300):
                if list(store.list_keys(prefix)):
                    break
                await asyncio.sleep(0.1)
            else:
                pytest.fail("store_results never wrote its artifact")
            for _ in range(100):
                if rows(database_url, _WAITING_ON_A_LOCK) != [(0,)]:
                    break
                await asyncio.sleep(0.1)
            else:
                pytest.fail("store_results never reached its clause inserts")
            assert await handle.query("current_stage") == Stage.STORING.value
            [process] = stack.workers("store")
            stack.stop_worker(process, kill=True)
            blocker.rollback()
        assert rows(database_url, "SELECT count(*) FROM extractions") == [(0,)]

        stack.start_worker("store", 1)
        result = await asyncio.wait_for(handle.result(), 120)
    assert_one_current_extraction(database_url, store, document_id, result.extraction_id)
    assert rows(database_url, "SELECT count(*) FROM extractions") == [(1,)]


def run_cli(args: list[str], env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def test_the_charmelio_and_temporal_clis_against_the_stack(
    tmp_path: Path, database_url: str
) -> None:
    settings = stack_settings(tmp_path, database_url)
    not_a_pdf = tmp_path / "invoice.pdf"
    not_a_pdf.write_text("<html><body>not a pdf</body></html>")
    async with running_stack(settings) as (stack, _):
        env = stack.stack_settings()
        first = await asyncio.to_thread(run_cli, ["upload", str(SAMPLE)], env, tmp_path)
        again = await asyncio.to_thread(run_cli, ["upload", str(SAMPLE)], env, tmp_path)
        assert first.returncode == again.returncode == 0, first.stderr
        document_id = first.stdout.split()[0]
        assert "(new," in first.stdout
        assert "(already uploaded)" in again.stdout
        assert again.stdout.split()[0] == document_id

        refused = await asyncio.to_thread(run_cli, ["upload", str(not_a_pdf)], env, tmp_path)
        assert refused.returncode == 1
        assert "not a PDF" in refused.stderr

        extracted = await asyncio.to_thread(
            run_cli, ["extract", str(SAMPLE), "--wait"], env, tmp_path
        )
        assert extracted.returncode == 0, extracted.stderr
        assert "Governing Law" in extracted.stdout
        assert "status     completed" in extracted.stdout
        assert f"{document_id}: completed" in extracted.stderr

        executed = await asyncio.to_thread(
            subprocess.run,
            [
                temporal_binary(),
                "workflow",
                "execute",
                "--address",
                stack.temporal_address,
                "--type",
                "ExtractionWorkflow",
                "--task-queue",
                "extraction-queue",
                "--input",
                json.dumps(document_id),
                "--output",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert executed.returncode == 0, executed.stderr
        result = json.loads(executed.stdout)["result"]
        assert result["status"] == "completed"
        assert result["document_id"] == document_id

        shown = await asyncio.to_thread(run_cli, ["show", document_id, "--json"], env, tmp_path)
        assert shown.returncode == 0, shown.stderr
        view = json.loads(shown.stdout)
        assert view["extraction"]["extraction_id"] == result["extraction_id"]
        assert view["clauses"]
        assert all(c["page"] >= 1 and c["quote"] for c in view["clauses"])

        missing = await asyncio.to_thread(run_cli, ["show", "doc_unknown"], env, tmp_path)
        assert missing.returncode == 1


async def test_sigterm_lets_an_in_flight_activity_finish_before_the_worker_exits(
    tmp_path: Path, database_url: str, fake_llm: FakeOpenAIServer
) -> None:
    fake_llm.latency_seconds = 3.0
    settings = stack_settings(tmp_path, database_url)
    store = open_object_store(settings)
    document_id = upload(SAMPLE, store, database_url)
    async with running_stack(settings, extra_env=openai_env(fake_llm)) as (stack, client):
        handle = await start_extraction(client, document_id)
        while fake_llm.request_count == 0:
            await asyncio.sleep(0.05)
        [process] = stack.workers("llm")
        exit_code = await asyncio.to_thread(stack.stop_worker, process, timeout=30)
        assert exit_code == 0
        # The one call in flight finished and was reported; nothing was retried.
        assert completed_activities(stack, "llm-0.log", "llm_extract") == 1
        result = await asyncio.wait_for(handle.result(), 60)
    assert fake_llm.request_count == 1
    assert_one_current_extraction(database_url, store, document_id, result.extraction_id)
