"""The store stage: `store_results` and `record_failure`, the pipeline's writers of Postgres.

Temporal may run either activity again after a timeout, a worker crash or a lost completion, so
both are idempotent by extraction id: the extraction row is inserted with ``ON CONFLICT DO NOTHING``
and an existing row is never changed by a later attempt.

Object storage and Postgres cannot share a transaction, so the order of the steps carries the
guarantees. An artifact is written before the row that names it commits, so a committed row never
points at a missing object; whatever a crash leaves behind (an artifact without a row, a superseded
artifact, a draft) is removed by the next attempt, which cleans up even when nothing is left to
store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import ValidationError
from temporalio import activity

from charmelio.contract import (
    ActivityName,
    ExtractionResult,
    FailureReport,
    ObjectKeys,
    StoredExtraction,
    StoreRequest,
)
from charmelio.documents import document_exists
from charmelio.errors import InvalidInputError, StorageUnavailableError
from charmelio.llm_usage import read_llm_usage
from charmelio.settings import ConfigurationError, Settings
from charmelio.storage.database import connect
from charmelio.storage.objects import ObjectNotFoundError, ObjectStore, open_object_store
from store_worker import _repository as repository
from store_worker._batch_lists import batch_activities

# StagePolicy.STORE_RETRY allows 3 attempts; 15 s between them spans 30 s, so a database restart
# or failover of up to ~20 s delays documents instead of failing them. Temporal stays the one retry
# layer.
DATABASE_UNAVAILABLE_RETRY_DELAY = timedelta(seconds=15)


class StoreActivities:
    """The store activities, bound to one object store and one database.

    Each call opens its own connection: the activities run in a thread pool, a connection costs
    milliseconds next to the object-storage round trips, and nothing is shared between threads.
    """

    def __init__(self, store: ObjectStore, database_url: str) -> None:
        try:
            password = conninfo_to_dict(database_url).get("password")
        except psycopg.ProgrammingError:
            raise ConfigurationError("the database URL is not a valid Postgres URL") from None
        self._store = store
        self._database_url = database_url
        self._password = str(password) if password else None

    @activity.defn(name=ActivityName.STORE_RESULTS)
    def store_results(self, request: StoreRequest) -> StoredExtraction:
        """Store the extraction's artifact, row and clause rows; supersede older extractions.

        An extraction that already has a row is not stored again, and its draft is not read: a
        retry after a crash that followed the commit finds the draft already deleted.
        """
        created = False
        with self._connection() as conn:
            if repository.find_extraction(conn, request.extraction_id) is None:
                created = self._save(conn, request, self._read_draft(request))
            self._remove_stale_artifacts(conn, request.document_id)
            stored = repository.find_extraction(conn, request.extraction_id)
        self._delete_workspace(request)
        return _outcome(request, stored, created=created)

    @activity.defn(name=ActivityName.RECORD_FAILURE)
    def record_failure(self, report: FailureReport) -> None:
        """Record a failed extraction and remove whatever it wrote to object storage.

        The document may never have been uploaded, so no document row is created: a failure says
        nothing trustworthy about the file (it may not even be a PDF). What the LLM provider
        billed its failed attempts is recorded with it (`charmelio.llm_usage`).
        """
        usage = read_llm_usage(self._store, report.extraction_id)
        with self._connection() as conn:
            with conn.transaction():
                repository.insert_failure(conn, report, usage)
            stored = repository.find_extraction(conn, report.extraction_id)
        if stored is not None and stored.status == "failed":
            self._store.delete(
                ObjectKeys.extraction_artifact(report.document_id, report.extraction_id)
            )
        else:
            # A completed row's artifact must stay: the row points at it.
            activity.logger.warning(
                "extraction %s was already stored; its failure is not recorded",
                report.extraction_id,
            )
        self._delete_scratch(report.extraction_id)

    def _save(
        self, conn: repository.Connection, request: StoreRequest, result: ExtractionResult
    ) -> bool:
        """Store a new extraction in one transaction; False if another attempt stored it first.

        The artifact is put while the document row is locked, like the cleanup runs, so a cleanup
        never mistakes the artifact of a transaction that has not committed yet for an orphan.
        """
        artifact_key = ObjectKeys.extraction_artifact(request.document_id, request.extraction_id)
        new_document_size = (
            None
            if document_exists(conn, request.document_id)
            else self._pdf_size(request.document_id)
        )
        with conn.transaction():
            if new_document_size is not None:
                self._create_document(conn, request, new_document_size)
            repository.lock_document(conn, request.document_id)
            if repository.find_extraction(conn, request.extraction_id) is not None:
                return False
            self._store.put_bytes(
                artifact_key, result.model_dump_json().encode(), "application/json"
            )
            inserted = repository.insert_completed(
                conn,
                extraction_id=request.extraction_id,
                workflow_id=request.workflow_id,
                artifact_key=artifact_key,
                result=result,
                extractor=request.extraction.extractor,
            )
            if not inserted:  # record_failure, which takes no lock, got there first
                return False
            repository.supersede_others(conn, request.document_id, request.extraction_id)
            repository.fill_page_count(conn, request.parsed)
            repository.insert_clauses(conn, request.extraction_id, result.findings)
        return True

    def _create_document(
        self, conn: repository.Connection, request: StoreRequest, size: int
    ) -> None:
        try:
            repository.ensure_document(conn, request.parsed, size)
        except psycopg.errors.UniqueViolation:
            raise InvalidInputError(
                f"document {request.document_id} has the sha256 of another stored document",
                reason="duplicate_sha256",
            ) from None

    def _pdf_size(self, document_id: str) -> int:
        """The PDF's size, for a document the upload never recorded (rare: reading it is fine)."""
        try:
            return len(self._store.get_bytes(ObjectKeys.document_pdf(document_id)))
        except ObjectNotFoundError:
            return 0  # deleted since parse_pdf read it: the size can no longer be known

    def _read_draft(self, request: StoreRequest) -> ExtractionResult:
        key = request.extraction.result_key
        try:
            data = self._store.get_bytes(key)
        except (ObjectNotFoundError, ValueError):
            raise InvalidInputError(
                f"extraction draft {key[:200]!r} does not exist", reason="draft_missing"
            ) from None
        try:
            result = ExtractionResult.model_validate_json(data)
        except ValidationError as exc:
            raise InvalidInputError(
                f"extraction draft {key} is not a valid ExtractionResult "
                f"({exc.error_count()} errors)",
                reason="draft_invalid",
            ) from None
        if result.document_id != request.document_id:
            raise InvalidInputError(
                f"extraction draft {key} belongs to document {result.document_id}, "
                f"not {request.document_id}",
                reason="draft_mismatch",
            )
        return result

    def _remove_stale_artifacts(self, conn: repository.Connection, document_id: str) -> None:
        """Delete every artifact of the document but its completed extraction's.

        That covers superseded extractions, failed ones and orphans of attempts that crashed before
        committing. It runs under the document lock: see `_save`.
        """
        with conn.transaction():
            repository.lock_document(conn, document_id)
            keep = repository.completed_artifact_keys(conn, document_id)
            for key in list(
                self._store.list_keys(ObjectKeys.extraction_artifact_prefix(document_id))
            ):
                if key not in keep:
                    self._store.delete(key)

    def _delete_workspace(self, request: StoreRequest) -> None:
        key = request.extraction.result_key
        if key != ObjectKeys.extraction_draft(request.extraction_id):
            # The request names the key; only this extraction's scratch space is ours to delete.
            activity.logger.warning("not deleting %s: not the draft key of this extraction", key)
        self._delete_scratch(request.extraction_id)

    def _delete_scratch(self, extraction_id: str) -> None:
        """The draft and the provider replies kept between llm attempts: the whole workspace."""
        prefix = ObjectKeys.extraction_workspace(extraction_id)
        try:
            keys = list(self._store.list_keys(prefix))
        except StorageUnavailableError:
            raise
        except Exception:
            activity.logger.warning("could not list scratch space %s", prefix, exc_info=True)
            return
        for key in keys:
            self._delete_quietly(key)

    def _delete_quietly(self, key: str) -> None:
        """Drafts are scratch space: failing to delete one must not fail a stored extraction.

        Unreachable storage is the exception: the attempt fails with its retryable error, and the
        next attempt, finding the extraction stored, only cleans up, so no draft is left behind.
        """
        try:
            self._store.delete(key)
        except StorageUnavailableError:
            raise
        except Exception:
            activity.logger.warning("could not delete draft %s", key, exc_info=True)

    @contextmanager
    def _connection(self) -> Iterator[repository.Connection]:
        """An autocommit connection (transactions are explicit); database trouble is retryable.

        `psycopg.OperationalError` covers refused and dropped connections, deadlocks and cancelled
        statements: all transient. The original exception is not chained, because Temporal records
        the cause chain and libpq messages can echo connection parameters.
        """
        try:
            with connect(self._database_url, autocommit=True) as conn:
                yield conn
        except psycopg.OperationalError as exc:
            message = str(exc)
            if self._password:
                message = message.replace(self._password, "***")
            raise StorageUnavailableError(
                f"Postgres is unavailable: {message}",
                reason="database_unavailable",
                next_retry_delay=DATABASE_UNAVAILABLE_RETRY_DELAY,
            ) from None


def _outcome(
    request: StoreRequest, stored: repository.ExtractionRow | None, *, created: bool
) -> StoredExtraction:
    if stored is None or stored.artifact_key is None:
        raise InvalidInputError(
            f"extraction {request.extraction_id} has no stored result: it was recorded as failed",
            reason="already_failed",
        )
    if stored.document_id != request.document_id:
        raise InvalidInputError(
            f"extraction {request.extraction_id} belongs to document {stored.document_id}",
            reason="document_mismatch",
        )
    return StoredExtraction(
        extraction_id=request.extraction_id,
        artifact_key=stored.artifact_key,
        clause_count=stored.clause_count,
        created=created,
    )


def activities_for(settings: Settings) -> list[Callable[..., Any]]:
    """The activities a store worker registers on `TaskQueue.STORE`."""
    store = open_object_store(settings)
    database_url = settings.require_database_url()
    activities = StoreActivities(store, database_url)
    return [
        activities.store_results,
        activities.record_failure,
        *batch_activities(store, database_url),
    ]
