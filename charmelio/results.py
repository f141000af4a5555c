"""Reading stored extractions back, for `charmelio show` and `extract --wait`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg.rows import dict_row

from charmelio.contract import validate_extraction_id
from charmelio.documents import document_names
from charmelio.storage.database import connect

_COLUMNS = (
    "id::text AS extraction_id, document_id, workflow_id, status, provider, model, artifact_key,"
    " clause_count, quotes_dropped, tokens_used, llm_requests, prompt_tokens, completion_tokens,"
    " fields, failed_stage, error_type, error_message,"
    " created_at, finished_at"
)


@dataclass
class StoredView:
    extraction: dict[str, Any]
    clauses: list[dict[str, Any]] = field(default_factory=list)
    # The names the document was uploaded under, oldest first.
    document_names: tuple[str, ...] = ()


def load_extraction(database_url: str, extraction_or_document_id: str) -> StoredView | None:
    """An extraction by its id, or a document's current one (its latest completed, else latest)."""
    with connect(database_url) as conn, conn.cursor(row_factory=dict_row) as cur:
        try:
            validate_extraction_id(extraction_or_document_id)
            cur.execute(
                f"SELECT {_COLUMNS} FROM extractions WHERE id = %s",  # noqa: S608
                (extraction_or_document_id,),
            )
        except ValueError:
            cur.execute(
                f"SELECT {_COLUMNS} FROM extractions WHERE document_id = %s"  # noqa: S608
                " ORDER BY (status = 'completed') DESC, finished_at DESC LIMIT 1",
                (extraction_or_document_id,),
            )
        row = cur.fetchone()
        if row is None:
            return None
        cur.execute(
            "SELECT category, page, confidence, quote, start_offset, end_offset FROM clauses"
            " WHERE extraction_id = %s ORDER BY category, page, ordinal",
            (row["extraction_id"],),
        )
        clauses = list(cur.fetchall())
        names = document_names(conn, row["document_id"])
    return StoredView(extraction=row, clauses=clauses, document_names=names)
