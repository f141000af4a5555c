"""Recorded histories replay against the current workflow code.

A change that would break workflows already running (a new activity call, reordered steps, a
different timeout) raises NondeterminismError here. Such changes go behind `workflow.patched`.
Batch histories are one per run: the first run's ends in continue-as-new, the next starts from the
state it carried; each run has a failed child.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from charmelio.batches import new_batch_id
from tests.workflows.record_histories import HISTORIES, recorded_names
from workflows import BatchExtractionWorkflow, ExtractionWorkflow

RECORDED = sorted(HISTORIES.glob("*.json"))


def test_every_scenario_has_a_recorded_history() -> None:
    recorded = {path.stem.split("-", 1)[1] for path in RECORDED}
    assert recorded_names() <= recorded


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("path", RECORDED, ids=lambda path: path.stem)
async def test_recorded_history_replays_on_the_current_workflow(path: Path) -> None:
    # A batch checks its own id (it names the batch everywhere): replay it under a valid one.
    is_batch = path.stem.split("-", 1)[1].startswith("batch_")
    workflow_id = new_batch_id("replay") if is_batch else f"replay-{path.stem}"
    history = WorkflowHistory.from_json(workflow_id, path.read_text())
    replayer = Replayer(
        workflows=[ExtractionWorkflow, BatchExtractionWorkflow],
        data_converter=pydantic_data_converter,
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
