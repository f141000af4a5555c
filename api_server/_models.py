"""The API's request and response bodies; their JSON Schemas are the OpenAPI contract."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from charmelio.contract import ExtractionResult, validate_document_id


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExtractionStatus(StrEnum):
    """`pending`: started, no worker has picked it up (or the workflow worker is not answering).
    `running`: a stage is in progress (see `stage`). `completed`: stored, with its result.
    `failed`: a stage failed for good (see `error`). `superseded`: completed, then replaced by a
    newer extraction of the same document; its clauses and artifact are gone."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SUPERSEDED = "superseded"


StoredStatus = Literal["completed", "failed", "superseded"]


# `validate_document_id`'s rule, spelled out so that the schema says what is accepted.
DOCUMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"


# A document id in a request body: the pattern in the schema, the contract's check behind it.
ApiDocumentId = Annotated[
    str,
    Field(pattern=DOCUMENT_ID_PATTERN, examples=["doc_0123abcd"]),
    AfterValidator(validate_document_id),
]


class StartExtraction(_Body):
    document_id: ApiDocumentId


class ExtractionError(_Body):
    stage: str | None = Field(description="The stage that failed: parsing, extracting or storing")
    error_type: str = Field(description="e.g. PDFValidationError, LLMRequestError")
    message: str


class Clause(_Body):
    ordinal: int = Field(
        ge=1, description="The finding's number in its extraction (names it for its evidence)"
    )
    category: str
    quote: str = Field(description="Verbatim text of the contract")
    page: int = Field(ge=1)
    confidence: float
    start_offset: int | None = None
    end_offset: int | None = None


class ExtractionLinks(_Body):
    self: str
    document: str
    artifact: str | None = Field(description="The stored result JSON, once completed")


class Extraction(_Body):
    """One extraction, found by its extraction id or by the job id its start returned."""

    extraction_id: str | None = Field(
        description="The stored extraction's UUID; known once the extraction has finished"
    )
    job_id: str | None = Field(
        description="`<document_id>.<run_id>`: the workflow run, from the start until the end"
    )
    document_id: str
    status: ExtractionStatus
    stage: str | None = Field(
        description="The workflow's current stage: starting, parsing, extracting, storing, "
        "recording_failure, completed or failed"
    )
    started_at: datetime | None = None
    finished_at: datetime | None = None
    provider: str | None = None
    model: str | None = None
    clause_count: int | None = None
    llm_requests: int | None = Field(
        default=None,
        description="Requests sent to the LLM provider, in every attempt (completed, cut off,"
        " refused or failed)",
    )
    tokens_used: int | None = Field(
        default=None, description="Every token the provider billed, failed requests' included"
    )
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: ExtractionError | None = None
    result: ExtractionResult | None = Field(
        default=None, description="The stored result artifact (completed extractions)"
    )
    clauses: list[Clause] = Field(
        default_factory=list, description="The clause rows, by category and page"
    )
    links: ExtractionLinks


class ExtractionSummary(_Body):
    extraction_id: str
    document_id: str
    filename: str | None
    status: StoredStatus
    provider: str | None
    model: str | None
    clause_count: int
    failed_stage: str | None
    error_type: str | None
    created_at: datetime
    finished_at: datetime
    llm_requests: int | None = Field(
        default=None,
        description="Requests sent to the LLM provider, in every attempt (null: none recorded)",
    )
    tokens_used: int | None = Field(
        default=None, description="Every token the provider billed: prompt_tokens + completion"
    )
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ExtractionPage(_Body):
    items: list[ExtractionSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last")


class Document(_Body):
    document_id: str
    sha256: str
    filename: str | None = Field(description="The name it was first uploaded under")
    filenames: list[str] = Field(
        default_factory=list,
        description="Every name the same bytes were uploaded under, oldest first",
    )
    size_bytes: int
    page_count: int | None
    uploaded_at: datetime
    current_extraction: ExtractionSummary | None = Field(
        description="The latest completed extraction, else the latest finished one"
    )


class UploadedDocument(_Body):
    document: Document
    created: bool = Field(description="False when the same bytes were uploaded before")
    extraction: Extraction | None = Field(description="The extraction started with extract=true")


class Health(_Body):
    status: Literal["ok"] = "ok"


class DependencyCheck(_Body):
    ok: bool
    detail: str


class Readiness(_Body):
    status: Literal["ready", "not_ready"]
    checks: dict[str, DependencyCheck]
