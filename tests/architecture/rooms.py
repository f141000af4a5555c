"""The rooms of the house and what each may import."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

KERNEL = "charmelio"
POOLS = ("workflows", "parse_worker", "llm_worker", "store_worker")
APPS = ("api_server", "cli", "operator_tools")
SCRIPTS = ("benchmarks", "scripts")
PYTHON_ROOMS = (KERNEL, *POOLS, *APPS, *SCRIPTS, "tests")


def python_files(room: str) -> Iterator[Path]:
    yield from sorted((ROOT / room).rglob("*.py"))
