"""Versioned migrations on a real Postgres: in order, once, and safe when every worker migrates."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg import sql

from charmelio.storage.database import available_migrations, current_version, migrate
from tests.conftest import _with_database


@pytest.fixture
def empty_database_url(postgres_admin_url: str) -> Iterator[str]:
    name = f"charmelio_empty_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _with_database(postgres_admin_url, name)
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrations_are_numbered_without_gaps() -> None:
    versions = [migration.version for migration in available_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_concurrent_migrations_apply_each_version_exactly_once(empty_database_url: str) -> None:
    assert current_version(empty_database_url) is None
    with ThreadPoolExecutor(max_workers=6) as pool:
        applied = list(pool.map(lambda _: migrate(empty_database_url), range(6)))
    latest = available_migrations()[-1].version
    assert sorted(version for run in applied for version in run) == list(range(1, latest + 1))
    assert current_version(empty_database_url) == latest
    with psycopg.connect(empty_database_url) as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        }
    assert {"documents", "extractions", "clauses", "schema_migrations"} <= tables
    assert migrate(empty_database_url) == []


def test_migrate_command(empty_database_url: str) -> None:
    env = {"CHARMELIO_DATABASE_URL": empty_database_url, "PATH": ""}
    first = subprocess.run(
        [sys.executable, "-m", "cli", "migrate"], env=env, capture_output=True, text=True
    )
    again = subprocess.run(
        [sys.executable, "-m", "cli", "migrate"], env=env, capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("applied ")
    assert again.stdout.strip() == "schema up to date"


def test_commands_needing_the_database_fail_fast_without_it(tmp_path: object) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "migrate"],
        env={"PATH": ""},
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
    )
    assert result.returncode == 2
    assert "CHARMELIO_DATABASE_URL is not set" in result.stderr


@pytest.mark.parametrize(
    ("where", "index", "in_order"),
    [
        ("", "extractions_listing_idx", True),
        ("AND e.status = 'failed'", "extractions_status_idx", True),
        # A document has a handful of rows: the planner may fetch them and sort them, rightly.
        ("AND e.document_id = 'doc_00042'", "extractions_document_idx", False),
    ],
)
def test_every_listing_page_is_read_from_an_index_in_its_order(
    empty_database_url: str, where: str, index: str, in_order: bool
) -> None:
    migrate(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        conn.execute(
            "INSERT INTO extractions (id, document_id, workflow_id, status, error_type,"
            " finished_at) SELECT gen_random_uuid(), 'doc_' || lpad((n % 5000)::text, 5, '0'),"
            " 'wf', CASE WHEN n % 10 = 0 THEN 'failed' ELSE 'completed' END,"
            " CASE WHEN n % 10 = 0 THEN 'x' END, now() - n * interval '1 second'"
            " FROM generate_series(1, 50000) AS n"
        )
        conn.execute("ANALYZE extractions")
        # The API's keyset query (api_server/_catalog.py), resumed after a cursor.
        query = sql.SQL(
            "EXPLAIN SELECT e.id FROM extractions e LEFT JOIN documents d"
            " ON d.id = e.document_id WHERE (e.finished_at, e.id) < (now(), gen_random_uuid())"
            " {where} ORDER BY e.finished_at DESC, e.id DESC LIMIT 50"
        ).format(where=sql.SQL(where))
        plan = "\n".join(row[0] for row in conn.execute(query).fetchall())
    assert index in plan, plan
    if in_order:  # 50 rows of 50,000 read in index order, no sort of the table
        assert "Sort" not in plan, plan
