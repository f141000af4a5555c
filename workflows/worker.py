"""Entry point of the workflow pool: polls extraction-queue for workflow tasks only."""

from __future__ import annotations

from charmelio.settings import Settings
from charmelio.stages import QUEUE_OF_POOL, PoolName
from charmelio.worker_runtime import PoolSpec
from workflows.batch import BatchExtractionWorkflow
from workflows.extraction import ExtractionWorkflow


def pool_spec(settings: Settings) -> PoolSpec:
    return PoolSpec(
        name=PoolName.WORKFLOW,
        task_queue=QUEUE_OF_POOL[PoolName.WORKFLOW].value,
        concurrency=settings.workflow_concurrency,
        workflows=[ExtractionWorkflow, BatchExtractionWorkflow],
    )
