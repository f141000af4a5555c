"""A finding on its page: where its characters are, and the page image with them highlighted.

`GET /api/clauses/{extraction_id}/{ordinal}/evidence` says where the quote is (boxes per page,
how it was found); `.../pages/{page}` is a page image (PNG), highlighted on the pages the quote
covers, plain elsewhere (for previous/next). Both are computed once and kept in object storage
(`ObjectKeys.evidence_location`, `evidence_page`, `page_image`), so a second look is one read.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from api_server._page_render import (
    Box,
    LocatedBy,
    Location,
    PdfUnreadableError,
    locate_quote,
    render_page_png,
)
from api_server._problems import ApiProblem, ErrorCode, problem_responses
from api_server._services import Connection, Services, get_services
from charmelio.contract import ObjectKeys, ParsedPages
from charmelio.storage.objects import ObjectNotFoundError, ObjectStore

router = APIRouter(prefix="/api/clauses", tags=["portfolio"])

ServicesDep = Annotated[Services, Depends(get_services)]
ExtractionIdParam = Annotated[
    str,
    Path(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="The finding's extraction (a lower-case UUID)",
    ),
]
OrdinalParam = Annotated[
    int, Path(ge=1, le=1_000_000, description="The finding's number (`ordinal`)")
]
_UNAVAILABLE = (ErrorCode.DATABASE_UNAVAILABLE, ErrorCode.OBJECT_STORAGE_UNAVAILABLE)


class EvidenceBox(BaseModel):
    left: int
    top: int
    right: int
    bottom: int
    pdf: tuple[float, float, float, float] = Field(
        description="The same rectangle in PDF canvas units: left, bottom, right, top"
    )


class EvidencePage(BaseModel):
    page: int
    width: int = Field(description="The page image's width in pixels")
    height: int
    boxes: list[EvidenceBox] = Field(description="Highlighted rectangles, in image pixels")
    image: str = Field(description="The page image, highlighted")


class Evidence(BaseModel):
    extraction_id: str
    ordinal: int
    document_id: str
    category: str
    quote: str
    page: int = Field(description="The page the finding cites")
    page_count: int
    located_by: LocatedBy = Field(
        description="`offsets`: the stored offsets, mapped onto PDFium's characters;"
        " `text_search`: the offsets no longer match the PDF's text, the quote was searched for"
        " on its page; `not_found`: neither found it (the image is the plain page)"
    )
    note: str | None = Field(description="Why it was not found by its offsets, when it was not")
    pages: list[EvidencePage] = Field(description="The pages the quote covers, with its boxes")
    image: str = Field(description="The cited page's image")


class _Finding(BaseModel):
    document_id: str
    category: str
    quote: str
    page: int
    start_offset: int | None
    end_offset: int | None


def _find(conn: Connection, extraction_id: str, ordinal: int) -> _Finding | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT e.document_id, c.category, c.quote, c.page, c.start_offset, c.end_offset"
            " FROM clauses c JOIN extractions e ON e.id = c.extraction_id"
            " WHERE c.extraction_id = %s AND c.ordinal = %s",
            (extraction_id, ordinal),
        )
        row = cur.fetchone()
    return None if row is None else _Finding.model_validate(row)


def image_path(extraction_id: str, ordinal: int, page: int) -> str:
    return f"/api/clauses/{extraction_id}/{ordinal}/pages/{page}"


def _location_json(location: Location) -> bytes:
    return json.dumps(
        {
            "located_by": location.located_by,
            "note": location.note,
            "page_count": location.page_count,
            "boxes": {
                str(page): [asdict(box) for box in boxes] for page, boxes in location.boxes.items()
            },
            "sizes": {str(page): list(size) for page, size in location.sizes.items()},
        }
    ).encode()


def _location_from_json(data: bytes) -> Location:
    raw: dict[str, Any] = json.loads(data)
    return Location(
        located_by=raw["located_by"],
        note=raw["note"],
        page_count=raw["page_count"],
        boxes={
            int(page): [Box(**{**box, "pdf": tuple(box["pdf"])}) for box in boxes]
            for page, boxes in raw["boxes"].items()
        },
        sizes={int(page): (size[0], size[1]) for page, size in raw["sizes"].items()},
    )


def _pdf(store: ObjectStore, document_id: str) -> bytes:
    try:
        return store.get_bytes(ObjectKeys.document_pdf(document_id))
    except ObjectNotFoundError:
        raise ApiProblem(
            ErrorCode.PDF_UNREADABLE, f"the PDF of {document_id} is no longer in object storage"
        ) from None


def _location(store: ObjectStore, extraction_id: str, ordinal: int, found: _Finding) -> Location:
    """The cached location, or found now (and cached)."""
    key = ObjectKeys.evidence_location(found.document_id, extraction_id, ordinal)
    try:
        return _location_from_json(store.get_bytes(key))
    except ObjectNotFoundError:
        pass
    data = _pdf(store, found.document_id)
    parsed: ParsedPages | None = None
    try:
        parsed = ParsedPages.model_validate_json(
            store.get_bytes(ObjectKeys.parsed_pages(found.document_id))
        )
    except ObjectNotFoundError:
        parsed = None  # no page texts: the offsets cannot be checked, search instead
    try:
        location = locate_quote(
            data,
            parsed,
            quote=found.quote,
            page=found.page,
            start=found.start_offset,
            end=found.end_offset,
        )
    except PdfUnreadableError as exc:
        raise ApiProblem(ErrorCode.PDF_UNREADABLE, str(exc)) from None
    store.put_bytes(key, _location_json(location), "application/json")
    return location


async def _finding(services: Services, extraction_id: str, ordinal: int) -> _Finding:
    found = await services.database(lambda conn: _find(conn, extraction_id, ordinal))
    if found is None:
        raise ApiProblem(
            ErrorCode.CLAUSE_NOT_FOUND,
            f"no finding {ordinal} in extraction {extraction_id} (or it was superseded)",
        )
    return found


@router.get(
    "/{extraction_id}/{ordinal}/evidence",
    summary="Where a finding's quote is on its page(s)",
    responses=problem_responses(
        ErrorCode.INVALID_REQUEST,
        ErrorCode.CLAUSE_NOT_FOUND,
        ErrorCode.PDF_UNREADABLE,
        *_UNAVAILABLE,
    ),
)
async def evidence(
    extraction_id: ExtractionIdParam, ordinal: OrdinalParam, services: ServicesDep
) -> Evidence:
    found = await _finding(services, extraction_id, ordinal)
    location = await services.storage(lambda store: _location(store, extraction_id, ordinal, found))
    pages = [
        EvidencePage(
            page=page,
            width=location.sizes[page][0],
            height=location.sizes[page][1],
            boxes=[
                EvidenceBox(left=b.left, top=b.top, right=b.right, bottom=b.bottom, pdf=b.pdf)
                for b in boxes
            ],
            image=image_path(extraction_id, ordinal, page),
        )
        for page, boxes in sorted(location.boxes.items())
    ]
    return Evidence(
        extraction_id=extraction_id,
        ordinal=ordinal,
        document_id=found.document_id,
        category=found.category,
        quote=found.quote,
        page=found.page,
        page_count=location.page_count,
        located_by=location.located_by,
        note=location.note,
        pages=pages,
        image=image_path(extraction_id, ordinal, min(found.page, max(location.page_count, 1))),
    )


def _page_png(
    store: ObjectStore, extraction_id: str, ordinal: int, page: int, found: _Finding
) -> bytes:
    location = _location(store, extraction_id, ordinal, found)
    if page > location.page_count:
        raise ApiProblem(
            ErrorCode.PAGE_NOT_FOUND, f"the document has {location.page_count} pages, not {page}"
        )
    boxes = location.boxes.get(page, [])
    key = (
        ObjectKeys.evidence_page(found.document_id, extraction_id, ordinal, page)
        if boxes
        else ObjectKeys.page_image(found.document_id, page)
    )
    try:
        return store.get_bytes(key)
    except ObjectNotFoundError:
        pass
    try:
        png = render_page_png(_pdf(store, found.document_id), page, boxes)
    except PdfUnreadableError as exc:
        raise ApiProblem(ErrorCode.PDF_UNREADABLE, str(exc)) from None
    store.put_bytes(key, png, "image/png")
    return png


@router.get(
    "/{extraction_id}/{ordinal}/pages/{page}",
    summary="A page image, with the finding highlighted where it is on that page",
    response_class=Response,
    responses={
        200: {
            "description": "The page as a PNG",
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problem_responses(
            ErrorCode.INVALID_REQUEST,
            ErrorCode.CLAUSE_NOT_FOUND,
            ErrorCode.PAGE_NOT_FOUND,
            ErrorCode.PDF_UNREADABLE,
            *_UNAVAILABLE,
        ),
    },
)
async def page_image(
    extraction_id: ExtractionIdParam,
    ordinal: OrdinalParam,
    page: Annotated[int, Path(ge=1, le=100_000, description="1-based page number")],
    services: ServicesDep,
) -> Response:
    found = await _finding(services, extraction_id, ordinal)
    png = await services.storage(
        lambda store: _page_png(store, extraction_id, ordinal, page, found)
    )
    return Response(content=png, media_type="image/png")
