"""The portfolio: every contract's current extraction, searched by key fields and by its clauses.

One set of filters gives contracts (one row per current extraction) and clauses (one row per
finding); `charmelio search`, `charmelio export` and the API's /api/contracts, /api/clauses and
/api/export all read through here, so they always agree on what a filter means:

- clause filters (`categories`, `query`) select findings; a contract matches when at least one of
  its findings matches all of them;
- contract filters (`has`, `lacks`, `governing_law`, `party`, date ranges, `document_id`) select
  contracts, and with them their findings.

Full-text search uses Postgres: `clauses.quote_search` is a generated tsvector (migration 0007)
read through a GIN index, and the user's text goes through `websearch_to_tsquery`, which accepts
any input (quotes, `or`, `-word`, stray punctuation) without a syntax error. Headlines are made
for the returned rows only. Pages are keyset pages: a cursor is the sort key of the last row, so
walking `next_cursor` sees every row exactly once.

Plain functions of a psycopg connection; values always travel as query parameters.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from charmelio.contract import CUAD_CATEGORIES, Party, validate_extraction_id

Connection = psycopg.Connection[Any]

TEXT_SEARCH_CONFIG = "english"
# Control characters never survive parsing (the parse stage drops them), so they cannot collide
# with contract text; they mark the matched words in ts_headline's output.
_MATCH_START, _MATCH_END = "\x02", "\x03"
_HEADLINE_OPTIONS = (
    f"StartSel={_MATCH_START}, StopSel={_MATCH_END}, MaxWords=35, MinWords=12, "
    'MaxFragments=2, FragmentDelimiter=" … "'
)
MAX_PAGE_SIZE = 200


class InvalidPortfolioCursorError(ValueError):
    """The cursor was not made by this search (another sort, altered, or not ours at all)."""


class ContractSort(StrEnum):
    RECENT = "recent"
    NAME = "name"
    EFFECTIVE_DATE = "effective_date"
    EXPIRATION_DATE = "expiration_date"
    GOVERNING_LAW = "governing_law"
    CLAUSE_COUNT = "clause_count"


SortOrder = Literal["asc", "desc"]


@dataclass(frozen=True)
class _SortKey:
    sql: str
    nullable: bool
    kind: Literal["datetime", "date", "text", "int"]
    default_order: SortOrder


_SORT_KEYS = {
    ContractSort.RECENT: _SortKey("e.finished_at", False, "datetime", "desc"),
    ContractSort.NAME: _SortKey("lower(coalesce(d.filename, e.document_id))", False, "text", "asc"),
    ContractSort.EFFECTIVE_DATE: _SortKey("e.effective_date", True, "date", "asc"),
    ContractSort.EXPIRATION_DATE: _SortKey("e.expiration_date", True, "date", "asc"),
    ContractSort.GOVERNING_LAW: _SortKey("lower(e.governing_law)", True, "text", "asc"),
    ContractSort.CLAUSE_COUNT: _SortKey("e.clause_count", False, "int", "desc"),
}


def default_order(sort: ContractSort) -> SortOrder:
    return _SORT_KEYS[sort].default_order


def _clean(text: str | None) -> str | None:
    """Postgres text cannot hold NUL; blank means "no filter"."""
    if text is None:
        return None
    cleaned = text.replace("\x00", "").strip()
    return cleaned or None


@dataclass(frozen=True)
class PortfolioFilter:
    """What the user asked for; every field left empty selects everything."""

    categories: tuple[str, ...] = ()
    query: str | None = None
    has: tuple[str, ...] = ()
    lacks: tuple[str, ...] = ()
    governing_law: str | None = None
    party: str | None = None
    effective_from: date | None = None
    effective_to: date | None = None
    expires_from: date | None = None
    expires_to: date | None = None
    document_id: str | None = None

    def __post_init__(self) -> None:
        for name in ("categories", "has", "lacks"):
            values: tuple[str, ...] = tuple(dict.fromkeys(getattr(self, name)))
            unknown = [value for value in values if value not in CUAD_CATEGORIES]
            if unknown:
                raise ValueError(f"unknown CUAD category {unknown[0][:80]!r}")
            object.__setattr__(self, name, values)
        for name in ("query", "governing_law", "party", "document_id"):
            object.__setattr__(self, name, _clean(getattr(self, name)))

    @property
    def selects_clauses(self) -> bool:
        return bool(self.categories) or self.query is not None


class HeadlinePart(BaseModel):
    model_config = ConfigDict(frozen=True)
    text: str
    match: bool = Field(description="These words matched the query")


class ContractRow(BaseModel):
    """One contract: its current extraction's key fields and the categories it has."""

    model_config = ConfigDict(frozen=True)
    extraction_id: str
    document_id: str
    filename: str | None
    parties: list[Party]
    effective_date: date | None
    expiration_date: date | None = Field(description="The result's termination_date")
    term_length: str | None
    governing_law: str | None
    clause_count: int
    categories: list[str] = Field(description="CUAD categories with at least one finding")
    provider: str | None
    model: str | None
    finished_at: datetime


class ClauseRow(BaseModel):
    """One finding, with the contract it belongs to."""

    model_config = ConfigDict(frozen=True)
    extraction_id: str
    ordinal: int = Field(description="The finding's number within its extraction")
    document_id: str
    filename: str | None
    category: str
    quote: str
    page: int
    confidence: float
    start_offset: int | None
    end_offset: int | None
    headline: list[HeadlinePart] | None = Field(
        default=None, description="Where the quote matches the query (only with `q`)"
    )


RowT = TypeVar("RowT")


@dataclass(frozen=True)
class Page(Generic[RowT]):
    items: list[RowT]
    next_cursor: str | None


# --- cursors -------------------------------------------------------------------------------------


def _encode(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(token: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _invalid_cursor() from exc
    if not isinstance(payload, dict):
        raise _invalid_cursor()
    return payload


def _invalid_cursor() -> InvalidPortfolioCursorError:
    return InvalidPortfolioCursorError(
        "invalid cursor: pass next_cursor from a previous page of the same search and sort"
    )


def _key_from_json(kind: str, value: Any) -> Any:
    if kind == "datetime" and isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive datetime")
        return parsed
    if kind == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if kind == "text" and isinstance(value, str):
        return value.replace("\x00", "")
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"not a {kind}")


@dataclass(frozen=True)
class _ContractCursor:
    key: Any
    is_null: bool
    extraction_id: str

    @staticmethod
    def decode(token: str, sort: ContractSort, order: SortOrder) -> _ContractCursor:
        payload = _decode(token)
        if payload.get("s") != sort.value or payload.get("o") != order:
            raise _invalid_cursor()
        try:
            extraction_id = validate_extraction_id(str(payload["i"]))
            is_null = payload["n"]
            if not isinstance(is_null, bool):
                raise ValueError("n")
            key = None if is_null else _key_from_json(_SORT_KEYS[sort].kind, payload["k"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _invalid_cursor() from exc
        return _ContractCursor(key, is_null, extraction_id)


@dataclass(frozen=True)
class _ClauseCursor:
    finished_at: datetime
    extraction_id: str
    ordinal: int

    def encode(self) -> str:
        return _encode(
            {
                "s": "clauses",
                "f": self.finished_at.isoformat(),
                "i": self.extraction_id,
                "o": self.ordinal,
            }
        )

    @staticmethod
    def decode(token: str) -> _ClauseCursor:
        payload = _decode(token)
        if payload.get("s") != "clauses":
            raise _invalid_cursor()
        try:
            finished_at = _key_from_json("datetime", payload["f"])
            extraction_id = validate_extraction_id(str(payload["i"]))
            ordinal = _key_from_json("int", payload["o"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _invalid_cursor() from exc
        return _ClauseCursor(finished_at, extraction_id, ordinal)


# --- SQL -----------------------------------------------------------------------------------------


@dataclass
class _Where:
    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, sql: str, *params: Any) -> None:
        self.clauses.append(sql)
        self.params.extend(params)

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "TRUE"


def _like(text: str) -> str:
    """A case-insensitive substring pattern for ILIKE: the user's text matches literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_TSQUERY = f"websearch_to_tsquery('{TEXT_SEARCH_CONFIG}', %s)"


def _clause_conditions(where: _Where, found: PortfolioFilter, alias: str) -> None:
    if found.categories:
        where.add(f"{alias}.category = ANY(%s)", list(found.categories))
    if found.query is not None:
        where.add(f"{alias}.quote_search @@ {_TSQUERY}", found.query)


def _contract_conditions(where: _Where, found: PortfolioFilter) -> None:
    """Conditions on `extractions e` (the current extractions only)."""
    where.add("e.status = 'completed'")
    if found.document_id is not None:
        where.add("e.document_id = %s", found.document_id)
    if found.governing_law is not None:
        where.add("e.governing_law ILIKE %s", _like(found.governing_law))
    if found.party is not None:
        where.add("e.party_names ILIKE %s", _like(found.party))
    for column, bound, op in (
        ("effective_date", found.effective_from, ">="),
        ("effective_date", found.effective_to, "<="),
        ("expiration_date", found.expires_from, ">="),
        ("expiration_date", found.expires_to, "<="),
    ):
        if bound is not None:
            where.add(f"e.{column} {op} %s", bound)
    for category in found.has:
        where.add(
            "EXISTS (SELECT 1 FROM clauses h WHERE h.category = %s AND h.extraction_id = e.id)",
            category,
        )
    if found.lacks:
        where.add(
            "NOT EXISTS (SELECT 1 FROM clauses h"
            " WHERE h.category = ANY(%s) AND h.extraction_id = e.id)",
            list(found.lacks),
        )


_CONTRACT_SELECT = (
    "e.id::text AS extraction_id, e.document_id, d.filename,"
    " coalesce(e.fields -> 'parties', '[]'::jsonb) AS parties,"
    " e.effective_date, e.expiration_date, e.fields ->> 'term_length' AS term_length,"
    " e.governing_law, e.clause_count, e.provider, e.model, e.finished_at"
)
_CATEGORIES_OF = (
    "ARRAY(SELECT DISTINCT p.category FROM clauses p WHERE p.extraction_id = e.id"
    " ORDER BY p.category) AS categories"
)


def _contract_filter_sql(found: PortfolioFilter) -> _Where:
    where = _Where()
    _contract_conditions(where, found)
    if found.selects_clauses:
        inner = _Where()
        _clause_conditions(inner, found, "m")
        where.add(
            f"EXISTS (SELECT 1 FROM clauses m WHERE m.extraction_id = e.id AND {inner.sql()})",  # noqa: S608
            *inner.params,
        )
    return where


def search_contracts(
    conn: Connection,
    found: PortfolioFilter,
    *,
    sort: ContractSort = ContractSort.RECENT,
    order: SortOrder | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[ContractRow]:
    """One page of contracts in the chosen order (empty values last), strictly after `cursor`."""
    order = order or default_order(sort)
    key = _SORT_KEYS[sort]
    op, direction = (">", "ASC") if order == "asc" else ("<", "DESC")
    where = _contract_filter_sql(found)
    if cursor is not None:
        after = _ContractCursor.decode(cursor, sort, order)
        if after.is_null:
            where.add(f"{key.sql} IS NULL AND e.id {op} %s::uuid", after.extraction_id)
        else:
            where.add(
                f"({key.sql} IS NULL OR {key.sql} {op} %s"
                f" OR ({key.sql} = %s AND e.id {op} %s::uuid))",
                after.key,
                after.key,
                after.extraction_id,
            )
    ordering = f"{key.sql} {direction}, e.id {direction}"
    if key.nullable:
        ordering = f"({key.sql} IS NULL), {ordering}"
    sql = (
        f"SELECT {_CONTRACT_SELECT}, {_CATEGORIES_OF}, {key.sql} AS sort_key"  # noqa: S608
        " FROM extractions e LEFT JOIN documents d ON d.id = e.document_id"
        f" WHERE {where.sql()} ORDER BY {ordering} LIMIT %s"
    )
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, [*where.params, _bounded(limit) + 1])
        rows = cur.fetchall()
    more = len(rows) > _bounded(limit)
    rows = rows[: _bounded(limit)]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = _encode(
            {
                "s": sort.value,
                "o": order,
                "k": last["sort_key"],
                "n": last["sort_key"] is None,
                "i": last["extraction_id"],
            }
        )
    return Page([_contract_row(row) for row in rows], next_cursor)


def _bounded(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE_SIZE))


def _contract_row(row: dict[str, Any]) -> ContractRow:
    row = {name: value for name, value in row.items() if name != "sort_key"}
    row["parties"] = [Party.model_validate(party) for party in row["parties"] or []]
    return ContractRow.model_validate(row)


_CLAUSE_HIT = (
    "e.id AS extraction_uuid, e.document_id, e.finished_at, c.ordinal, c.category, c.quote,"
    " c.page, c.confidence, c.start_offset, c.end_offset"
)


def search_clauses(
    conn: Connection,
    found: PortfolioFilter,
    *,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[ClauseRow]:
    """One page of findings: contracts newest first, each contract's findings in order."""
    where = _Where()
    _contract_conditions(where, found)
    _clause_conditions(where, found, "c")
    if cursor is not None:
        after = _ClauseCursor.decode(cursor)
        # The first condition is the index's range; the second drops the rows of the cursor's own
        # contract up to its finding.
        where.add(
            "(e.finished_at, e.id) <= (%s, %s::uuid)"
            " AND NOT (e.finished_at = %s AND e.id = %s::uuid AND c.ordinal <= %s)",
            after.finished_at,
            after.extraction_id,
            after.finished_at,
            after.extraction_id,
            after.ordinal,
        )
    headline = "NULL"
    headline_params: list[Any] = []
    if found.query is not None:
        headline = f"ts_headline('{TEXT_SEARCH_CONFIG}', hit.quote, {_TSQUERY}, %s)"
        headline_params = [found.query, _HEADLINE_OPTIONS]
    sql = (
        "SELECT hit.extraction_uuid::text AS extraction_id, hit.ordinal, hit.document_id,"  # noqa: S608
        " d.filename, hit.category, hit.quote, hit.page, hit.confidence, hit.start_offset,"
        f" hit.end_offset, hit.finished_at, {headline} AS headline"
        f" FROM (SELECT {_CLAUSE_HIT} FROM extractions e"
        " JOIN clauses c ON c.extraction_id = e.id"
        f" WHERE {where.sql()}"
        " ORDER BY e.finished_at DESC, e.id DESC, c.ordinal LIMIT %s) hit"
        " LEFT JOIN documents d ON d.id = hit.document_id"
        " ORDER BY hit.finished_at DESC, hit.extraction_uuid DESC, hit.ordinal"
    )
    size = _bounded(limit)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, [*headline_params, *where.params, size + 1])
        rows = cur.fetchall()
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = _ClauseCursor(
            last["finished_at"], last["extraction_id"], last["ordinal"]
        ).encode()
    items = []
    for row in rows:
        row.pop("finished_at")
        marked = row.pop("headline")
        items.append(ClauseRow(**row, headline=_headline_parts(marked)))
    return Page(items, next_cursor)


def _headline_parts(marked: str | None) -> list[HeadlinePart] | None:
    if marked is None:
        return None
    parts: list[HeadlinePart] = []
    for index, piece in enumerate(marked.replace(_MATCH_END, _MATCH_START).split(_MATCH_START)):
        if piece:
            parts.append(HeadlinePart(text=piece, match=index % 2 == 1))
    return parts


# --- the export's reads -------------------------------------------------------------------------


class ExportClause(BaseModel):
    model_config = ConfigDict(frozen=True)
    ordinal: int
    category: str
    quote: str
    page: int
    confidence: float
    start_offset: int | None
    end_offset: int | None
    selected: bool = Field(description="It matches the search's clause filters")


@dataclass(frozen=True)
class ExportContract:
    contract: ContractRow
    clauses: list[ExportClause]

    def selected_clauses(self) -> Iterator[ExportClause]:
        return (clause for clause in self.clauses if clause.selected)


def iter_export(
    conn: Connection, found: PortfolioFilter, *, batch_rows: int = 200
) -> Iterator[ExportContract]:
    """Every matching contract (newest first) with all its findings, read through a server-side
    cursor `batch_rows` contracts at a time: memory stays bounded whatever the portfolio's size.

    Runs in the connection's current transaction (a server-side cursor needs one).
    """
    where = _contract_filter_sql(found)
    selected = _Where()
    _clause_conditions(selected, found, "c")
    clauses = (
        "coalesce((SELECT json_agg(json_build_object("  # noqa: S608
        "'ordinal', c.ordinal, 'category', c.category, 'quote', c.quote, 'page', c.page,"
        " 'confidence', c.confidence, 'start_offset', c.start_offset,"
        f" 'end_offset', c.end_offset, 'selected', {selected.sql()}) ORDER BY c.ordinal)"
        " FROM clauses c WHERE c.extraction_id = e.id), '[]'::json) AS clauses"
    )
    sql = (
        f"SELECT {_CONTRACT_SELECT}, {_CATEGORIES_OF}, {clauses}"  # noqa: S608
        " FROM extractions e LEFT JOIN documents d ON d.id = e.document_id"
        f" WHERE {where.sql()} ORDER BY e.finished_at DESC, e.id DESC"
    )
    with conn.cursor(name="charmelio_export", row_factory=dict_row) as cur:
        cur.itersize = batch_rows
        cur.execute(sql, [*selected.params, *where.params])
        for row in cur:
            found_clauses = [ExportClause.model_validate(item) for item in row.pop("clauses")]
            yield ExportContract(_contract_row(row), found_clauses)


def categories_in_order() -> Sequence[str]:
    """CUAD's categories in the order of its master-clauses sheet."""
    return CUAD_CATEGORIES
