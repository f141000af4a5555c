"""One `Extraction` answer from what is known of it: the stored row, the artifact, the run.

A stored row (Postgres) is the truth once it exists; the run (Temporal) tells what happens before,
and which stored extraction a finished run produced.
"""

from __future__ import annotations

from datetime import datetime

from api_server._catalog import StoredExtraction, find_extraction
from api_server._jobs import JobState, job_state
from api_server._models import Extraction, ExtractionError, ExtractionLinks, ExtractionStatus
from api_server._services import Services
from charmelio.contract import ExtractionResult, Stage
from charmelio.storage.objects import ObjectNotFoundError, ObjectStore


def extraction_path(some_id: str) -> str:
    return f"/api/extractions/{some_id}"


def document_path(document_id: str) -> str:
    return f"/api/documents/{document_id}"


async def stored_extraction(services: Services, extraction_id: str) -> StoredExtraction | None:
    return await services.database(lambda conn: find_extraction(conn, extraction_id))


async def extraction_by_id(services: Services, extraction_id: str) -> Extraction | None:
    stored = await stored_extraction(services, extraction_id)
    return None if stored is None else await from_stored(services, stored)


async def current_job(services: Services, document_id: str, run_id: str) -> JobState | None:
    async with services.temporal_call() as client:
        return await job_state(
            client,
            document_id,
            run_id,
            query_timeout=services.settings.api_stage_query_timeout_seconds,
        )


async def from_job(services: Services, state: JobState) -> Extraction:
    if state.extraction_id is not None:
        stored = await stored_extraction(services, state.extraction_id)
        if stored is not None:
            return await from_stored(services, stored, job=state)
    return Extraction(
        extraction_id=state.extraction_id,
        job_id=state.job_id,
        document_id=state.document_id,
        status=state.status,
        stage=state.stage,
        started_at=state.started_at,
        finished_at=state.finished_at,
        error=state.error,
        links=ExtractionLinks(
            self=extraction_path(state.extraction_id or state.job_id),
            document=document_path(state.document_id),
            artifact=None,
        ),
    )


async def read_artifact(services: Services, key: str) -> bytes | None:
    def read(store: ObjectStore) -> bytes | None:
        try:
            return store.get_bytes(key)
        except ObjectNotFoundError:
            return None

    return await services.storage(read)


async def from_stored(
    services: Services, stored: StoredExtraction, *, job: JobState | None = None
) -> Extraction:
    summary = stored.summary
    status = ExtractionStatus(summary.status)
    result = None
    if status is ExtractionStatus.COMPLETED and stored.artifact_key:
        data = await read_artifact(services, stored.artifact_key)
        if data is not None:
            result = ExtractionResult.model_validate_json(data)
    error = None
    if status is ExtractionStatus.FAILED:
        error = ExtractionError(
            stage=summary.failed_stage,
            error_type=summary.error_type or "UnknownError",
            message=stored.error_message or "",
        )
    started_at: datetime | None = job.started_at if job else None
    return Extraction(
        extraction_id=summary.extraction_id,
        job_id=job.job_id if job else None,
        document_id=summary.document_id,
        status=status,
        stage=Stage.FAILED.value if status is ExtractionStatus.FAILED else Stage.COMPLETED.value,
        started_at=started_at,
        finished_at=summary.finished_at,
        provider=summary.provider,
        model=summary.model,
        clause_count=summary.clause_count,
        llm_requests=summary.llm_requests,
        tokens_used=summary.tokens_used,
        prompt_tokens=summary.prompt_tokens,
        completion_tokens=summary.completion_tokens,
        error=error,
        result=result,
        clauses=stored.clauses,
        links=ExtractionLinks(
            self=extraction_path(summary.extraction_id),
            document=document_path(summary.document_id),
            artifact=(
                f"{extraction_path(summary.extraction_id)}/artifact"
                if status is ExtractionStatus.COMPLETED
                else None
            ),
        ),
    )
