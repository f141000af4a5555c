"""Hostile ids and keys at every entry point: nothing outside the storage directory is touched.

A sentinel file sits next to (outside) the storage directory. Each entry point (the id validators,
ObjectKeys, check_key, LocalObjectStore, the workflow input, `charmelio extract` and `show`, and
the API's document, extraction and artifact routes) gets path traversal, encoded traversal,
absolute paths, NUL, newlines and unicode lookalikes; each refuses, and the sentinel is never read,
written or removed.
"""

from __future__ import annotations

import http.client
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from charmelio.contract import (
    ErrorType,
    ObjectKeys,
    TaskQueue,
    validate_document_id,
    validate_extraction_id,
)
from charmelio.settings import Settings
from charmelio.storage.objects import LocalObjectStore, check_key
from cli import main
from tests.security.api_server import serving
from workflows import ExtractionWorkflow

HOSTILE_IDS = [
    "../etc/passwd",
    "..",
    "..%2F..%2Fsentinel.txt",
    "..%252F..%252Fsentinel.txt",
    "/etc/passwd",
    "C:\\Windows\\win.ini",
    "..\\..\\sentinel.txt",
    "doc\x00.pdf",
    "doc_x\n",
    "doc_x/../../sentinel",
    "\uff0e\uff0e\uff0fsentinel.txt",  # fullwidth "../"
    "doc\u2215..\u2215x",  # division slash
    "d\u043ec_x",  # Cyrillic o
    "doc_x\u202e",  # right-to-left override
    "doc x",
    "a" * 129,
    "",
]

HOSTILE_KEYS = [
    "../sentinel.txt",
    "documents/../../sentinel.txt",
    "documents/..%2F..%2Fsentinel.txt",
    "/etc/passwd",
    "documents/\x00.pdf",
    "documents\\..\\..\\sentinel.txt",
    "documents/\uff0e\uff0e/sentinel.txt",
    "documents/\u2025/sentinel.txt",
    "documents//x.pdf",
    "./documents/x.pdf",
    "documents/x.pdf\n",
]


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[Path]:
    """A file outside the storage directory whose content and mtime must never change."""
    path = tmp_path / "sentinel.txt"
    path.write_text(f"SENTINEL-{uuid.uuid4()}")
    before = (path.read_text(), path.stat().st_mtime_ns, sorted(tmp_path.iterdir()))
    yield path
    assert (path.read_text(), path.stat().st_mtime_ns) == before[:2]
    assert sorted(p for p in tmp_path.iterdir() if p.name != "objects") == [
        p for p in before[2] if p.name != "objects"
    ]


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_ids_object_keys_and_keys_from_them_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        validate_document_id(value)
    with pytest.raises(ValueError, match="invalid"):
        validate_extraction_id(value)
    for make in (ObjectKeys.document_pdf, ObjectKeys.parsed_pages):
        with pytest.raises(ValueError, match="invalid"):
            make(value)
    with pytest.raises(ValueError, match="invalid"):
        ObjectKeys.extraction_artifact(value, str(uuid.uuid4()))
    with pytest.raises(ValueError, match="invalid"):
        ObjectKeys.extraction_draft(value)
    with pytest.raises(ValueError, match="invalid"):
        ObjectKeys.extraction_workspace(value)
    with pytest.raises(ValueError, match="invalid"):
        ObjectKeys.extraction_chunk_reply(value, "0" * 32)
    # The fingerprint half of a kept reply's key is as closed as the id half.
    with pytest.raises(ValueError, match="fingerprint"):
        ObjectKeys.extraction_chunk_reply(str(uuid.uuid4()), value)


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_object_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        check_key(key)


def test_the_local_store_never_leaves_its_directory(tmp_path: Path, sentinel: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    for key in [*HOSTILE_KEYS, str(sentinel), f"../{sentinel.name}"]:
        with pytest.raises(ValueError, match="invalid"):
            store.put_bytes(key, b"overwritten")
        with pytest.raises(ValueError, match="invalid"):
            store.get_bytes(key)
        with pytest.raises(ValueError, match="invalid"):
            store.exists(key)
        with pytest.raises(ValueError, match="invalid"):
            store.delete(key)
    assert list(store.list_keys("")) == []


async def test_the_workflow_refuses_a_hostile_input_before_any_activity(
    temporal_client: Client,
) -> None:
    async with Worker(
        temporal_client, task_queue=TaskQueue.WORKFLOW.value, workflows=[ExtractionWorkflow]
    ):
        for value in ["../etc/passwd", "..%2Fsentinel", "/etc/passwd", "doc\x00", "d\u043ec"]:
            handle = await temporal_client.start_workflow(
                "ExtractionWorkflow",
                value,
                id=f"test-security-{uuid.uuid4()}",
                task_queue=TaskQueue.WORKFLOW.value,
                execution_timeout=timedelta(seconds=30),
            )
            with pytest.raises(WorkflowFailureError) as failure:
                await handle.result()
            cause = failure.value.cause
            assert isinstance(cause, ApplicationError), value
            assert cause.type == ErrorType.INVALID_INPUT, value
            assert cause.non_retryable
            history = await handle.fetch_history()
            scheduled = [
                e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
            ]
            assert scheduled == [], value


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("CHARMELIO_DATABASE_URL", database_url)
    monkeypatch.setenv("CHARMELIO_STORAGE_BACKEND", "local")
    monkeypatch.setenv("CHARMELIO_STORAGE_DIR", str(tmp_path / "objects"))
    # Nothing may reach Temporal: every case here is refused before a workflow starts.
    monkeypatch.setenv("CHARMELIO_TEMPORAL_ADDRESS", "127.0.0.1:1")
    return tmp_path / "objects"


def _documents(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM documents").fetchone()
    assert row is not None
    return int(row[0])


def test_the_cli_refuses_hostile_ids(
    cli_env: Path,
    sentinel: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # An argv cannot hold NUL, so that case is the API's and the library's; an existing file
    # (/etc/passwd) is a file to upload, checked below.
    for value in [v for v in HOSTILE_IDS if "\x00" not in v and not Path(v).is_file()]:
        assert main(["extract", value]) == 1, value
        err = capsys.readouterr().err
        assert err.strip().endswith("no such file"), value
        assert main(["show", value]) == 1, value
        err = capsys.readouterr().err
        assert "no extraction found" in err, value
        assert "Traceback" not in err
    # A path that is a real file is a file to upload, and must be a PDF.
    for path in (str(sentinel), "/etc/passwd"):
        assert main(["extract", path]) == 1
        assert "refused: the file is not a PDF" in capsys.readouterr().err
    assert _documents(database_url) == 0
    assert not cli_env.exists() or list(LocalObjectStore(cli_env).list_keys("")) == []


ROUTES = ["/api/documents/{}", "/api/extractions/{}", "/api/extractions/{}/artifact"]
RAW_SEGMENTS = [
    "..%2F..%2Fsentinel.txt",
    "%2E%2E%2F%2E%2E%2Fsentinel.txt",
    "..%252F..%252Fsentinel.txt",
    "..%5C..%5Csentinel.txt",
    "%2Fetc%2Fpasswd",
    "doc%00x",
    "doc_x%0A",
    "%EF%BC%8E%EF%BC%8E%EF%BC%8Fsentinel.txt",
    "d%D0%BEc_x",
    "%27%20OR%20%271%27%3D%271",
    "a" * 300,
    "../../sentinel.txt",
    "doc_x.00000000-0000-0000-0000-000000000000%2F..%2F..",
]


def _raw_get(base: str, path: str) -> tuple[int, str, str]:
    """GET exactly ``path`` (a client library would normalise the dots away)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("content-type", ""), response.read().decode()
    finally:
        conn.close()


def test_api_routes_refuse_hostile_ids(tmp_path: Path, sentinel: Path, database_url: str) -> None:
    settings = Settings(
        database_url=database_url,
        storage_backend="local",
        storage_dir=tmp_path / "objects",
        temporal_address="127.0.0.1:1",
    )
    secret = sentinel.read_text()
    with serving(settings) as url:
        for route in ROUTES:
            for segment in RAW_SEGMENTS:
                path = route.format(segment)
                status, content_type, body = _raw_get(url, path)
                assert status in (404, 422), (path, status, body)
                assert content_type == "application/problem+json", path
                assert secret not in body, path
    assert _documents(database_url) == 0
