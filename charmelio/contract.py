"""The stage contract: the names and shapes every Charmelio process agrees on.

Queue names, activity names and error type names are plain strings because Temporal matches them as
strings: an activity is called by name on its queue, and a retry policy lists error *type names*.
Everything here imports only pydantic, so the workflow worker can load it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class TaskQueue(StrEnum):
    WORKFLOW = "extraction-queue"
    PARSE = "parse-queue"
    LLM = "llm-queue"
    STORE = "store-queue"


class ActivityName(StrEnum):
    PARSE_PDF = "parse_pdf"
    LLM_EXTRACT = "llm_extract"
    STORE_RESULTS = "store_results"
    RECORD_FAILURE = "record_failure"
    DESCRIBE_EXTRACTOR = "describe_extractor"
    SAVE_BATCH_LIST = "save_batch_list"
    READ_BATCH_PAGE = "read_batch_page"


class Stage(StrEnum):
    """What the workflow is doing now; reported by its `current_stage` query."""

    STARTING = "starting"
    PARSING = "parsing"
    EXTRACTING = "extracting"
    STORING = "storing"
    RECORDING_FAILURE = "recording_failure"
    COMPLETED = "completed"
    FAILED = "failed"
    # A batch reading its list and asking which documents are already extracted.
    PLANNING_BATCH = "planning_batch"


class ErrorType(StrEnum):
    """`ApplicationError.type` values. Retry policies name these; the server compares exactly."""

    PDF_VALIDATION = "PDFValidationError"
    PDF_PARSE = "PDFParseError"
    DOCUMENT_NOT_FOUND = "DocumentNotFoundError"
    INVALID_INPUT = "InvalidInputError"
    LLM_REQUEST = "LLMRequestError"
    LLM_RESPONSE = "LLMResponseError"
    LLM_UNAVAILABLE = "LLMUnavailableError"
    LLM_RATE_LIMITED = "LLMRateLimitedError"
    STORAGE_UNAVAILABLE = "StorageUnavailableError"


class WorkflowType(StrEnum):
    EXTRACTION = "ExtractionWorkflow"
    BATCH = "BatchExtractionWorkflow"


class QueryName(StrEnum):
    CURRENT_STAGE = "current_stage"
    BATCH_PROGRESS = "batch_progress"


class SignalName(StrEnum):
    # Stops a batch starting new documents; those in flight finish.
    CANCEL_BATCH = "cancel_batch"


WORKFLOW_TYPE = WorkflowType.EXTRACTION
WORKFLOW_ID_PREFIX = "extraction-"
BATCH_ID_PREFIX = "batch-"

_DOCUMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_EXTRACTION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def validate_document_id(value: str) -> str:
    """Document ids become object keys and workflow ids, so only a safe alphabet is accepted."""
    if not _DOCUMENT_ID.fullmatch(value):
        raise ValueError(
            f"invalid document id {value[:80]!r}: 1-128 characters of letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def validate_extraction_id(value: str) -> str:
    if not _EXTRACTION_ID.fullmatch(value):
        raise ValueError(f"invalid extraction id {value[:80]!r}: expected a lower-case UUID")
    return value


DocumentId = Annotated[str, AfterValidator(validate_document_id)]
ExtractionId = Annotated[str, AfterValidator(validate_extraction_id)]


def workflow_id_for(document_id: str) -> str:
    return f"{WORKFLOW_ID_PREFIX}{validate_document_id(document_id)}"


def validate_batch_id(value: str) -> str:
    """A batch id is its workflow id (``batch-...``): the alphabet of a document id, prefixed."""
    if not value.startswith(BATCH_ID_PREFIX) or not _DOCUMENT_ID.fullmatch(
        value.removeprefix(BATCH_ID_PREFIX)
    ):
        raise ValueError(
            f"invalid batch id {value[:80]!r}: {BATCH_ID_PREFIX!r} followed by 1-128 letters,"
            " digits, '_' or '-'"
        )
    return value


BatchId = Annotated[str, AfterValidator(validate_batch_id)]


class ObjectKeys:
    """The bucket layout. Every key is derived from ids validated above, never from file names."""

    @staticmethod
    def document_pdf(document_id: str) -> str:
        return f"documents/{validate_document_id(document_id)}.pdf"

    @staticmethod
    def parsed_pages(document_id: str) -> str:
        return f"parsed/{validate_document_id(document_id)}/pages.json"

    @staticmethod
    def extraction_workspace(extraction_id: str) -> str:
        """Scratch space of one extraction (draft, provider replies); deleted once it ends."""
        return f"work/{validate_extraction_id(extraction_id)}/"

    @staticmethod
    def extraction_draft(extraction_id: str) -> str:
        return f"{ObjectKeys.extraction_workspace(extraction_id)}extraction.json"

    @staticmethod
    def extraction_chunk_reply(extraction_id: str, fingerprint: str) -> str:
        if not re.fullmatch(r"[0-9a-f]{16,64}", fingerprint):
            raise ValueError("a chunk fingerprint is 16 to 64 lowercase hex digits")
        return f"{ObjectKeys.extraction_workspace(extraction_id)}chunks/{fingerprint}.json"

    @staticmethod
    def extraction_usage(extraction_id: str) -> str:
        """What the provider billed the failed attempts of one extraction (`ProviderUsage`)."""
        return f"{ObjectKeys.extraction_workspace(extraction_id)}usage.json"

    @staticmethod
    def extraction_artifact(document_id: str, extraction_id: str) -> str:
        return (
            f"extractions/{validate_document_id(document_id)}/"
            f"{validate_extraction_id(extraction_id)}.json"
        )

    @staticmethod
    def extraction_artifact_prefix(document_id: str) -> str:
        return f"extractions/{validate_document_id(document_id)}/"

    @staticmethod
    def batch_list(batch_id: str) -> str:
        """A batch's document ids, one per line: too many for workflow history."""
        return f"batches/{validate_batch_id(batch_id)}/documents.txt"

    @staticmethod
    def evidence_prefix(document_id: str) -> str:
        """Page images the API renders for a document's findings: a cache, safe to delete."""
        return f"evidence/{validate_document_id(document_id)}/"

    @staticmethod
    def evidence_location(document_id: str, extraction_id: str, ordinal: int) -> str:
        """Where one finding's characters are on its pages (JSON)."""
        return (
            f"{ObjectKeys.evidence_prefix(document_id)}"
            f"{validate_extraction_id(extraction_id)}/{_ordinal(ordinal)}/location.json"
        )

    @staticmethod
    def evidence_page(document_id: str, extraction_id: str, ordinal: int, page: int) -> str:
        """A page image with one finding's characters highlighted (PNG)."""
        return (
            f"{ObjectKeys.evidence_prefix(document_id)}"
            f"{validate_extraction_id(extraction_id)}/{_ordinal(ordinal)}/page-{_ordinal(page)}.png"
        )

    @staticmethod
    def page_image(document_id: str, page: int) -> str:
        """A page image with nothing highlighted (PNG)."""
        return f"{ObjectKeys.evidence_prefix(document_id)}pages/{_ordinal(page)}.png"


def _ordinal(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected a positive integer, got {value!r}")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- parse_pdf ---------------------------------------------------------------------------------


class ParseRequest(_Model):
    document_id: DocumentId


class PageText(_Model):
    page: int = Field(ge=1, description="1-based page number")
    text: str
    ocr: bool = Field(default=False, description="The text was read by OCR from a page image")


class ParsedPages(_Model):
    """The claim-check payload in object storage: every page's text. Never travels in history."""

    document_id: DocumentId
    engine: str
    pages: list[PageText]

    def full_text(self) -> str:
        return PAGE_SEPARATOR.join(page.text for page in self.pages)

    def page_starts(self) -> list[int]:
        """Offset of each page's first character in `full_text()`, for offset → page look-ups."""
        starts, offset = [], 0
        for page in self.pages:
            starts.append(offset)
            offset += len(page.text) + len(PAGE_SEPARATOR)
        return starts

    def page_at(self, offset: int) -> int:
        """The page number holding character ``offset`` of `full_text()` (a separator counts
        with the page before it), so any span found in the full text can cite its page."""
        if not self.pages:
            raise ValueError("no pages")
        index = bisect_right(self.page_starts(), max(offset, 0)) - 1
        return self.pages[max(index, 0)].page


PAGE_SEPARATOR = "\n\n"


class ParsedDocument(_Model):
    """What parse_pdf returns: a reference to the page texts plus small statistics."""

    document_id: DocumentId
    pages_key: str
    sha256: str
    page_count: int = Field(ge=0)
    char_count: int = Field(ge=0)
    pages_without_text: list[int] = Field(default_factory=list)
    engine: str
    parse_seconds: float = Field(ge=0)
    ocr_pages: list[int] = Field(default_factory=list, description="Pages whose text is OCR")
    engine_warnings: int = Field(default=0, ge=0, description="Damage the engine worked around")
    javascript_actions: int = Field(
        default=0, ge=0, description="Document-level JavaScript actions; never run, only counted"
    )
    attachments: int = Field(
        default=0, ge=0, description="Embedded files; their contents are not read or extracted"
    )
    blank_pages: list[int] = Field(
        default_factory=list,
        description="Pages with nothing on them (no text, no ink); not OCR'd, not counted as "
        "pages without text",
    )


# --- llm_extract -------------------------------------------------------------------------------

CuadCategory = Literal[
    "Document Name",
    "Parties",
    "Agreement Date",
    "Effective Date",
    "Expiration Date",
    "Renewal Term",
    "Notice Period to Terminate Renewal",
    "Governing Law",
    "Most Favored Nation",
    "Non-Compete",
    "Exclusivity",
    "No-Solicit of Customers",
    "Competitive Restriction Exception",
    "No-Solicit of Employees",
    "Non-Disparagement",
    "Termination for Convenience",
    "Rofr/Rofo/Rofn",
    "Change of Control",
    "Anti-Assignment",
    "Revenue/Profit Sharing",
    "Price Restrictions",
    "Minimum Commitment",
    "Volume Restriction",
    "IP Ownership Assignment",
    "Joint IP Ownership",
    "License Grant",
    "Non-Transferable License",
    "Affiliate License-Licensor",
    "Affiliate License-Licensee",
    "Unlimited/All-You-Can-Eat-License",
    "Irrevocable or Perpetual License",
    "Source Code Escrow",
    "Post-Termination Services",
    "Audit Rights",
    "Uncapped Liability",
    "Cap on Liability",
    "Liquidated Damages",
    "Warranty Duration",
    "Insurance",
    "Covenant Not to Sue",
    "Third Party Beneficiary",
]
CUAD_CATEGORIES: tuple[str, ...] = CuadCategory.__args__  # type: ignore[attr-defined]

Confidence = Annotated[float, Field(ge=0.0, le=1.0)]


class ClauseFinding(_Model):
    """One CUAD clause found in the contract, with the words that prove it."""

    category: CuadCategory
    quote: str = Field(min_length=1, description="Verbatim text from the contract")
    page: int = Field(ge=1)
    confidence: Confidence
    start: int | None = Field(default=None, ge=0, description="Offset in ParsedPages.full_text()")
    end: int | None = Field(default=None, ge=0)


class Party(_Model):
    name: str = Field(min_length=1)
    role: str | None = None


class TopicClause(_Model):
    """A clause the original system reported by topic (termination, confidentiality, ...)."""

    summary: str
    quote: str = Field(min_length=1)
    page: int = Field(ge=1)
    confidence: Confidence


class FieldEvidence(_Model):
    """Where a field's value was read: the contract's own words, their page and offsets."""

    quote: str = Field(min_length=1, description="Verbatim text from the contract")
    page: int = Field(ge=1)
    start: int | None = Field(default=None, ge=0, description="Offset in ParsedPages.full_text()")
    end: int | None = Field(default=None, ge=0)


EVIDENCED_FIELDS: tuple[str, ...] = (
    "agreement_date",
    "effective_date",
    "termination_date",
    "perpetual",
    "renewal_term",
    "renewal_notice_period",
    "governing_law",
)
"""Single-valued fields that carry the quote they were read from in `field_evidence`."""


class ExtractionResult(_Model):
    """The full result of one extraction: the artifact stored under the extraction's key."""

    schema_version: Literal[1] = 1
    document_id: DocumentId
    provider: str
    model: str
    parties: list[Party] = Field(default_factory=list)
    effective_date: date | None = None
    termination_date: date | None = None
    term_length: str | None = None
    governing_law: str | None = None
    agreement_date: date | None = Field(
        default=None, description="The date the contract is dated or made (may precede effect)"
    )
    perpetual: bool = Field(
        default=False,
        description="The term has no end date (it runs until terminated); no termination_date",
    )
    renewal_term: str | None = Field(
        default=None, description='Renewal after the initial term ("successive one (1) year terms")'
    )
    renewal_notice_period: str | None = Field(
        default=None, description='Notice to stop a renewal ("ninety (90) days")'
    )
    field_evidence: dict[str, FieldEvidence] = Field(
        default_factory=dict,
        description="The quote and page each single-valued field was read from, by field name",
    )
    termination: TopicClause | None = None
    confidentiality: TopicClause | None = None
    indemnification: TopicClause | None = None
    limitation_of_liability: TopicClause | None = None
    dispute_resolution: TopicClause | None = None
    payment_terms: TopicClause | None = None
    intellectual_property: TopicClause | None = None
    findings: list[ClauseFinding] = Field(default_factory=list)
    confidence: Confidence = 0.0
    summary: str = ""
    page_count: int = Field(default=0, ge=0)
    quotes_dropped: int = Field(default=0, ge=0)
    fields_dropped: list[str] = Field(
        default_factory=list,
        description="Fields the provider filled with words the document does not contain, dropped"
        " (``governing_law``, ``term_length``, ``parties[2]``...)",
    )
    chunks_read: int = Field(default=1, ge=0)
    tokens_used: int | None = Field(default=None, ge=0)
    llm_requests: int = Field(
        default=0,
        ge=0,
        description="Requests sent to the provider for this extraction, in every attempt"
        " (answered, cut off, refused or failed)",
    )
    prompt_tokens: int | None = Field(default=None, ge=0)
    completion_tokens: int | None = Field(default=None, ge=0)


TOPIC_FIELDS: tuple[str, ...] = (
    "termination",
    "confidentiality",
    "indemnification",
    "limitation_of_liability",
    "dispute_resolution",
    "payment_terms",
    "intellectual_property",
)


class ProviderUsage(_Model):
    """Requests sent to an LLM provider and the tokens it reported for them.

    Every request counts, whatever its outcome: a reply cut off at its token limit or rejected
    as invalid JSON was billed like a good one, and a refused or failed request is a request.
    """

    requests: int = Field(default=0, ge=0)
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: ProviderUsage) -> ProviderUsage:
        return ProviderUsage(
            requests=self.requests + other.requests,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class ExtractRequest(_Model):
    document_id: DocumentId
    extraction_id: ExtractionId
    parsed: ParsedDocument


class ExtractionSummary(_Model):
    """What llm_extract returns: where the full result is, and who produced it."""

    result_key: str
    provider: str
    model: str
    finding_count: int = Field(ge=0)
    quotes_dropped: int = Field(default=0, ge=0)
    tokens_used: int | None = Field(default=None, ge=0)
    # Empty from workers older than the field: such an extraction is never reused by a batch.
    extractor: str = Field(
        default="",
        description="Identity of what extracted: provider, model or rules version, prompt/schema"
        " version (`ExtractorIdentity.key`)",
    )


class DescribeExtractorRequest(_Model):
    """describe_extractor takes nothing: it answers for the llm pool's configured extractor."""


class ExtractorIdentity(_Model):
    """What makes two extractions of one document the same: same key, same result expected."""

    provider: str
    model: str
    version: str = Field(description="The prompt and output-schema version (or rule-set's)")

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}/{self.version}"


# --- store_results / record_failure ------------------------------------------------------------


class StoreRequest(_Model):
    extraction_id: ExtractionId
    document_id: DocumentId
    workflow_id: str
    parsed: ParsedDocument
    extraction: ExtractionSummary


class StoredExtraction(_Model):
    extraction_id: ExtractionId
    artifact_key: str
    clause_count: int = Field(ge=0)
    created: bool = Field(description="False when an earlier attempt had already stored it")


class FailureReport(_Model):
    extraction_id: ExtractionId
    document_id: DocumentId
    workflow_id: str
    stage: Stage
    error_type: str
    message: str


# --- the workflow ------------------------------------------------------------------------------


class ExtractionCompleted(_Model):
    status: Literal["completed"] = "completed"
    document_id: str
    extraction_id: str


# --- the batch workflow ------------------------------------------------------------------------

# Defaults of the settings CHARMELIO_BATCH_MAX_IN_FLIGHT and CHARMELIO_BATCH_DOCUMENTS_PER_RUN, and
# of a batch started without them (`temporal workflow start`). Each document costs a run about six
# history events (child initiated, started, completed, and the workflow tasks between), so 500 per
# run keeps a run's history near 3,000 events, far from Temporal's 51,200 limit, and under the
# ~1,000 children per run Temporal advises.
BATCH_MAX_IN_FLIGHT = 50
BATCH_DOCUMENTS_PER_RUN = 500


class SaveBatchListRequest(_Model):
    batch_id: BatchId
    document_ids: list[DocumentId] = Field(max_length=5_000)


class BatchListRef(_Model):
    list_key: str
    total: int = Field(ge=0)


class BatchPageRequest(_Model):
    batch_id: BatchId
    list_key: str
    offset: int = Field(ge=0)
    limit: int = Field(ge=1, le=5_000)
    # Documents whose current extraction has this key are reused; None (forced) reuses nothing.
    extractor: str | None


class BatchPage(_Model):
    """One page of a batch's list, with the documents already extracted by the same extractor."""

    document_ids: list[DocumentId]
    reusable: list[DocumentId] = Field(default_factory=list)
    total: int = Field(ge=0)


class BatchFailure(_Model):
    document_id: str
    error_type: str
    message: str


# The failures a batch keeps with their reasons (the newest); every failure is also in the
# extractions table. Keeps what the batch carries across continue-as-new small.
BATCH_FAILURES_KEPT = 50


class BatchCounts(_Model):
    total: int = Field(default=0, ge=0)
    done: int = Field(default=0, ge=0)
    failed: int = Field(default=0, ge=0)
    reused: int = Field(default=0, ge=0)
    skipped: int = Field(default=0, ge=0, description="Not started because the batch was cancelled")


class BatchState(_Model):
    """What one run of a batch hands the next at continue-as-new: bounded whatever the size."""

    list_key: str
    offset: int = Field(default=0, ge=0)
    counts: BatchCounts = Field(default_factory=BatchCounts)
    failures: list[BatchFailure] = Field(default_factory=list, max_length=BATCH_FAILURES_KEPT)
    failures_by_type: dict[str, int] = Field(default_factory=dict)
    force: bool = False
    cancelled: bool = False
    runs: int = Field(default=1, ge=1)
    started_at: str = ""


class BatchInput(_Model):
    """What BatchExtractionWorkflow starts from: ids inline, or the key of a list in storage.

    ``document_ids`` suits a few hundred ids (``temporal workflow start --input``); a longer list
    goes to object storage (`ObjectKeys.batch_list`) and the batch reads it page by page, so no
    history ever holds the whole list.
    """

    document_ids: list[DocumentId] = Field(default_factory=list, max_length=5_000)
    list_key: str | None = None
    force: bool = Field(default=False, description="Extract again even when already extracted")
    max_in_flight: int = Field(default=BATCH_MAX_IN_FLIGHT, ge=1, le=1_000)
    documents_per_run: int = Field(default=BATCH_DOCUMENTS_PER_RUN, ge=1, le=1_000)
    # Set by the batch itself when it continues as new; never by a caller.
    resume: BatchState | None = None


class BatchProgress(_Model):
    """The `batch_progress` query's answer (and, finished, the batch's result)."""

    batch_id: str
    status: Literal["running", "completed", "cancelled"]
    total: int
    done: int
    failed: int
    reused: int
    in_flight: int
    waiting: int
    skipped: int = 0
    failures: list[BatchFailure] = Field(default_factory=list)
    failures_by_type: dict[str, int] = Field(default_factory=dict)
    runs: int = 1
    started_at: str = ""

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.reused + self.skipped
