"""Imports go downward: apps use the kernel and the pools' public surfaces; the kernel imports no
app or pool; no pool imports another. Every import counts, also those inside functions and under
TYPE_CHECKING, because each is a dependency a reader has to know about."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.architecture.rooms import APPS, KERNEL, POOLS, PYTHON_ROOMS, SCRIPTS, python_files
from tests.conftest import ROOT

PROJECT = set(PYTHON_ROOMS)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in PROJECT}


def _room(module: str) -> str:
    return module.split(".")[0]


def _is_private(module: str) -> bool:
    return any(part.startswith("_") and part != "__main__" for part in module.split(".")[1:])


def _arrows(rooms: tuple[str, ...]) -> list[tuple[str, str, str]]:
    return [
        (room, str(path.relative_to(ROOT)), module)
        for room in rooms
        for path in python_files(room)
        for module in sorted(imported_modules(path))
    ]


def test_the_kernel_imports_no_pool_app_script_or_test() -> None:
    wrong = [
        f"{path} imports {module}"
        for _, path, module in _arrows((KERNEL,))
        if _room(module) != KERNEL
    ]
    assert not wrong, "\n".join(wrong)


def test_a_pool_imports_only_the_kernel_and_itself() -> None:
    wrong = [
        f"{path} imports {module}"
        for room, path, module in _arrows(POOLS)
        if _room(module) not in (KERNEL, room)
    ]
    assert not wrong, "\n".join(wrong)


def test_apps_and_benchmarks_use_only_the_public_surface_of_a_pool() -> None:
    wrong = [
        f"{path} imports {module}"
        for _, path, module in _arrows((*APPS, *SCRIPTS))
        if _room(module) in POOLS and _is_private(module)
    ]
    assert not wrong, "\n".join(wrong)


def test_nothing_shipped_imports_the_tests_and_no_app_imports_the_command_line() -> None:
    wrong = [
        f"{path} imports {module}"
        for room, path, module in _arrows((KERNEL, *POOLS, *APPS, *SCRIPTS))
        if _room(module) == "tests" or (_room(module) == "cli" and room != "cli")
    ]
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from parse_worker._ocr import x\n"
        "def f() -> None:\n    import llm_worker.activities\n",
        encoding="utf-8",
    )
    assert imported_modules(sample) == {
        "parse_worker._ocr",
        "parse_worker._ocr.x",
        "llm_worker.activities",
    }
