"""Batches outside the workflow: their list in object storage, their members and outcomes in
Postgres, and starting and following one in Temporal. Shared by the store pool, the CLI and the API,
so each reads and writes a batch exactly the same way.

A batch's list is plain text, one document id per line: the CLI and the API write it before
starting the batch, the batch writes ids given inline, and `read_batch_page` reads a page of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError

from charmelio.contract import (
    BATCH_ID_PREFIX,
    BatchInput,
    BatchProgress,
    ObjectKeys,
    QueryName,
    SignalName,
    TaskQueue,
    WorkflowType,
    validate_batch_id,
    validate_document_id,
)
from charmelio.storage.database import connect
from charmelio.storage.objects import ObjectStore

BatchHandle = WorkflowHandle[Any, BatchProgress]


class BatchListError(ValueError):
    """A batch list that cannot be used: missing, or holding something that is not a document id."""


def new_batch_id(suffix: str) -> str:
    return validate_batch_id(f"{BATCH_ID_PREFIX}{suffix}")


def encode_batch_list(document_ids: Sequence[str]) -> bytes:
    return "".join(f"{validate_document_id(doc)}\n" for doc in document_ids).encode("ascii")


def decode_batch_list(data: bytes) -> list[str]:
    try:
        lines = data.decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise BatchListError("the batch list is not ASCII text") from None
    ids = [line.strip() for line in lines if line.strip()]
    for number, doc in enumerate(ids, start=1):
        try:
            validate_document_id(doc)
        except ValueError as exc:
            raise BatchListError(f"line {number}: {exc}") from None
    return ids


def save_batch_list(store: ObjectStore, batch_id: str, document_ids: Sequence[str]) -> str:
    """Write the list under the batch's key (the same ids give the same bytes: retries are safe)."""
    key = ObjectKeys.batch_list(batch_id)
    store.put_bytes(key, encode_batch_list(document_ids), "text/plain")
    return key


# --- members and outcomes ----------------------------------------------------------------------


def record_members(database_url: str, batch_id: str, offset: int, document_ids: list[str]) -> None:
    """Note the page's documents as the batch's, at their list positions (idempotent)."""
    with connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO batch_documents (batch_id, position, document_id)"
            " SELECT %s, %s + t.ord - 1, t.id FROM unnest(%s::text[]) WITH ORDINALITY AS t(id, ord)"
            " ON CONFLICT DO NOTHING",
            (batch_id, offset, document_ids),
        )


def extracted_by(database_url: str, document_ids: list[str], extractor: str) -> list[str]:
    """The documents whose current (completed) extraction was made by ``extractor``."""
    with connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT DISTINCT document_id FROM extractions"
            " WHERE document_id = ANY(%s) AND status = 'completed' AND extractor = %s",
            (document_ids, extractor),
        ).fetchall()
    found = {str(row[0]) for row in rows}
    return [doc for doc in document_ids if doc in found]


@dataclass(frozen=True)
class BatchDocument:
    """One member of a batch and its document's current extraction (None: none yet)."""

    position: int
    document_id: str
    filename: str | None
    status: str | None
    extraction_id: str | None
    extractor: str | None
    parties: list[str]
    governing_law: str | None
    clause_count: int
    failed_stage: str | None
    error_type: str | None
    error_message: str | None
    finished_at: datetime | None


_MEMBERS = """
SELECT b.position, b.document_id, d.filename, e.status, e.id::text AS extraction_id, e.extractor,
       e.fields, e.clause_count, e.failed_stage, e.error_type, e.error_message, e.finished_at
FROM batch_documents b
LEFT JOIN documents d ON d.id = b.document_id
LEFT JOIN LATERAL (
    SELECT * FROM extractions x WHERE x.document_id = b.document_id
    ORDER BY (x.status = 'completed') DESC, x.finished_at DESC, x.id DESC LIMIT 1
) e ON true
WHERE b.batch_id = %s AND b.position >= %s
ORDER BY b.position
LIMIT %s
"""


def batch_documents(
    database_url: str, batch_id: str, *, offset: int = 0, limit: int = 1000
) -> list[BatchDocument]:
    """The batch's members from list position ``offset``, with their current outcomes.

    "Current" is what `charmelio show DOCUMENT` shows: the latest completed extraction, else the
    latest failure. Only members the batch has reached are listed.
    """
    with connect(database_url) as conn, conn.cursor(row_factory=dict_row) as cursor:
        cursor.execute(_MEMBERS, (validate_batch_id(batch_id), offset, limit))
        rows = cursor.fetchall()
    members = []
    for row in rows:
        fields: dict[str, Any] = row["fields"] or {}
        members.append(
            BatchDocument(
                position=row["position"],
                document_id=row["document_id"],
                filename=row["filename"],
                status=row["status"],
                extraction_id=row["extraction_id"],
                extractor=row["extractor"],
                parties=[str(p.get("name", "?")) for p in fields.get("parties") or []],
                governing_law=fields.get("governing_law"),
                clause_count=row["clause_count"] or 0,
                failed_stage=row["failed_stage"],
                error_type=row["error_type"],
                error_message=row["error_message"],
                finished_at=row["finished_at"],
            )
        )
    return members


# --- Temporal ----------------------------------------------------------------------------------


async def start_batch(client: Client, batch_id: str, batch: BatchInput) -> BatchHandle:
    """Start the batch under its own id; a batch id is used once (a second start is refused)."""
    return await client.start_workflow(
        WorkflowType.BATCH.value,
        batch,
        id=validate_batch_id(batch_id),
        task_queue=TaskQueue.WORKFLOW.value,
        result_type=BatchProgress,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )


def batch_handle(client: Client, batch_id: str) -> BatchHandle:
    """The batch's latest run (continue-as-new makes new runs; the id names them all)."""
    return client.get_workflow_handle(validate_batch_id(batch_id), result_type=BatchProgress)


async def batch_progress(handle: BatchHandle, *, rpc_timeout: float | None = None) -> BatchProgress:
    """Where the batch stands; a finished batch answers with its result."""
    from datetime import timedelta

    from temporalio.client import WorkflowExecutionStatus

    description = await handle.describe()
    if description.status == WorkflowExecutionStatus.RUNNING:
        timeout = timedelta(seconds=rpc_timeout) if rpc_timeout else None
        progress: BatchProgress = await handle.query(
            QueryName.BATCH_PROGRESS.value, result_type=BatchProgress, rpc_timeout=timeout
        )
        return progress
    return await handle.result()


async def cancel_batch(handle: BatchHandle) -> None:
    await handle.signal(SignalName.CANCEL_BATCH.value)


async def follow_batch(
    handle: BatchHandle,
    on_progress: Callable[[BatchProgress], Awaitable[None] | None],
    *,
    interval: float = 1.0,
) -> BatchProgress:
    """Report the batch's progress every ``interval`` seconds until it ends; its final progress.

    A query fails while no workflow worker is up or the batch is between runs: the last answer
    stands until the next one arrives.
    """
    while True:
        try:
            progress = await batch_progress(handle)
        except RPCError:
            await asyncio.sleep(interval)
            continue
        maybe = on_progress(progress)
        if maybe is not None:
            await maybe
        if progress.status != "running":
            return progress
        await asyncio.sleep(interval)
