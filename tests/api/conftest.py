"""One real stack for the API tests: Temporal, Postgres, local object storage, a process per pool,
and the API process, all started by `DevStack` as `charmelio dev` does (free ports)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests

from charmelio.settings import Settings
from charmelio.storage.database import migrate
from charmelio.storage.objects import ObjectStore, open_object_store
from operator_tools.devstack import DevStack, free_port

ALL_POOLS = {"workflow": 1, "parse": 1, "llm": 1, "store": 1}
TERMINAL = {"completed", "failed", "superseded"}


def assert_problem(response: requests.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"] == f"urn:charmelio:problem:{code}"
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


def unique_pdf_bytes() -> bytes:
    """Bytes that pass the upload's content check and no other test uploads (so it is new)."""
    return f"%PDF-1.4\n% {uuid.uuid4()}\n%%EOF\n".encode()


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    name = f"charmelio_api_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class ApiStack:
    stack: DevStack
    url: str
    database_url: str
    store: ObjectStore

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(f"{self.url}{path}", timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.post(f"{self.url}{path}", timeout=60, **kwargs)

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(sql, params).fetchall()

    def wait_for(
        self,
        path: str,
        until: Callable[[dict[str, Any]], bool],
        *,
        timeout: float = 180,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Poll `path` until its JSON body satisfies `until`; fails with the last body otherwise."""
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = self.get(path, **kwargs)
            assert response.status_code == 200, response.text
            body = response.json()
            if until(body):
                return body
            time.sleep(0.3)
        pytest.fail(f"{path} never got there; last answer: {body}")

    def wait_until_finished(self, path: str, **kwargs: Any) -> dict[str, Any]:
        return self.wait_for(path, lambda body: body["status"] in TERMINAL, **kwargs)


@pytest.fixture(scope="package")
def api_stack(
    postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiStack]:
    root: Path = tmp_path_factory.mktemp("api-stack")
    with fresh_database(postgres_admin_url) as database_url:
        settings = Settings(
            _env_file=None,
            data_dir=root / "stack",
            storage_dir=root / "stack" / "objects",
            database_url=database_url,
            shutdown_grace_seconds=5,
        )
        stack = DevStack(
            settings,
            processes_per_pool=ALL_POOLS,
            temporal_port=free_port(),
            api_port=free_port(),
            metrics=True,
            extra_env={"CHARMELIO_LLM_PROVIDER": "rules", "CHARMELIO_LOG_LEVEL": "INFO"},
        )
        stack.start()
        try:
            yield ApiStack(stack, stack.api_url, database_url, open_object_store(settings))
        finally:
            stack.stop()
