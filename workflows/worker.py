"""Entry point of the workflow pool: polls extraction-queue for workflow tasks only."""

from __future__ import annotations

from charmelio.contract import TaskQueue
from charmelio.settings import Settings
from charmelio.worker_runtime import PoolSpec
from workflows.extraction import ExtractionWorkflow


def pool_spec(settings: Settings) -> PoolSpec:
    return PoolSpec(
        name="workflow",
        task_queue=TaskQueue.WORKFLOW.value,
        concurrency=settings.workflow_concurrency,
        workflows=[ExtractionWorkflow],
    )
