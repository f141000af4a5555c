"""Entry point of the store pool: polls store-queue for store_results and record_failure."""

from __future__ import annotations

from charmelio.settings import Settings
from charmelio.stages import QUEUE_OF_POOL, PoolName
from charmelio.storage.database import migrate
from charmelio.worker_runtime import PoolSpec
from store_worker.activities import activities_for


def pool_spec(settings: Settings) -> PoolSpec:
    database_url = settings.require_database_url()
    return PoolSpec(
        name=PoolName.STORE,
        task_queue=QUEUE_OF_POOL[PoolName.STORE].value,
        concurrency=settings.store_concurrency,
        activities=activities_for(settings),
        # Concurrent starts are safe: migrations take an advisory lock.
        on_start=[lambda: _migrate(database_url)] if settings.migrate_on_start else [],
    )


def _migrate(database_url: str) -> None:
    migrate(database_url)
