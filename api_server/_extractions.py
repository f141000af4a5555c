"""/api/extractions: start (or attach to) a document's extraction, follow it, read it, list them."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from api_server._catalog import StoredExtraction, list_extractions
from api_server._cursor import Cursor, InvalidCursorError
from api_server._jobs import job_state, parse_job_id
from api_server._models import (
    DOCUMENT_ID_PATTERN,
    Extraction,
    ExtractionPage,
    ExtractionStatus,
    StartExtraction,
    StoredStatus,
)
from api_server._problems import ApiProblem, ErrorCode, problem_responses
from api_server._services import Services, get_services
from api_server._views import (
    current_job,
    extraction_by_id,
    from_job,
    read_artifact,
    stored_extraction,
)
from charmelio.documents import document_exists
from charmelio.starter import start_extraction

router = APIRouter(prefix="/api/extractions", tags=["extractions"])

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_UNAVAILABLE = (
    ErrorCode.DATABASE_UNAVAILABLE,
    ErrorCode.OBJECT_STORAGE_UNAVAILABLE,
    ErrorCode.TEMPORAL_UNAVAILABLE,
)

ServicesDep = Annotated[Services, Depends(get_services)]
ExtractionRef = Annotated[
    str,
    Path(
        description="An extraction id (a UUID, from a listing or a finished job) or the job id "
        "(`<document_id>.<run_id>`) that starting the extraction returned"
    ),
]


def _not_found(ref: str) -> ApiProblem:
    return ApiProblem(ErrorCode.EXTRACTION_NOT_FOUND, f"no extraction or job {ref[:200]!r}")


async def start_document_extraction(services: Services, document_id: str) -> Extraction:
    """Start the document's workflow, or attach to the one running; its state right after."""
    if not await services.database(lambda conn: document_exists(conn, document_id)):
        raise ApiProblem(ErrorCode.DOCUMENT_NOT_FOUND, f"no document {document_id!r}")
    async with services.temporal_call() as client:
        handle = await start_extraction(client, document_id)
        run_id = handle.result_run_id
        assert run_id is not None, "a started workflow always has a run id"
        state = await job_state(
            client,
            document_id,
            run_id,
            query_timeout=services.settings.api_stage_query_timeout_seconds,
        )
    if state is None:  # pragma: no cover - the run was just started or found running
        raise ApiProblem(ErrorCode.TEMPORAL_UNAVAILABLE, "the started run could not be found")
    return await from_job(services, state)


@router.post(
    "",
    status_code=202,
    summary="Start (or attach to) a document's extraction",
    responses=problem_responses(
        ErrorCode.INVALID_REQUEST, ErrorCode.DOCUMENT_NOT_FOUND, *_UNAVAILABLE
    ),
)
async def start(body: StartExtraction, response: Response, services: ServicesDep) -> Extraction:
    """Starts the document's workflow, or attaches to it while one runs (one run per document at
    a time). Poll `links.self` (the job id) for its status."""
    extraction = await start_document_extraction(services, body.document_id)
    response.headers["Location"] = extraction.links.self
    return extraction


@router.get(
    "",
    summary="List stored extractions, newest first",
    responses=problem_responses(
        ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_CURSOR, ErrorCode.DATABASE_UNAVAILABLE
    ),
)
async def list_all(
    services: ServicesDep,
    status: Annotated[StoredStatus | None, Query(description="Only this status")] = None,
    document_id: Annotated[
        str | None, Query(pattern=DOCUMENT_ID_PATTERN, description="Only this document's")
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ExtractionPage:
    """Finished extractions (completed, failed, superseded) from Postgres, with keyset pagination:
    follow `next_cursor` until it is null to see every row exactly once."""
    try:
        after = Cursor.decode(cursor) if cursor is not None else None
    except InvalidCursorError as exc:
        raise ApiProblem(ErrorCode.INVALID_CURSOR, str(exc)) from None
    rows = await services.database(
        lambda conn: list_extractions(
            conn, status=status, document_id=document_id, after=after, limit=limit + 1
        )
    )
    page, more = rows[:limit], len(rows) > limit
    next_cursor = (
        Cursor(page[-1].finished_at, page[-1].extraction_id).encode() if more and page else None
    )
    return ExtractionPage(items=page, next_cursor=next_cursor)


@router.get(
    "/{extraction_ref}",
    summary="An extraction's status, and its result once completed",
    responses=problem_responses(ErrorCode.EXTRACTION_NOT_FOUND, *_UNAVAILABLE),
)
async def get_one(extraction_ref: ExtractionRef, services: ServicesDep) -> Extraction:
    if _UUID.fullmatch(extraction_ref):
        found = await extraction_by_id(services, extraction_ref.lower())
        if found is not None:
            return found
    elif job := parse_job_id(extraction_ref):
        state = await current_job(services, *job)
        if state is not None:
            return await from_job(services, state)
    raise _not_found(extraction_ref)


@router.get(
    "/{extraction_ref}/artifact",
    summary="The stored result artifact of a completed extraction",
    response_class=Response,
    responses={
        200: {
            "description": "The stored result (ExtractionResult), exactly as stored",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ExtractionResult"}}
            },
        },
        **problem_responses(
            ErrorCode.EXTRACTION_NOT_FOUND,
            ErrorCode.ARTIFACT_NOT_FOUND,
            ErrorCode.EXTRACTION_NOT_FINISHED,
            *_UNAVAILABLE,
        ),
    },
)
async def get_artifact(extraction_ref: ExtractionRef, services: ServicesDep) -> Response:
    stored: StoredExtraction | None = None
    if _UUID.fullmatch(extraction_ref):
        stored = await stored_extraction(services, extraction_ref.lower())
    elif job := parse_job_id(extraction_ref):
        state = await current_job(services, *job)
        if state is None:
            raise _not_found(extraction_ref)
        if state.status in (ExtractionStatus.PENDING, ExtractionStatus.RUNNING):
            raise ApiProblem(
                ErrorCode.EXTRACTION_NOT_FINISHED,
                f"the extraction is {state.status.value}; its artifact exists once completed",
            )
        if state.extraction_id is None:
            raise ApiProblem(ErrorCode.ARTIFACT_NOT_FOUND, "the run stored no extraction")
        stored = await stored_extraction(services, state.extraction_id)
    if stored is None:
        raise _not_found(extraction_ref)
    data = None
    if stored.summary.status == ExtractionStatus.COMPLETED.value and stored.artifact_key:
        data = await read_artifact(services, stored.artifact_key)
    if data is None:
        raise ApiProblem(
            ErrorCode.ARTIFACT_NOT_FOUND,
            f"extraction {stored.summary.extraction_id} is {stored.summary.status} "
            "and has no stored artifact",
        )
    return Response(content=data, media_type="application/json")
