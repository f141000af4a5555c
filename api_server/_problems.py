"""Errors as RFC 9457 problem details, each with a stable machine-readable `code`.

Clients branch on `code` (and the HTTP status), never on `detail`, which is for people and may
change. Every code a route can answer with is declared in the OpenAPI schema of that route.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ErrorCode(StrEnum):
    INVALID_REQUEST = "invalid_request"
    INVALID_UPLOAD = "invalid_upload"
    INVALID_CURSOR = "invalid_cursor"
    EMPTY = "empty"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    DOCUMENT_NOT_FOUND = "document_not_found"
    EXTRACTION_NOT_FOUND = "extraction_not_found"
    ARTIFACT_NOT_FOUND = "artifact_not_found"
    CLAUSE_NOT_FOUND = "clause_not_found"
    PAGE_NOT_FOUND = "page_not_found"
    PDF_UNREADABLE = "pdf_unreadable"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    EXTRACTION_NOT_FINISHED = "extraction_not_finished"
    TOO_LARGE = "too_large"
    NOT_A_PDF = "not_a_pdf"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    INTERNAL_ERROR = "internal_error"
    TEMPORAL_UNAVAILABLE = "temporal_unavailable"
    DATABASE_UNAVAILABLE = "database_unavailable"
    OBJECT_STORAGE_UNAVAILABLE = "object_storage_unavailable"


STATUS_OF: dict[ErrorCode, int] = {
    ErrorCode.INVALID_REQUEST: 422,
    ErrorCode.INVALID_UPLOAD: 400,
    ErrorCode.INVALID_CURSOR: 400,
    ErrorCode.EMPTY: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.DOCUMENT_NOT_FOUND: 404,
    ErrorCode.EXTRACTION_NOT_FOUND: 404,
    ErrorCode.ARTIFACT_NOT_FOUND: 404,
    ErrorCode.CLAUSE_NOT_FOUND: 404,
    ErrorCode.PAGE_NOT_FOUND: 404,
    ErrorCode.PDF_UNREADABLE: 422,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.EXTRACTION_NOT_FINISHED: 409,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.NOT_A_PDF: 415,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.TEMPORAL_UNAVAILABLE: 503,
    ErrorCode.DATABASE_UNAVAILABLE: 503,
    ErrorCode.OBJECT_STORAGE_UNAVAILABLE: 503,
}


class FieldError(BaseModel):
    location: list[str | int]
    message: str
    type: str


class Problem(BaseModel):
    """An error response (`application/problem+json`)."""

    type: str = Field(description="URN naming the error code")
    title: str
    status: int
    detail: str
    code: ErrorCode
    instance: str | None = Field(default=None, description="The request path")
    errors: list[FieldError] | None = Field(
        default=None, description="Which request fields were invalid (invalid_request only)"
    )


class ApiProblem(Exception):
    """Raised anywhere in a request to answer with that problem."""

    def __init__(
        self,
        code: ErrorCode,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        errors: list[FieldError] | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.errors = errors

    @property
    def status(self) -> int:
        return STATUS_OF[self.code]


def problem_response(problem: ApiProblem, request: Request) -> JSONResponse:
    body = Problem(
        type=f"urn:charmelio:problem:{problem.code.value}",
        title=HTTPStatus(problem.status).phrase,
        status=problem.status,
        detail=problem.detail,
        code=problem.code,
        instance=request.url.path,
        errors=problem.errors,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def problem_responses(*codes: ErrorCode) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entries for the problems a route can answer with."""
    by_status: dict[int, list[ErrorCode]] = {}
    for code in (*codes, ErrorCode.INTERNAL_ERROR):
        by_status.setdefault(STATUS_OF[code], []).append(code)
    return {
        status: {
            "description": f"{HTTPStatus(status).phrase}: code "
            + " or ".join(f"`{code.value}`" for code in found),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status, found in sorted(by_status.items())
    }


_HTTP_CODES = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblem)
        return problem_response(exc, request)

    async def on_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            FieldError(
                location=[part for part in error.get("loc", ()) if isinstance(part, str | int)],
                message=str(error.get("msg", "")),
                type=str(error.get("type", "")),
            )
            for error in exc.errors()
        ]
        summary = "; ".join(
            f"{'.'.join(str(part) for part in e.location)}: {e.message}" for e in errors
        )
        problem = ApiProblem(ErrorCode.INVALID_REQUEST, summary or "invalid request", errors=errors)
        return problem_response(problem, request)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code)
        if code is None:  # pragma: no cover - Starlette raises only 404 and 405 on its own
            code = ErrorCode.INVALID_REQUEST if exc.status_code < 500 else ErrorCode.INTERNAL_ERROR
        detail = "no such resource" if code is ErrorCode.NOT_FOUND else str(exc.detail)
        return problem_response(ApiProblem(code, detail, headers=exc.headers), request)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after this answer, so the server logs the traceback once.
        problem = ApiProblem(ErrorCode.INTERNAL_ERROR, "an unexpected error occurred; see the logs")
        return problem_response(problem, request)

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
