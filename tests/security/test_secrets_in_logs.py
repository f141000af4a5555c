"""Secrets never reach logs, error messages or recorded failures.

A real llm worker process runs with an OpenAI key, a database URL with a password and an S3 secret
in its environment, and meets a 401 from the fake provider; the CLI meets a database it cannot
reach; a worker refuses a bad setting at start; the API with a key meets wrong keys. Every byte
each process wrote (stdout, stderr), every recorded failure and every response is searched for
each secret.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api_server._access_log import redact_query
from charmelio.contract import (
    WORKFLOW_TYPE,
    ErrorType,
    ObjectKeys,
    PageText,
    ParsedDocument,
    ParsedPages,
    TaskQueue,
)
from charmelio.storage.objects import LocalObjectStore
from operator_tools.devstack import free_port
from operator_tools.fakes.openai_server import FakeOpenAIServer
from operator_tools.fakes.stages import Calls, fakes
from tests.security.api_server import wait_until_healthy
from workflows import ExtractionWorkflow

OPENAI_KEY = f"sk-secret-{uuid.uuid4().hex}"
DB_PASSWORD = f"pw-secret-{uuid.uuid4().hex[:16]}"
S3_SECRET = f"s3-secret-{uuid.uuid4().hex[:16]}"
API_KEY = f"api-secret-{uuid.uuid4().hex}"
SECRETS = (OPENAI_KEY, DB_PASSWORD, S3_SECRET, API_KEY)
# Nothing listens on port 1: every connection attempt fails at once.
UNREACHABLE_DB = f"postgresql://charmelio:{DB_PASSWORD}@127.0.0.1:1/charmelio"


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a secret appears in {where}"


def secret_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "CHARMELIO_OPENAI_API_KEY": OPENAI_KEY,
        "CHARMELIO_DATABASE_URL": UNREACHABLE_DB,
        "CHARMELIO_S3_SECRET_KEY": S3_SECRET,
        "CHARMELIO_S3_ACCESS_KEY": "access",
        "CHARMELIO_API_KEY": API_KEY,
        **extra,
    }


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.mark.asyncio(loop_scope="session")
async def test_an_llm_worker_refused_by_the_provider_logs_no_secret(
    temporal_env: WorkflowEnvironment,
    temporal_client: Client,
    fake_openai: FakeOpenAIServer,
    tmp_path: Path,
) -> None:
    fake_openai.mode = "unauthorized"
    storage = tmp_path / "objects"
    store = LocalObjectStore(storage)
    document_id = f"doc_secrets_{uuid.uuid4().hex[:8]}"
    pages = ParsedPages(
        document_id=document_id,
        engine="test",
        pages=[PageText(page=1, text="This Agreement is governed by the laws of Delaware.")],
    )
    store.put_bytes(ObjectKeys.parsed_pages(document_id), pages.model_dump_json().encode())
    calls = Calls()

    def nothing_to_store(_: Calls) -> None:
        raise AssertionError("the provider refused: nothing to store")

    stages = fakes(
        calls,
        store=nothing_to_store,
        parse_result=lambda request: ParsedDocument(
            document_id=request.document_id,
            pages_key=ObjectKeys.parsed_pages(request.document_id),
            sha256="0" * 64,
            page_count=1,
            char_count=len(pages.full_text()),
            engine="test",
            parse_seconds=0.0,
        ),
    )

    env = secret_env(
        CHARMELIO_TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
        CHARMELIO_LLM_PROVIDER="openai",
        CHARMELIO_OPENAI_BASE_URL=fake_openai.base_url,
        CHARMELIO_STORAGE_BACKEND="local",
        CHARMELIO_STORAGE_DIR=str(storage),
        CHARMELIO_SHUTDOWN_GRACE_SECONDS="2",
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "cli", "worker", "llm"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stderr is not None
        started = await asyncio.wait_for(asyncio.to_thread(child.stderr.readline), 60)
        assert json.loads(started)["msg"] == "worker started", started
        async with (
            Worker(
                temporal_client, task_queue=TaskQueue.WORKFLOW.value, workflows=[ExtractionWorkflow]
            ),
            Worker(
                temporal_client,
                task_queue=TaskQueue.PARSE.value,
                activities=stages[TaskQueue.PARSE],
            ),
            Worker(
                temporal_client,
                task_queue=TaskQueue.STORE.value,
                activities=stages[TaskQueue.STORE],
            ),
        ):
            handle = await temporal_client.start_workflow(
                WORKFLOW_TYPE,
                document_id,
                id=f"test-secrets-{document_id}",
                task_queue=TaskQueue.WORKFLOW.value,
                execution_timeout=timedelta(minutes=1),
            )
            with pytest.raises(WorkflowFailureError) as failure:
                await asyncio.wait_for(handle.result(), timeout=60)
            history = json.dumps([str(event) for event in (await handle.fetch_history()).events])
        child.send_signal(signal.SIGTERM)
        await asyncio.wait_for(asyncio.to_thread(child.wait), 30)
        out, err = child.communicate()
    finally:
        if child.poll() is None:
            child.kill()

    # The key was really in play: the provider saw it, and refused it.
    assert fake_openai.requests
    assert fake_openai.requests[0].authorization == f"Bearer {OPENAI_KEY}"
    [report] = calls.failures
    assert report.error_type == ErrorType.LLM_REQUEST
    assert "401" in report.message
    assert_no_secret(report.message, "the recorded failure")
    assert_no_secret(str(failure.value.cause), "the workflow's failure")
    assert_no_secret(history, "the workflow history")
    assert_no_secret(started + err, "the worker's stderr")
    assert_no_secret(out, "the worker's stdout")
    assert '"outcome"' in err, "the attempt's log line is there, without the key"


def test_the_cli_and_a_worker_that_fail_on_config_log_no_secret(tmp_path: Path) -> None:
    env = secret_env(CHARMELIO_TEMPORAL_ADDRESS="127.0.0.1:1")
    outputs: dict[str, subprocess.CompletedProcess[str]] = {
        "show": run_cli("show", "doc_x", env=env, cwd=tmp_path),
        "migrate": run_cli("migrate", env=env, cwd=tmp_path),
        "upload": run_cli("upload", str(tmp_path / "missing.pdf"), env=env, cwd=tmp_path),
        # A bad setting next to the secrets: the settings error names the field, not the others.
        "worker": run_cli(
            "worker", "llm", env={**env, "CHARMELIO_LLM_CONTEXT_TOKENS": "10"}, cwd=tmp_path
        ),
    }
    for name, done in outputs.items():
        assert done.returncode != 0, (name, done.stdout, done.stderr)
        assert_no_secret(done.stdout + done.stderr, f"`charmelio {name}` output")
    assert "127.0.0.1" in outputs["show"].stderr + outputs["migrate"].stderr


def test_the_api_key_is_required_and_never_echoed_or_logged(
    tmp_path: Path, database_url: str
) -> None:
    """The real `charmelio api` process, with its own logging, and every answer it gives."""
    port = free_port()
    env = secret_env(
        CHARMELIO_DATABASE_URL=database_url,
        CHARMELIO_STORAGE_BACKEND="local",
        CHARMELIO_STORAGE_DIR=str(tmp_path / "objects"),
        CHARMELIO_TEMPORAL_ADDRESS="127.0.0.1:1",
        CHARMELIO_SHUTDOWN_GRACE_SECONDS="1",
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "cli", "api", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    guess = f"sk-guess-{uuid.uuid4().hex}"
    seen: list[str] = []
    try:
        wait_until_healthy(url)
        for headers in (
            {},
            {"X-API-Key": guess},
            {"Authorization": f"Bearer {guess}"},
            {"X-API-Key": API_KEY[:-1]},
            {"X-API-Key": API_KEY + "x"},
        ):
            response = requests.get(f"{url}/api/extractions", headers=headers, timeout=10)
            assert response.status_code == 401
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == "unauthorized"
            seen.append(response.text + json.dumps(dict(response.headers)))
        ok = requests.get(f"{url}/api/extractions", headers={"X-API-Key": API_KEY}, timeout=10)
        assert ok.status_code == 200
        seen.append(ok.text + json.dumps(dict(ok.headers)))
        # A key in the query string is not a key: refused, and its value is not logged either.
        for query in (f"api_key={API_KEY}", f"key={guess}&x=1"):
            wrong_place = requests.get(f"{url}/api/extractions?{query}", timeout=10)
            assert wrong_place.status_code == 401
            seen.append(wrong_place.text)
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert "/api/extractions" in err, "the access log is there"
    assert "/api/extractions?api_key=... HTTP/1.1" in err, "names kept, values redacted"
    for text in [*seen, out, err]:
        assert_no_secret(text, "the API's answers and logs")
        assert guess not in text


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/api/extractions", "/api/extractions"),
        ("/api/extractions?status=failed&limit=5", "/api/extractions?status=...&limit=..."),
        ("/a?token=abc&empty=", "/a?token=...&empty=..."),
        ("/a?sk-secret-bare", "/a?...=..."),
        ("/a?" + "t" * 40 + "=1", "/a?...=..."),
        ("/a?", "/a?..."),
    ],
)
def test_query_values_are_redacted_for_the_access_log(path: str, logged: str) -> None:
    assert redact_query(path) == logged
