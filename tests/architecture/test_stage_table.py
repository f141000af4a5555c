"""The stage table is the one place its facts are written: the README's retry table is checked
against it, and no other module spells a queue, activity, workflow-type or query name."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

from charmelio import stages
from charmelio.contract import ActivityName, QueryName, TaskQueue, WorkflowType
from charmelio.stages import STAGES, StageSpec
from tests.architecture.rooms import PYTHON_ROOMS, python_files
from tests.conftest import ROOT

README = ROOT / "README.md"
TABLE_HEADER = "| activity | queue | pool | attempts | backoff | final errors | start-to-close |"
# Where the names are defined: the contract and the stage table.
DEFINED_IN = {ROOT / "charmelio" / "contract.py", ROOT / "charmelio" / "stages.py"}


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _backoff(spec: StageSpec) -> str:
    retry = spec.retry
    initial = _duration(retry.initial_interval)
    ceiling = f", ≤ {_duration(retry.maximum_interval)}" if retry.maximum_interval else ""
    return f"{initial} initial, \u00d7{retry.backoff_coefficient:g}{ceiling}"


def render_retry_table() -> str:
    """The README's retry table, as the stage table says it must read."""
    lines = [TABLE_HEADER, "|---|---|---|---|---|---|---|"]
    for spec in STAGES:
        final = ", ".join(f"`{name}`" for name in spec.retry.non_retryable_error_types or [])
        timeout = _duration(spec.start_to_close)
        attempts = spec.retry.maximum_attempts or "unlimited"
        if spec.heartbeat is not None:
            timeout += f", heartbeat {_duration(spec.heartbeat)}"
        lines.append(
            f"| `{spec.activity}` | `{spec.queue}` | {spec.pool} | {attempts}"
            f" | {_backoff(spec)} | {final or '—'} | {timeout}: {spec.why} |"
        )
    return "\n".join(lines)


def test_the_readme_retry_table_is_the_stage_table() -> None:
    text = README.read_text(encoding="utf-8")
    expected = render_retry_table()
    assert expected in text, (
        "README.md's retry table differs from charmelio/stages.py; replace it with:\n\n" + expected
    )


def test_every_stage_runs_on_the_queue_its_pool_polls() -> None:
    for spec in STAGES:
        assert stages.QUEUE_OF_POOL[spec.pool] == spec.queue
    assert set(stages.PACKAGE_OF_POOL) == set(stages.POOLS)
    assert {spec.activity for spec in STAGES} == set(ActivityName)


def _literal_names() -> set[str]:
    names: set[str] = set()
    for family in (TaskQueue, ActivityName, WorkflowType, QueryName):
        names |= {member.value for member in family}
    return names


def _string_literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    # `__all__` lists Python names, which may equal a workflow type's name.
    exports = {
        id(element)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        for element in ast.walk(node.value)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings and id(node) not in exports
    ]


def test_no_name_of_the_contract_is_spelled_out_elsewhere() -> None:
    names = _literal_names()
    found = [
        f"{path.relative_to(ROOT)}:{line}: {value!r}"
        for room in PYTHON_ROOMS
        if room not in ("tests",)
        for path in python_files(room)
        if path not in DEFINED_IN
        for line, value in _string_literals(path)
        if value in names
    ]
    assert not found, "use the contract's names instead of literals:\n" + "\n".join(found)


# Where "parse" and friends mean something else than a pool: the parse engine's refusal kind,
# and the evaluation's timing phases.
OTHER_MEANINGS = {
    ROOT / "parse_worker" / "_protocol.py",
    ROOT / "parse_worker" / "_engines.py",
    ROOT / "parse_worker" / "_engine_main.py",
    ROOT / "operator_tools" / "evaluation" / "_run.py",
    ROOT / "operator_tools" / "evaluation" / "_report.py",
}


def test_no_pool_name_is_spelled_out_elsewhere() -> None:
    names = {pool.value for pool in stages.POOLS}
    found = [
        f"{path.relative_to(ROOT)}:{line}: {value!r}"
        for room in PYTHON_ROOMS
        if room != "tests"
        for path in python_files(room)
        if path not in DEFINED_IN | OTHER_MEANINGS
        for line, value in _string_literals(path)
        if value in names
    ]
    assert not found, "use charmelio.stages.PoolName instead of literals:\n" + "\n".join(found)
