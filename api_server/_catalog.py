"""The API's reads of Postgres: documents, stored extractions and their clauses, the listing.

Plain functions of a connection, run on worker threads by `Services.database`. Values always travel
as query parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg.rows import dict_row

from api_server._cursor import Cursor
from api_server._models import Clause, Document, ExtractionSummary, StoredStatus
from api_server._services import Connection
from charmelio.documents import document_names

_SUMMARY = (
    "e.id::text AS extraction_id, e.document_id, d.filename, e.status, e.provider, e.model,"
    " e.clause_count, e.failed_stage, e.error_type, e.created_at, e.finished_at,"
    " e.llm_requests, e.tokens_used, e.prompt_tokens, e.completion_tokens"
)
_FROM = " FROM extractions e LEFT JOIN documents d ON d.id = e.document_id"
# A document's current extraction: its latest completed one, else its latest.
_CURRENT = " ORDER BY (e.status = 'completed') DESC, e.finished_at DESC, e.id DESC LIMIT 1"


@dataclass(frozen=True)
class StoredExtraction:
    summary: ExtractionSummary
    workflow_id: str
    artifact_key: str | None
    error_message: str | None
    clauses: list[Clause]


def find_document(conn: Connection, document_id: str) -> Document | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT id AS document_id, sha256, filename, size_bytes, page_count,"
            " created_at AS uploaded_at FROM documents WHERE id = %s",
            (document_id,),
        )
        row = cur.fetchone()
        if row is None:
            return None
        cur.execute(
            f"SELECT {_SUMMARY}{_FROM} WHERE e.document_id = %s{_CURRENT}",
            (document_id,),
        )
        current = cur.fetchone()
    return Document(
        **row,
        filenames=list(document_names(conn, document_id)),
        current_extraction=ExtractionSummary(**current) if current is not None else None,
    )


def find_extraction(conn: Connection, extraction_id: str) -> StoredExtraction | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {_SUMMARY}, e.workflow_id, e.artifact_key, e.error_message{_FROM}"
            " WHERE e.id = %s",
            (extraction_id,),
        )
        row = cur.fetchone()
        if row is None:
            return None
        cur.execute(
            "SELECT ordinal, category, quote, page, confidence, start_offset, end_offset"
            " FROM clauses"
            " WHERE extraction_id = %s ORDER BY category, page, ordinal",
            (extraction_id,),
        )
        clauses = [Clause(**clause) for clause in cur.fetchall()]
    workflow_id = row.pop("workflow_id")
    artifact_key = row.pop("artifact_key")
    error_message = row.pop("error_message")
    return StoredExtraction(
        ExtractionSummary(**row), workflow_id, artifact_key, error_message, clauses
    )


def list_extractions(
    conn: Connection,
    *,
    status: StoredStatus | None,
    document_id: str | None,
    after: Cursor | None,
    limit: int,
) -> list[ExtractionSummary]:
    """Newest first (by finished_at, then id), strictly after `after`."""
    where: list[str] = []
    params: list[Any] = []
    if status is not None:
        where.append("e.status = %s")
        params.append(status)
    if document_id is not None:
        where.append("e.document_id = %s")
        params.append(document_id)
    if after is not None:
        where.append("(e.finished_at, e.id) < (%s, %s::uuid)")
        params.extend([after.finished_at, after.extraction_id])
    sql = f"SELECT {_SUMMARY}{_FROM}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY e.finished_at DESC, e.id DESC LIMIT %s"
    params.append(limit)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return [ExtractionSummary(**row) for row in cur.fetchall()]
