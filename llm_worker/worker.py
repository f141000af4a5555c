"""Entry point of the llm pool: polls llm-queue for llm_extract, under a queue-wide rate limit."""

from __future__ import annotations

from charmelio.contract import TaskQueue
from charmelio.settings import Settings
from charmelio.worker_runtime import PoolSpec
from llm_worker.activities import activities_for


def pool_spec(settings: Settings) -> PoolSpec:
    # max_task_queue_activities_per_second is enforced by the server across every llm worker, which
    # is what a provider's rate limit needs; a per-process limit would scale with the pool.
    return PoolSpec(
        name="llm",
        task_queue=TaskQueue.LLM.value,
        concurrency=settings.llm_concurrency,
        activities=activities_for(settings),
        queue_rate_limit=settings.llm_rate_limit_per_second,
    )
