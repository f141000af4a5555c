"""/api/batches: start a batch of documents, follow it, list its documents, cancel it.

A batch is a `BatchExtractionWorkflow`; its progress comes from the workflow's query (or its
result, once finished), its documents and their outcomes from Postgres (`charmelio.batches`), so
every answer here is what `charmelio batch status` prints.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api_server._models import ApiDocumentId
from api_server._problems import ApiProblem, ErrorCode, problem_responses
from api_server._services import Services, get_services
from charmelio.batches import (
    batch_documents,
    batch_handle,
    batch_progress,
    cancel_batch,
    new_batch_id,
    save_batch_list,
    start_batch,
)
from charmelio.contract import BatchInput, BatchProgress, validate_batch_id

router = APIRouter(prefix="/api/batches", tags=["batches"])
ServicesDep = Annotated[Services, Depends(get_services)]
BatchRef = Annotated[str, Path(description="The batch id (`batch-...`) starting it returned")]
# A request names its documents inline; a larger batch is several requests, or the CLI.
MAX_DOCUMENTS_PER_REQUEST = 10_000


class StartBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_ids: list[ApiDocumentId] = Field(min_length=1, max_length=MAX_DOCUMENTS_PER_REQUEST)
    force: bool = Field(default=False, description="Extract again documents already extracted")


class BatchMember(BaseModel):
    position: int
    document_id: str
    filename: str | None
    status: str | None = Field(description="completed, failed, or null while not yet extracted")
    extraction_id: str | None
    parties: list[str]
    governing_law: str | None
    clause_count: int
    error_type: str | None
    error_message: str | None
    finished_at: datetime | None


class BatchMembers(BaseModel):
    batch_id: str
    offset: int
    documents: list[BatchMember]
    next_offset: int | None


def _batch_id(value: str) -> str:
    try:
        return validate_batch_id(value)
    except ValueError as exc:
        raise ApiProblem(ErrorCode.NOT_FOUND, str(exc)) from None


def _not_found(batch_id: str) -> ApiProblem:
    return ApiProblem(ErrorCode.NOT_FOUND, f"no batch {batch_id!r}")


@router.post("", status_code=202, responses=problem_responses(ErrorCode.INVALID_REQUEST))
async def start(body: StartBatch, services: ServicesDep) -> BatchProgress:
    """Start a batch of uploaded documents; answers with its progress right after the start."""
    settings = services.settings
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    batch_id = new_batch_id(f"{stamp}-{secrets.token_hex(3)}")
    ids = list(dict.fromkeys(body.document_ids))
    key = await services.blocking(lambda: save_batch_list(services.objects, batch_id, ids))
    batch = BatchInput(
        list_key=key,
        force=body.force,
        max_in_flight=settings.batch_max_in_flight,
        documents_per_run=settings.batch_documents_per_run,
    )
    async with services.temporal_call() as client:
        try:
            await start_batch(client, batch_id, batch)
        except WorkflowAlreadyStartedError:  # pragma: no cover - a fresh random id
            raise ApiProblem(ErrorCode.INVALID_REQUEST, "batch id taken; try again") from None
    return BatchProgress(
        batch_id=batch_id,
        status="running",
        total=len(ids),
        done=0,
        failed=0,
        reused=0,
        in_flight=0,
        waiting=len(ids),
        started_at=datetime.now(UTC).isoformat(),
    )


@router.get("/{batch_id}", responses=problem_responses(ErrorCode.NOT_FOUND))
async def progress(batch_id: BatchRef, services: ServicesDep) -> BatchProgress:
    """Done, failed (with reasons), reused, in flight, waiting."""
    batch_id = _batch_id(batch_id)
    timeout = services.settings.api_stage_query_timeout_seconds
    async with services.temporal_call() as client:
        try:
            return await batch_progress(batch_handle(client, batch_id), rpc_timeout=timeout)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise _not_found(batch_id) from None
            raise
        except WorkflowFailureError as exc:
            raise ApiProblem(
                ErrorCode.INTERNAL_ERROR, f"batch {batch_id} ended abnormally: {exc.cause}"
            ) from None


@router.get(
    "/{batch_id}/documents",
    responses=problem_responses(ErrorCode.NOT_FOUND, ErrorCode.INVALID_REQUEST),
)
async def documents(
    batch_id: BatchRef,
    services: ServicesDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> BatchMembers:
    """The batch's documents the batch has reached, in list order, with their outcomes."""
    batch_id = _batch_id(batch_id)
    url = services.database_url
    members = await services.blocking(
        lambda: batch_documents(url, batch_id, offset=offset, limit=limit + 1)
    )
    page: list[dict[str, Any]] = [
        {key: getattr(member, key) for key in BatchMember.model_fields}
        for member in members[:limit]
    ]
    if not page and offset == 0:
        await progress(batch_id, services)  # 404 for a batch that does not exist
    return BatchMembers(
        batch_id=batch_id,
        offset=offset,
        documents=[BatchMember(**item) for item in page],
        next_offset=offset + limit if len(members) > limit else None,
    )


@router.post(
    "/{batch_id}/cancel", status_code=202, responses=problem_responses(ErrorCode.NOT_FOUND)
)
async def cancel(batch_id: BatchRef, services: ServicesDep) -> BatchProgress:
    """Start no new document; those in flight finish."""
    batch_id = _batch_id(batch_id)
    async with services.temporal_call() as client:
        try:
            await cancel_batch(batch_handle(client, batch_id))
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise _not_found(batch_id) from None
            raise
    return await progress(batch_id, services)
