from __future__ import annotations

import uuid

import pytest
from pydantic import SecretStr
from temporalio.testing import ActivityEnvironment

from charmelio.errors import StorageUnavailableError
from charmelio.settings import ConfigurationError, Settings
from charmelio.storage.objects import ObjectStore
from store_worker import StoreActivities, activities_for
from tests.store.harness import StoreHarness, failure, sample_result

UNREACHABLE = "postgresql://charmelio:s3cret-Pa55@127.0.0.1:1/charmelio"


def test_unreachable_database_is_a_retryable_error_without_the_password(
    harness: StoreHarness,
) -> None:
    down = StoreActivities(harness.store, UNREACHABLE)
    env = ActivityEnvironment()
    request = harness.draft(sample_result("doc-1"))

    with pytest.raises(StorageUnavailableError) as stored:
        env.run(down.store_results, request)
    with pytest.raises(StorageUnavailableError) as recorded:
        env.run(down.record_failure, failure("doc-1", str(uuid.uuid4())))

    for caught in (stored.value, recorded.value):
        assert caught.type == "StorageUnavailableError"
        assert not caught.non_retryable
        assert "s3cret-Pa55" not in str(caught)
        assert caught.__cause__ is None
    assert harness.store.exists(request.extraction.result_key)


def test_malformed_database_url_fails_at_start(object_store: ObjectStore) -> None:
    with pytest.raises(ConfigurationError) as caught:
        StoreActivities(object_store, "postgresql://user:s3cret-Pa55@host/db?bogus=1")

    assert "s3cret-Pa55" not in str(caught.value)


def test_activities_for_binds_the_store_and_batch_activities(
    storage_settings: Settings, database_url: str
) -> None:
    settings = storage_settings.model_copy(update={"database_url": SecretStr(database_url)})

    store_results, record_failure, save_list, read_page = activities_for(settings)

    assert (store_results.__name__, record_failure.__name__) == ("store_results", "record_failure")
    assert (save_list.__name__, read_page.__name__) == ("save_batch_list", "read_batch_page")
    ActivityEnvironment().run(record_failure, failure("doc-1", str(uuid.uuid4())))


def test_activities_for_needs_a_database_url(storage_settings: Settings) -> None:
    with pytest.raises(ConfigurationError):
        activities_for(storage_settings.model_copy(update={"database_url": None}))
