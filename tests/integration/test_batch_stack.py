"""`charmelio batch` against the embedded stack: real worker processes, offline extractor.

A batch outlives whatever happens around it: the CLI that started it exits at once, a parse, an
llm and a store worker are SIGKILLed mid-batch (the stack restarts each with backoff), and a later
`batch status --wait` from another process sees it finish with every document extracted exactly
once. Started again it reuses every document; `--force` extracts again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from operator_tools.devstack import DevStack, free_port
from operator_tools.loadtest import variant
from tests.conftest import CUAD_PDFS
from tests.integration.test_pipeline import rows, stack_settings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

POOLS = {"workflow": 1, "parse": 1, "llm": 1, "store": 1}


def contracts(folder: Path, copies: int) -> list[Path]:
    folder.mkdir(parents=True)
    written = []
    for copy in range(copies):
        for pdf in sorted(CUAD_PDFS.glob("*.pdf")):
            path = folder / f"{pdf.stem[:40]}-{copy}.pdf"
            path.write_bytes(variant(pdf.read_bytes(), f"batch-test-{copy}"))
            written.append(path)
    return written


def charmelio(
    stack: DevStack, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHARMELIO_DATA_DIR": str(stack.data_dir), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def completed_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM extractions WHERE status = 'completed'").fetchone()
    return int(row[0]) if row else 0


async def wait_until(condition: object, seconds: float, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"waited {seconds:.0f} s for {what}")


async def test_a_batch_survives_killed_workers_and_is_extracted_once_then_reused(
    tmp_path: Path, database_url: str
) -> None:
    settings = stack_settings(tmp_path, database_url)
    files = contracts(tmp_path / "contracts", copies=2)
    stack = DevStack(settings, processes_per_pool=POOLS, temporal_port=free_port(), api=False)
    await asyncio.to_thread(stack.start)
    try:
        started = charmelio(stack, "batch", str(tmp_path / "contracts"))
        assert started.returncode == 0, started.stderr
        batch_id = started.stdout.strip().splitlines()[-1]
        assert batch_id.startswith("batch-")
        # The CLI has exited: nobody follows the batch. Kill a worker of each stage mid-batch.
        await wait_until(lambda: completed_count(database_url) >= 3, 180, "3 extractions")
        killed = {}
        for name in ("parse-0", "llm-0", "store-0"):
            pid = stack.process_ids()[name]
            os.kill(pid, signal.SIGKILL)
            killed[name] = pid
        await wait_until(lambda: all(stack.restarts().get(name) for name in killed), 60, "restarts")
        assert all(stack.process_ids()[name] != pid for name, pid in killed.items())
        assert any("parse-0 exited (killed by SIGKILL)" in notice for notice in stack.notices)
        assert "parse-0 restarted" in (stack.log_dir / "stack.log").read_text()

        followed = charmelio(stack, "batch", "status", batch_id, "--wait", timeout=600)
        assert followed.returncode == 0, followed.stderr
        assert f"{batch_id} completed {len(files)}/{len(files)}" in followed.stderr
        assert "completed" in followed.stdout  # the summary table
        per_document = rows(
            database_url, "SELECT document_id, status, extractor FROM extractions ORDER BY 1"
        )
        assert len(per_document) == len(files)  # exactly once each: one row per document
        assert {row[1] for row in per_document} == {"completed"}
        extractor = per_document[0][2]
        assert extractor.startswith("rules/rules-v3")
        assert {row[2] for row in per_document} == {extractor}

        again_started = time.monotonic()
        again = charmelio(stack, "batch", str(tmp_path / "contracts"), "--wait")
        again_seconds = time.monotonic() - again_started
        assert again.returncode == 0, again.stderr
        assert f"{len(files)} reused" in again.stderr
        assert "reused" in again.stdout
        assert len(rows(database_url, "SELECT 1 FROM extractions")) == len(files)
        assert again_seconds < 60

        some = tmp_path / "some"
        some.mkdir()
        for path in files[:2]:
            (some / path.name).write_bytes(path.read_bytes())
        forced = charmelio(stack, "batch", str(some), "--wait", "--force")
        assert forced.returncode == 0, forced.stderr
        statuses = rows(database_url, "SELECT status, count(*) FROM extractions GROUP BY 1")
        assert dict(statuses) == {"completed": len(files), "superseded": 2}
    finally:
        await asyncio.to_thread(stack.stop)
