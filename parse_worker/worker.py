"""Entry point of the parse pool: polls parse-queue for parse_pdf."""

from __future__ import annotations

from charmelio.contract import TaskQueue
from charmelio.settings import Settings
from charmelio.worker_runtime import PoolSpec
from parse_worker.activities import activities_for


def pool_spec(settings: Settings) -> PoolSpec:
    return PoolSpec(
        name="parse",
        task_queue=TaskQueue.PARSE.value,
        concurrency=settings.parse_concurrency,
        activities=activities_for(settings),
    )
