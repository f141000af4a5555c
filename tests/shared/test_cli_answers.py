"""The command answers what was asked, in one line: no traceback for an expected condition, and
nothing started or stored for a request it refuses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from charmelio.documents import document_names
from charmelio.settings import Settings
from cli import main
from operator_tools.devstack import DevStack, StackError
from tests.conftest import CUAD_PDFS, ROOT

SAMPLE = sorted(CUAD_PDFS.glob("*.pdf"))[0]


@pytest.fixture
def stack_env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment of a running stack, with a Temporal nobody answers: nothing may start."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHARMELIO_DATABASE_URL", database_url)
    monkeypatch.setenv("CHARMELIO_STORAGE_BACKEND", "local")
    monkeypatch.setenv("CHARMELIO_STORAGE_DIR", str(tmp_path / "objects"))
    monkeypatch.setenv("CHARMELIO_TEMPORAL_ADDRESS", "127.0.0.1:1")
    monkeypatch.setenv("CHARMELIO_TEMPORAL_CONNECT_TIMEOUT_SECONDS", "1")
    return tmp_path


def _rows(database_url: str, table: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
    assert row is not None
    return int(row[0])


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [[sys.executable, "-m", "cli", "worker", "llm"], [sys.executable, "-m", "llm_worker"]],
    ids=["charmelio worker llm", "python -m llm_worker"],
)
def test_an_invalid_setting_is_one_line_naming_the_variables_and_the_rule(
    command: list[str], tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "CHARMELIO_LLM_CONTEXT_TOKENS": "4096",
        "CHARMELIO_LLM_REPLY_TOKENS": "3000",
    }
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    line = _one_line(done.stderr)
    assert "CHARMELIO_LLM_REPLY_TOKENS (3000)" in line
    assert "CHARMELIO_LLM_CONTEXT_TOKENS=4096" in line


def test_a_value_of_the_wrong_type_names_its_variable(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "CHARMELIO_API_PORT": "eighty"}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "show", "doc_x"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "CHARMELIO_API_PORT=eighty" in _one_line(done.stderr)


def test_extracting_an_unknown_document_starts_nothing(
    stack_env: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["extract", "doc_0123456789abcdef01234567"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "doc_0123456789abcdef01234567: no such document" in line
    assert _rows(database_url, "extractions") == 0


def test_a_missing_file_is_only_a_missing_file(
    stack_env: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["extract", "contracts/missing.pdf"]) == 1
    assert _one_line(capsys.readouterr().err) == "charmelio: contracts/missing.pdf: no such file"
    assert main(["upload", "missing.pdf"]) == 1
    assert _one_line(capsys.readouterr().err) == "missing.pdf: no such file"
    assert _rows(database_url, "documents") == 0


def test_a_document_uploaded_again_keeps_every_name(
    stack_env: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = stack_env / "msa.pdf", stack_env / "MSA final.pdf"
    first.write_bytes(SAMPLE.read_bytes())
    second.write_bytes(SAMPLE.read_bytes())
    assert main(["upload", str(first)]) == 0
    assert main(["upload", str(second)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "(new, " in out[0]
    assert out[1].endswith("(already uploaded as msa.pdf)")
    document_id = out[0].split()[0]
    with psycopg.connect(database_url) as conn:
        assert document_names(conn, document_id) == ("msa.pdf", "MSA final.pdf")
    assert _rows(database_url, "documents") == 1


def test_without_a_stack_the_command_says_how_to_reach_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("CHARMELIO_")]:
        monkeypatch.delenv(name)
    assert main(["show", "doc_x"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "no running stack found in .charmelio" in line
    assert "--data-dir" in line
    assert "CHARMELIO_DATA_DIR" in line


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


def test_a_second_stack_on_one_data_directory_is_refused_in_one_line(
    tmp_path: Path, listener: int
) -> None:
    (tmp_path / "stack.env").write_text(f"CHARMELIO_TEMPORAL_ADDRESS=127.0.0.1:{listener}\n")
    stack = DevStack(Settings(_env_file=None, data_dir=tmp_path))
    with pytest.raises(StackError, match="a stack is already running in") as refused:
        stack.start()
    assert "\n" not in str(refused.value)


def test_a_taken_port_is_replaced_by_a_free_one_and_said(tmp_path: Path, listener: int) -> None:
    stack = DevStack(Settings(_env_file=None, data_dir=tmp_path, api_port=listener))
    port = stack._choose_port(listener, "the API", "CHARMELIO_API_PORT")
    assert port != listener
    assert stack.notices == [
        f"port {listener} (the API, CHARMELIO_API_PORT) is taken: using {port}"
    ]


def test_the_command_works_from_another_directory_with_data_dir(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "--data-dir", str(tmp_path / "nowhere"), "show", "doc_x"],
        env={"PATH": os.environ.get("PATH", "")},
        cwd=ROOT.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"no running stack found in {tmp_path / 'nowhere'}" in _one_line(done.stderr)
