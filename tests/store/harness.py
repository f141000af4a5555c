"""Builds store requests the way the earlier stages would, and reads back what the store wrote."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from temporalio.testing import ActivityEnvironment

from charmelio.contract import (
    ClauseFinding,
    ExtractionResult,
    ExtractionSummary,
    FailureReport,
    ObjectKeys,
    ParsedDocument,
    Party,
    Stage,
    StoredExtraction,
    StoreRequest,
    TopicClause,
    workflow_id_for,
)
from charmelio.storage.objects import ObjectStore
from store_worker import StoreActivities

PDF_BYTES = b"%PDF-1.7\n% a stand-in: the store stage never parses the PDF\n%%EOF\n"


def sample_result(document_id: str, **overrides: Any) -> ExtractionResult:
    values: dict[str, Any] = {
        "document_id": document_id,
        "provider": "rules",
        "model": "rules-v1",
        "parties": [Party(name="Acme Corp", role="Supplier"), Party(name="Globex Ltd")],
        "effective_date": "2024-01-15",
        "term_length": "3 years",
        "governing_law": "Delaware",
        "termination": TopicClause(
            summary="Either party on 90 days notice",
            quote="Either party may terminate this Agreement upon ninety (90) days notice.",
            page=4,
            confidence=0.8,
        ),
        "findings": [
            ClauseFinding(
                category="Governing Law",
                quote="governed by the laws of the State of Delaware",
                page=7,
                confidence=0.9,
                start=120,
                end=166,
            ),
            ClauseFinding(
                category="Anti-Assignment", quote="may not assign", page=5, confidence=0.7
            ),
            ClauseFinding(category="Parties", quote="Acme Corp", page=1, confidence=1.0),
        ],
        "confidence": 0.85,
        "summary": "A supply agreement.",
        "page_count": 9,
        "quotes_dropped": 2,
        "tokens_used": 1234,
    }
    values.update(overrides)
    return ExtractionResult.model_validate(values)


@dataclass
class StoreHarness:
    store: ObjectStore
    database_url: str
    activities: StoreActivities
    env: ActivityEnvironment

    def upload(self, document_id: str, *, record: bool = True) -> None:
        """Do what the upload does: put the PDF and, unless told not to, insert the document row."""
        self.store.put_bytes(ObjectKeys.document_pdf(document_id), PDF_BYTES)
        if record:
            self.execute(
                "INSERT INTO documents (id, sha256, filename, size_bytes, object_key)"
                " VALUES (%s, %s, 'contract.pdf', %s, %s)",
                document_id,
                hashlib.sha256(PDF_BYTES).hexdigest(),
                len(PDF_BYTES),
                ObjectKeys.document_pdf(document_id),
            )

    def draft(self, result: ExtractionResult, extraction_id: str | None = None) -> StoreRequest:
        """Do what llm_extract does: put the draft; returns the workflow's request to store it."""
        extraction_id = extraction_id or str(uuid.uuid4())
        result_key = ObjectKeys.extraction_draft(extraction_id)
        self.store.put_bytes(result_key, result.model_dump_json().encode())
        document_id = result.document_id
        return StoreRequest(
            extraction_id=extraction_id,
            document_id=document_id,
            workflow_id=workflow_id_for(document_id),
            parsed=ParsedDocument(
                document_id=document_id,
                pages_key=ObjectKeys.parsed_pages(document_id),
                sha256=hashlib.sha256(PDF_BYTES).hexdigest(),
                page_count=result.page_count,
                char_count=5000,
                engine="pypdf",
                parse_seconds=0.1,
            ),
            extraction=ExtractionSummary(
                result_key=result_key,
                provider=result.provider,
                model=result.model,
                finding_count=len(result.findings),
                quotes_dropped=result.quotes_dropped,
                tokens_used=result.tokens_used,
            ),
        )

    def store_results(self, request: StoreRequest) -> StoredExtraction:
        return self.env.run(self.activities.store_results, request)

    def record_failure(self, report: FailureReport) -> None:
        self.env.run(self.activities.record_failure, report)

    def execute(self, sql: str, *params: object) -> None:
        with psycopg.connect(self.database_url) as conn:
            conn.execute(sql.encode(), params)

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(sql.encode(), params).fetchall()

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, to show that a repeated call changed nothing."""
        return {
            table: self.rows(f"SELECT * FROM {table} ORDER BY 1, 2")  # noqa: S608 (fixed names)
            for table in ("documents", "extractions", "clauses")
        }

    def artifacts(self, document_id: str) -> list[str]:
        return sorted(self.store.list_keys(ObjectKeys.extraction_artifact_prefix(document_id)))

    def statuses(self, document_id: str) -> dict[str, str]:
        rows = self.rows(
            "SELECT id::text, status FROM extractions WHERE document_id = %s", document_id
        )
        return {row[0]: row[1] for row in rows}


def failure(document_id: str, extraction_id: str, **overrides: Any) -> FailureReport:
    values: dict[str, Any] = {
        "extraction_id": extraction_id,
        "document_id": document_id,
        "workflow_id": workflow_id_for(document_id),
        "stage": Stage.EXTRACTING,
        "error_type": "LLMResponseError",
        "message": "the provider answered with invalid JSON",
    }
    values.update(overrides)
    return FailureReport.model_validate(values)
