"""/api/contracts and /api/clauses: search every contract's current extraction.

The filters are one FastAPI dependency (`portfolio_filter`) shared by both listings and by the
export, so a filter means the same everywhere; the queries are the kernel's
(`charmelio.portfolio`), shared with `charmelio search`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, BeforeValidator

from api_server._models import DOCUMENT_ID_PATTERN
from api_server._problems import ApiProblem, ErrorCode, problem_responses
from api_server._services import Services, get_services
from charmelio.contract import CuadCategory
from charmelio.portfolio import (
    ClauseRow,
    ContractRow,
    ContractSort,
    InvalidPortfolioCursorError,
    PortfolioFilter,
    SortOrder,
    search_clauses,
    search_contracts,
)

router = APIRouter(tags=["portfolio"])

ServicesDep = Annotated[Services, Depends(get_services)]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _calendar_date(value: object) -> object:
    """Only ``YYYY-MM-DD``, as the schema says: pydantic would also read ``0.0`` as 1970-01-01."""
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_calendar_date)]
_TEXT = {"max_length": 500}


def portfolio_filter(
    category: Annotated[
        list[CuadCategory] | None,
        Query(description="Findings of these categories (repeat for several)"),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            **_TEXT,
            description="Full-text search of the quotes, web-search syntax: words, "
            '`"a phrase"`, `or`, `-word`. Any text is accepted.',
        ),
    ] = None,
    has: Annotated[
        list[CuadCategory] | None,
        Query(description="Contracts that have a finding of every one of these categories"),
    ] = None,
    lacks: Annotated[
        list[CuadCategory] | None,
        Query(description="Contracts with no finding of any of these categories"),
    ] = None,
    governing_law: Annotated[
        str | None, Query(**_TEXT, description="Governing law contains this (any case)")
    ] = None,
    party: Annotated[
        str | None, Query(**_TEXT, description="A party's name contains this (any case)")
    ] = None,
    effective_from: Annotated[IsoDate | None, Query(description="Effective on or after")] = None,
    effective_to: Annotated[IsoDate | None, Query(description="Effective on or before")] = None,
    expires_from: Annotated[IsoDate | None, Query(description="Expires on or after")] = None,
    expires_to: Annotated[IsoDate | None, Query(description="Expires on or before")] = None,
    document_id: Annotated[
        str | None, Query(pattern=DOCUMENT_ID_PATTERN, description="Only this document")
    ] = None,
) -> PortfolioFilter:
    return PortfolioFilter(
        categories=tuple(category or ()),
        query=q,
        has=tuple(has or ()),
        lacks=tuple(lacks or ()),
        governing_law=governing_law,
        party=party,
        effective_from=effective_from,
        effective_to=effective_to,
        expires_from=expires_from,
        expires_to=expires_to,
        document_id=document_id,
    )


FilterDep = Annotated[PortfolioFilter, Depends(portfolio_filter)]
CursorParam = Annotated[
    str | None, Query(max_length=1024, description="`next_cursor` of the previous page")
]
LimitParam = Annotated[int, Query(ge=1, le=200)]


class ContractPage(BaseModel):
    items: list[ContractRow]
    next_cursor: str | None


class ClausePage(BaseModel):
    items: list[ClauseRow]
    next_cursor: str | None


_RESPONSES = problem_responses(
    ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_CURSOR, ErrorCode.DATABASE_UNAVAILABLE
)


def _invalid_cursor(exc: InvalidPortfolioCursorError) -> ApiProblem:
    return ApiProblem(ErrorCode.INVALID_CURSOR, str(exc))


@router.get("/api/contracts", summary="Search contracts (one row each)", responses=_RESPONSES)
async def list_contracts(
    services: ServicesDep,
    found: FilterDep,
    sort: Annotated[ContractSort, Query(description="Sort key; empty values come last")] = (
        ContractSort.RECENT
    ),
    order: Annotated[
        SortOrder | None,
        Query(description="asc or desc; default: newest first, names and dates ascending"),
    ] = None,
    cursor: CursorParam = None,
    limit: LimitParam = 50,
) -> ContractPage:
    """Contracts by their current (latest completed) extraction: key fields and the CUAD
    categories found. A contract matches the clause filters (`category`, `q`) when one of its
    findings matches them all. Keyset pages: follow `next_cursor` until it is null."""
    try:
        page = await services.database(
            lambda conn: search_contracts(
                conn, found, sort=sort, order=order, cursor=cursor, limit=limit
            )
        )
    except InvalidPortfolioCursorError as exc:
        raise _invalid_cursor(exc) from None
    return ContractPage(items=page.items, next_cursor=page.next_cursor)


@router.get("/api/clauses", summary="Search findings across contracts", responses=_RESPONSES)
async def list_clauses(
    services: ServicesDep,
    found: FilterDep,
    cursor: CursorParam = None,
    limit: LimitParam = 50,
) -> ClausePage:
    """Every finding of the current extractions that matches, contracts newest first and each
    contract's findings in order; with `q`, each has a `headline` marking the matched words."""
    try:
        page = await services.database(
            lambda conn: search_clauses(conn, found, cursor=cursor, limit=limit)
        )
    except InvalidPortfolioCursorError as exc:
        raise _invalid_cursor(exc) from None
    return ClausePage(items=page.items, next_cursor=page.next_cursor)
