"""Entry point of the llm pool: polls llm-queue for llm_extract, under the provider's limits."""

from __future__ import annotations

from collections.abc import Callable

from charmelio.settings import Settings
from charmelio.stages import QUEUE_OF_POOL, PoolName
from charmelio.worker_runtime import PoolSpec
from llm_worker.activities import activities_for


def _budget_table(settings: Settings) -> list[Callable[[], None]]:
    """With shared limits the pool needs the ``llm_budget`` table, whoever starts first."""
    if not (settings.llm_budget_configured and settings.effective_llm_provider == "openai"):
        return []
    database_url = settings.require_database_url()  # fails the start, not the first document
    if not settings.migrate_on_start:
        return []

    def migrate_budget() -> None:
        from charmelio.storage.database import migrate

        migrate(database_url)

    return [migrate_budget]


def pool_spec(settings: Settings) -> PoolSpec:
    # max_task_queue_activities_per_second is enforced by the server across every llm worker, which
    # is what a provider's rate limit needs; a per-process limit would scale with the pool. Request
    # and token limits per minute are shared through Postgres (llm_worker._budget).
    return PoolSpec(
        name=PoolName.LLM,
        task_queue=QUEUE_OF_POOL[PoolName.LLM].value,
        concurrency=settings.llm_concurrency,
        activities=activities_for(settings),
        queue_rate_limit=settings.llm_rate_limit_per_second,
        on_start=_budget_table(settings),
    )
