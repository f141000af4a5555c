"""/api/documents: upload a PDF (deduplicated by its SHA-256), read a document."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api_server._catalog import find_document
from api_server._extractions import start_document_extraction
from api_server._models import Document, UploadedDocument
from api_server._problems import ApiProblem, ErrorCode, problem_responses
from api_server._services import Services, get_services
from api_server._uploads import FILE_FIELD, receive_pdf
from api_server._views import document_path
from charmelio.contract import validate_document_id
from charmelio.documents import UploadRejectedError, check_pdf_bytes, upload_pdf

router = APIRouter(prefix="/api/documents", tags=["documents"])

ServicesDep = Annotated[Services, Depends(get_services)]

_REFUSALS = {
    "empty": ErrorCode.EMPTY,
    "too_large": ErrorCode.TOO_LARGE,
    "not_a_pdf": ErrorCode.NOT_A_PDF,
}
_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": [FILE_FIELD],
                "properties": {
                    FILE_FIELD: {
                        "type": "string",
                        "format": "binary",
                        "description": "The PDF; its content decides, not its name or type",
                    }
                },
            }
        }
    },
}


async def _document(services: Services, document_id: str) -> Document | None:
    return await services.database(lambda conn: find_document(conn, document_id))


@router.post(
    "",
    status_code=201,
    summary="Upload a PDF",
    openapi_extra={"requestBody": _UPLOAD_BODY},
    responses={
        200: {"model": UploadedDocument, "description": "The same bytes were uploaded before"},
        **problem_responses(
            ErrorCode.INVALID_REQUEST,
            ErrorCode.INVALID_UPLOAD,
            ErrorCode.EMPTY,
            ErrorCode.TOO_LARGE,
            ErrorCode.NOT_A_PDF,
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            ErrorCode.DATABASE_UNAVAILABLE,
            ErrorCode.OBJECT_STORAGE_UNAVAILABLE,
            ErrorCode.TEMPORAL_UNAVAILABLE,
        ),
    },
)
async def upload(
    request: Request,
    response: Response,
    services: ServicesDep,
    extract: Annotated[
        bool, Query(description="Start the document's extraction right away")
    ] = False,
) -> UploadedDocument:
    """Multipart upload of one PDF in the part `file`. The document id is derived from the
    SHA-256 of the bytes, so the same contract uploaded twice is stored once (200, not 201)."""
    settings = services.settings
    received = await receive_pdf(request, max_bytes=settings.api_max_upload_bytes)
    try:
        check_pdf_bytes(received.data, max_bytes=settings.api_max_upload_bytes)
    except UploadRejectedError as exc:
        raise ApiProblem(_REFUSALS.get(exc.reason, ErrorCode.INVALID_UPLOAD), str(exc)) from None
    uploaded = await services.blocking(
        lambda: upload_pdf(
            received.data,
            received.filename,
            store=services.objects,
            database_url=services.database_url,
            max_bytes=settings.api_max_upload_bytes,
        )
    )
    document = await _document(services, uploaded.document_id)
    assert document is not None, "the upload has just written the row"
    extraction = (
        await start_document_extraction(services, uploaded.document_id) if extract else None
    )
    response.status_code = 201 if uploaded.created else 200
    response.headers["Location"] = document_path(uploaded.document_id)
    return UploadedDocument(document=document, created=uploaded.created, extraction=extraction)


@router.get(
    "/{document_id}",
    summary="A document and its current extraction",
    responses=problem_responses(ErrorCode.DOCUMENT_NOT_FOUND, ErrorCode.DATABASE_UNAVAILABLE),
)
async def get_document(document_id: Annotated[str, Path()], services: ServicesDep) -> Document:
    try:
        validate_document_id(document_id)
    except ValueError:
        document = None
    else:
        document = await _document(services, document_id)
    if document is None:
        raise ApiProblem(ErrorCode.DOCUMENT_NOT_FOUND, f"no document {document_id[:200]!r}")
    return document
