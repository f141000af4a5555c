"""The README's first command works on a busy machine: with the embedded stack's default ports
(Temporal 7233, its UI 8233, the API 8000, Postgres 5432) held by other programs, a fresh data
directory's `./scripts/demo.sh` still prints the sample contract's clauses."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

DEFAULT_PORTS = (7233, 8233, 8000, 5432)


def _hold(stack: ExitStack, port: int) -> bool:
    """Listen on ``port``; False when another program already does (it is taken either way)."""
    server = socket.socket()
    try:
        server.bind(("127.0.0.1", port))
    except OSError:
        server.close()
        return False
    server.listen()
    stack.callback(server.close)
    return True


@pytest.fixture
def default_ports_taken() -> Iterator[list[int]]:
    with ExitStack() as stack:
        held = [port for port in DEFAULT_PORTS if _hold(stack, port)]
        yield held


def test_the_demo_prints_the_clauses_with_every_default_port_taken(
    default_ports_taken: list[int], tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CHARMELIO_")},
        "CHARMELIO_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        ["./scripts/demo.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "clause finding(s)" in done.stdout
    assert "Governing Law" in done.stdout
    assert "Traceback" not in done.stderr
    for port in (7233, 8233):
        assert f"port {port} (" in done.stderr, done.stderr[-2000:]
    assert (tmp_path / "data" / "objects").is_dir()
