"""The store stage's SQL. Values always travel as query parameters, never inside the SQL text.

Postgres ``text`` and ``jsonb`` cannot hold NUL characters, and PDF text extraction does produce
them, so every string bound for the database loses its NULs here. The artifact in object storage
keeps the exact text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from charmelio.contract import (
    TOPIC_FIELDS,
    ClauseFinding,
    ExtractionResult,
    FailureReport,
    ObjectKeys,
    ParsedDocument,
    ProviderUsage,
)

Connection = psycopg.Connection[Any]

ERROR_MESSAGE_LIMIT = 4000
ERROR_TYPE_LIMIT = 200

# The result's headline data, kept in `extractions.fields`; the findings go to `clauses`.
_FIELD_NAMES = {
    "parties",
    "effective_date",
    "termination_date",
    "term_length",
    "governing_law",
    "agreement_date",
    "perpetual",
    "renewal_term",
    "renewal_notice_period",
    "field_evidence",
    *TOPIC_FIELDS,
    "summary",
    "confidence",
}


@dataclass(frozen=True)
class ExtractionRow:
    document_id: str
    status: str
    artifact_key: str | None
    clause_count: int


def without_nul(text: str) -> str:
    return text.replace("\x00", "")


def _json_without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return without_nul(value)
    if isinstance(value, dict):
        return {without_nul(key): _json_without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_without_nul(item) for item in value]
    return value


def find_extraction(conn: Connection, extraction_id: str) -> ExtractionRow | None:
    with conn.cursor(row_factory=class_row(ExtractionRow)) as cursor:
        cursor.execute(
            "SELECT document_id, status, artifact_key, clause_count FROM extractions WHERE id = %s",
            (UUID(extraction_id),),
        )
        return cursor.fetchone()


def ensure_document(conn: Connection, parsed: ParsedDocument, size_bytes: int) -> None:
    """Create the document row the upload normally creates; an existing row is left untouched."""
    conn.execute(
        "INSERT INTO documents (id, sha256, size_bytes, object_key, page_count)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
        (
            parsed.document_id,
            parsed.sha256,
            size_bytes,
            ObjectKeys.document_pdf(parsed.document_id),
            parsed.page_count,
        ),
    )


def lock_document(conn: Connection, document_id: str) -> None:
    """Serialise, until commit, every writer of one document's extractions and artifacts."""
    conn.execute("SELECT 1 FROM documents WHERE id = %s FOR UPDATE", (document_id,))


def fill_page_count(conn: Connection, parsed: ParsedDocument) -> None:
    """The upload cannot know the page count; the first stored extraction fills it in."""
    conn.execute(
        "UPDATE documents SET page_count = %s WHERE id = %s AND page_count IS NULL",
        (parsed.page_count, parsed.document_id),
    )


def insert_completed(
    conn: Connection,
    *,
    extraction_id: str,
    workflow_id: str,
    artifact_key: str,
    result: ExtractionResult,
    extractor: str = "",
) -> bool:
    """Insert the extraction row; False when a row with this id already exists (left unchanged)."""
    fields = _json_without_nul(result.model_dump(mode="json", include=_FIELD_NAMES))
    inserted = conn.execute(
        "INSERT INTO extractions (id, document_id, workflow_id, status, provider, model,"
        " artifact_key, clause_count, quotes_dropped, tokens_used, llm_requests, prompt_tokens,"
        " completion_tokens, fields, extractor)"
        " VALUES (%s, %s, %s, 'completed', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (id) DO NOTHING RETURNING id",
        (
            UUID(extraction_id),
            result.document_id,
            without_nul(workflow_id),
            without_nul(result.provider),
            without_nul(result.model),
            artifact_key,
            len(result.findings),
            result.quotes_dropped,
            result.tokens_used,
            result.llm_requests,
            result.prompt_tokens,
            result.completion_tokens,
            Jsonb(fields),
            without_nul(extractor) or None,
        ),
    ).fetchone()
    return inserted is not None


def insert_clauses(conn: Connection, extraction_id: str, findings: Sequence[ClauseFinding]) -> None:
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO clauses (extraction_id, ordinal, category, quote, page, confidence,"
            " start_offset, end_offset) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    UUID(extraction_id),
                    ordinal,
                    finding.category,
                    without_nul(finding.quote),
                    finding.page,
                    finding.confidence,
                    finding.start,
                    finding.end,
                )
                for ordinal, finding in enumerate(findings, start=1)
            ],
        )


def supersede_others(conn: Connection, document_id: str, current_id: str) -> None:
    """Mark the document's other completed extractions superseded and drop their clause rows."""
    conn.execute(
        "WITH superseded AS ("
        "  UPDATE extractions SET status = 'superseded'"
        "  WHERE document_id = %s AND status = 'completed' AND id <> %s RETURNING id)"
        " DELETE FROM clauses WHERE extraction_id IN (SELECT id FROM superseded)",
        (document_id, UUID(current_id)),
    )


def completed_artifact_keys(conn: Connection, document_id: str) -> set[str]:
    rows = conn.execute(
        "SELECT artifact_key FROM extractions"
        " WHERE document_id = %s AND status = 'completed' AND artifact_key IS NOT NULL",
        (document_id,),
    ).fetchall()
    return {str(row[0]) for row in rows}


def insert_failure(
    conn: Connection, report: FailureReport, usage: ProviderUsage | None = None
) -> None:
    """Record a failed extraction unless its id already has a row, whatever that row's status.

    ``usage`` is what the LLM provider billed its attempts (NULLs when none reached it).
    """
    usage = usage or ProviderUsage()
    billed = usage.requests > 0
    conn.execute(
        "INSERT INTO extractions (id, document_id, workflow_id, status, failed_stage, error_type,"
        " error_message, tokens_used, llm_requests, prompt_tokens, completion_tokens)"
        " VALUES (%s, %s, %s, 'failed', %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
        (
            UUID(report.extraction_id),
            report.document_id,
            without_nul(report.workflow_id),
            report.stage.value,
            without_nul(report.error_type)[:ERROR_TYPE_LIMIT],
            without_nul(report.message)[:ERROR_MESSAGE_LIMIT],
            usage.tokens if billed else None,
            usage.requests if billed else None,
            usage.prompt_tokens if billed else None,
            usage.completion_tokens if billed else None,
        ),
    )
