from __future__ import annotations

import pytest
from temporalio.testing import ActivityEnvironment

from charmelio.storage.objects import ObjectStore
from store_worker import StoreActivities
from tests.store.harness import StoreHarness


@pytest.fixture
def harness(object_store: ObjectStore, database_url: str) -> StoreHarness:
    """The store activities on a fresh database, once per object-storage backend."""
    return StoreHarness(
        store=object_store,
        database_url=database_url,
        activities=StoreActivities(object_store, database_url),
        env=ActivityEnvironment(),
    )
