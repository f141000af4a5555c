"""The batch's store-side steps: keep its list in object storage, read it a page at a time.

The store pool runs them because it is the pool that holds both object storage and Postgres: a
page is read from the list, its documents recorded as the batch's members, and those whose
current extraction was made by the llm pool's extractor named, all in one activity per page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from temporalio import activity

from charmelio.batches import (
    BatchListError,
    decode_batch_list,
    extracted_by,
    record_members,
    save_batch_list,
)
from charmelio.contract import (
    ActivityName,
    BatchListRef,
    BatchPage,
    BatchPageRequest,
    SaveBatchListRequest,
)
from charmelio.errors import InvalidInputError, StorageUnavailableError
from charmelio.storage.objects import ObjectNotFoundError, ObjectStore

BATCH_LISTS = "batches/"


class BatchListActivities:
    def __init__(self, store: ObjectStore, database_url: str) -> None:
        self._store = store
        self._database_url = database_url

    @activity.defn(name=ActivityName.SAVE_BATCH_LIST)
    def save_batch_list(self, request: SaveBatchListRequest) -> BatchListRef:
        key = save_batch_list(self._store, request.batch_id, request.document_ids)
        return BatchListRef(list_key=key, total=len(request.document_ids))

    @activity.defn(name=ActivityName.READ_BATCH_PAGE)
    def read_batch_page(self, request: BatchPageRequest) -> BatchPage:
        ids = self._read_list(request)
        page = ids[request.offset : request.offset + request.limit]
        reusable: list[str] = []
        try:
            if page:
                record_members(self._database_url, request.batch_id, request.offset, page)
                if request.extractor:
                    reusable = extracted_by(self._database_url, page, request.extractor)
        except psycopg.OperationalError:
            # No message: libpq's can echo connection parameters. Temporal retries the page.
            raise StorageUnavailableError(
                "Postgres is unavailable", reason="database_unavailable"
            ) from None
        return BatchPage(document_ids=page, reusable=reusable, total=len(ids))

    def _read_list(self, request: BatchPageRequest) -> list[str]:
        # Only a batch's own list: the key comes from a workflow input anyone may write.
        if not request.list_key.startswith(BATCH_LISTS) or ".." in request.list_key:
            raise InvalidInputError(
                f"{request.list_key[:200]!r} is not a batch list key (batches/...)",
                reason="invalid_list_key",
            )
        try:
            data = self._store.get_bytes(request.list_key)
        except ObjectNotFoundError:
            raise InvalidInputError(
                f"batch list {request.list_key} does not exist", reason="list_missing"
            ) from None
        except ValueError:
            raise InvalidInputError(
                f"invalid batch list key {request.list_key[:200]!r}", reason="invalid_list_key"
            ) from None
        try:
            return decode_batch_list(data)
        except BatchListError as exc:
            raise InvalidInputError(
                f"batch list {request.list_key}: {exc}", reason="list_invalid"
            ) from None


def batch_activities(store: ObjectStore, database_url: str) -> list[Callable[..., Any]]:
    activities = BatchListActivities(store, database_url)
    return [activities.save_batch_list, activities.read_batch_page]
