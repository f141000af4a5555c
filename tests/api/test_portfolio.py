"""The portfolio through the real API over a synthetic portfolio in real Postgres: every filter
(absence filters too) against what the database holds, every sort walked page by page, hostile
query strings, and the exports read back (openpyxl, csv, json) and compared with the database."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import openpyxl
import psycopg
import pytest
import requests

from charmelio.contract import CUAD_CATEGORIES
from tests.api._portfolio_support import SyntheticApi, synthetic_portfolio_api
from tests.api.conftest import ApiStack, assert_problem

pytestmark = pytest.mark.integration

CELL_LIMIT = 32_767
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def portfolio(api_stack: ApiStack, postgres_admin_url: str) -> Iterator[SyntheticApi]:
    with synthetic_portfolio_api(
        api_stack, postgres_admin_url, contracts=60, clauses_per_contract=12
    ) as api:
        yield api


class Truth:
    """The seeded rows read back with plain SQL, and each filter evaluated in Python."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        with psycopg.connect(database_url) as conn:
            self.contracts = {
                row[0]: {"document_id": row[1], "fields": row[2], "finished_at": row[3]}
                for row in conn.execute(
                    "SELECT id::text, document_id, fields, finished_at FROM extractions"
                    " WHERE status = 'completed'"
                )
            }
            self.clauses = {
                (row[0], row[1]): {"category": row[2], "quote": row[3], "page": row[4]}
                for row in conn.execute(
                    "SELECT extraction_id::text, ordinal, category, quote, page FROM clauses"
                )
            }

    def matching_quotes(self, query: str) -> set[tuple[str, int]]:
        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute(
                "SELECT extraction_id::text, ordinal FROM clauses"
                " WHERE to_tsvector('english', quote) @@ websearch_to_tsquery('english', %s)",
                (query,),
            ).fetchall()
        return {(row[0], row[1]) for row in rows}

    def categories_of(self, extraction_id: str) -> set[str]:
        return {c["category"] for (e, _), c in self.clauses.items() if e == extraction_id}

    def contract_passes(self, extraction_id: str, params: dict[str, Any]) -> bool:
        fields = self.contracts[extraction_id]["fields"]
        present = self.categories_of(extraction_id)

        def listed(name: str) -> list[str]:
            value = params.get(name, [])
            return [value] if isinstance(value, str) else list(value)

        def day(name: str) -> date | None:
            text = fields.get(name)
            return date.fromisoformat(text) if text else None

        checks = [
            params.get("document_id") in (None, self.contracts[extraction_id]["document_id"]),
            "governing_law" not in params
            or params["governing_law"].lower() in (fields.get("governing_law") or "").lower(),
            "party" not in params
            or any(params["party"].lower() in p["name"].lower() for p in fields["parties"]),
            all(category in present for category in listed("has")),
            not any(category in present for category in listed("lacks")),
        ]
        for param, name, later in (
            ("effective_from", "effective_date", True),
            ("effective_to", "effective_date", False),
            ("expires_from", "termination_date", True),
            ("expires_to", "termination_date", False),
        ):
            if param in params:
                value, bound = day(name), date.fromisoformat(params[param])
                checks.append(value is not None and (value >= bound if later else value <= bound))
        return all(checks)

    def clauses_for(self, params: dict[str, Any]) -> set[tuple[str, int]]:
        categories = params.get("category", [])
        categories = [categories] if isinstance(categories, str) else categories
        quoted = self.matching_quotes(params["q"]) if "q" in params else None
        return {
            key
            for key, clause in self.clauses.items()
            if self.contract_passes(key[0], params)
            and (not categories or clause["category"] in categories)
            and (quoted is None or key in quoted)
        }

    def contracts_for(self, params: dict[str, Any]) -> set[str]:
        if "category" in params or "q" in params:
            return {extraction for extraction, _ in self.clauses_for(params)}
        return {e for e in self.contracts if self.contract_passes(e, params)}


def walk(url: str, path: str, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """Every item of every page, following next_cursor."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = requests.get(f"{url}{path}", params=query, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the pages never ended")


FILTERS: list[dict[str, Any]] = [
    {},
    {"category": "Change of Control"},
    {"category": ["Change of Control", "Non-Compete"]},
    {"has": "Governing Law"},
    {"has": ["Governing Law", "Anti-Assignment"]},
    {"lacks": "Non-Compete"},
    {"lacks": ["Non-Compete", "Exclusivity"]},
    {"has": "Parties", "lacks": "Renewal Term"},
    {"lacks": "Third Party Beneficiary"},  # nobody has it: every contract
    {"governing_law": "new york"},
    {"governing_law": "%"},  # a literal percent sign, not a wildcard
    {"party": "o'reilly"},
    {"party": "100%"},
    {"party": "PURE_CO"},
    {"effective_from": "2015-01-01"},
    {"effective_to": "2012-06-30"},
    {"effective_from": "2012-01-01", "effective_to": "2016-12-31"},
    {"expires_from": "2020-01-01"},
    {"expires_to": "2018-01-01"},
    {"document_id": "doc_000000000000000000000007"},
    {"q": "change of control"},
    {"q": '"change of control"'},
    {"q": "renew -terminate"},
    {"q": "assign or compete"},
    {"q": "control", "category": "Change of Control"},
    {"q": "notice", "has": "Governing Law", "governing_law": "york"},
    {"q": "notice", "lacks": "Non-Compete", "party": "inc"},
]


@pytest.mark.parametrize("params", FILTERS, ids=lambda p: json.dumps(p) or "all")
def test_every_filter_gives_what_the_database_holds(
    portfolio: SyntheticApi, params: dict[str, Any]
) -> None:
    truth = Truth(portfolio.database_url)
    contracts = walk(portfolio.url, "/api/contracts", params, limit=7)
    ids = [item["extraction_id"] for item in contracts]
    assert len(ids) == len(set(ids)), "a contract was listed twice"
    assert set(ids) == truth.contracts_for(params)
    clauses = walk(portfolio.url, "/api/clauses", params, limit=23)
    keys = [(item["extraction_id"], item["ordinal"]) for item in clauses]
    assert len(keys) == len(set(keys)), "a finding was listed twice"
    assert set(keys) == truth.clauses_for(params)
    for item in clauses:
        assert item["quote"] == truth.clauses[(item["extraction_id"], item["ordinal"])]["quote"]
        if "q" in params:
            marked = [part["text"] for part in item["headline"] if part["match"]]
            assert marked, "the headline marks the matched words"
    assert contracts or params in ({"governing_law": "%"},), "a filter that finds nothing"


SORT_FIELDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "recent": lambda c: c["finished_at"],
    "name": lambda c: (c["filename"] or c["document_id"]).lower(),
    "effective_date": lambda c: c["effective_date"],
    "expiration_date": lambda c: c["expiration_date"],
    "governing_law": lambda c: c["governing_law"].lower() if c["governing_law"] else None,
    "clause_count": lambda c: c["clause_count"],
}


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("sort", list(SORT_FIELDS))
def test_every_sort_walks_every_contract_once_in_order(
    portfolio: SyntheticApi, sort: str, order: str
) -> None:
    items = walk(portfolio.url, "/api/contracts", {"sort": sort, "order": order}, limit=9)
    ids = [item["extraction_id"] for item in items]
    assert len(ids) == len(set(ids)) == len(portfolio.seeded.extraction_ids)
    keys = [SORT_FIELDS[sort](item) for item in items]
    present = [key for key in keys if key is not None]
    assert keys[: len(present)] == present, "empty values come last"
    assert present == sorted(present, reverse=order == "desc")


def test_findings_pages_walk_every_finding_once(portfolio: SyntheticApi) -> None:
    items = walk(portfolio.url, "/api/clauses", {}, limit=50)
    keys = [(item["extraction_id"], item["ordinal"]) for item in items]
    assert len(keys) == len(set(keys)) == portfolio.seeded.clause_rows


HOSTILE = [
    '"',
    "'",
    "&|!():*<>",
    "--",
    "-",
    "or or or",
    '"unterminated phrase',
    "\\",
    "'; DROP TABLE clauses; --",
    "%_%",
    "\u202e\u0000nul",
    "😀 emoji",
    "a" * 500,
    "the",  # only a stop word: no lexeme, matches nothing
]


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_query_strings_never_fail(portfolio: SyntheticApi, query: str) -> None:
    for path in ("/api/clauses", "/api/contracts"):
        for name in ("q", "party", "governing_law"):
            response = requests.get(
                f"{portfolio.url}{path}", params={name: query, "limit": "5"}, timeout=30
            )
            assert response.status_code == 200, (path, name, response.text)


def test_bad_cursors_and_categories_are_refused(portfolio: SyntheticApi) -> None:
    first = requests.get(
        f"{portfolio.url}/api/contracts", params={"sort": "name", "limit": "2"}, timeout=30
    ).json()
    other_sort = requests.get(
        f"{portfolio.url}/api/contracts",
        params={"sort": "governing_law", "cursor": first["next_cursor"]},
        timeout=30,
    )
    assert_problem(other_sort, 400, "invalid_cursor")
    assert_problem(
        requests.get(
            f"{portfolio.url}/api/clauses", params={"cursor": first["next_cursor"]}, timeout=30
        ),
        400,
        "invalid_cursor",
    )
    assert_problem(
        requests.get(f"{portfolio.url}/api/clauses", params={"cursor": "bm9wZQ"}, timeout=30),
        400,
        "invalid_cursor",
    )
    assert_problem(
        requests.get(f"{portfolio.url}/api/contracts", params={"has": "Nope"}, timeout=30),
        422,
        "invalid_request",
    )


# --- the exports, read back ---------------------------------------------------------------------


def assert_safe_cell(cell: str | None, text: str) -> None:
    """The cell shows `text`, neutralised when it would be a formula, and capped saying so."""
    assert cell is not None
    expected = "'" + text if text.startswith(FORMULA_STARTS) else text
    if len(expected) <= CELL_LIMIT:
        assert cell == expected
    else:
        assert len(cell) == CELL_LIMIT
        assert "truncated" in cell[-120:]
        assert expected.startswith(cell[: CELL_LIMIT - 120])


def export(portfolio: SyntheticApi, **params: str) -> requests.Response:
    response = requests.get(f"{portfolio.url}/api/export", params=params, timeout=120)
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    return response


def expected_quotes(truth: Truth, extraction_id: str, category: str) -> list[str]:
    return [
        clause["quote"]
        for (e, _), clause in sorted(truth.clauses.items())
        if e == extraction_id and clause["category"] == category
    ]


def check_contract_rows(truth: Truth, header: list[Any], rows: list[list[Any]]) -> None:
    assert header[:3] == ["Filename", "Document ID", "Extraction ID"]
    assert len(rows) == len(truth.contracts)
    assert {row[2] for row in rows} == set(truth.contracts)
    for row in rows:
        extraction_id = row[2]
        cells = dict(zip(header, row, strict=True))
        for category in CUAD_CATEGORIES:
            quotes = expected_quotes(truth, extraction_id, category)
            assert cells[f"{category}-Answer"] == ("Yes" if quotes else "No")
            if quotes:
                assert_safe_cell(cells[category], "\n\n".join(quotes))
            else:
                assert cells[category] in (None, "")


def test_xlsx_export_round_trips(portfolio: SyntheticApi, tmp_path: Any) -> None:
    truth = Truth(portfolio.database_url)
    path = tmp_path / "portfolio.xlsx"
    path.write_bytes(export(portfolio, format="xlsx").content)
    workbook = openpyxl.load_workbook(path, read_only=True)
    assert workbook.sheetnames == ["Contracts", "Clauses"]
    contracts = [list(row) for row in workbook["Contracts"].iter_rows(values_only=True)]
    check_contract_rows(truth, contracts[0], contracts[1:])
    clauses = [list(row) for row in workbook["Clauses"].iter_rows(values_only=True)]
    header, rows = clauses[0], clauses[1:]
    assert header == ["Filename", "Extraction ID", "Finding", "Category", "Page", "Confidence",
                      "Quote"]  # fmt: skip
    assert len(rows) == len(truth.clauses)
    for row in rows:
        clause = truth.clauses[(row[1], row[2])]
        assert (row[3], row[4]) == (clause["category"], clause["page"])
        assert_safe_cell(row[6], clause["quote"])
    assert any(str(row[6]).startswith("'") for row in rows), "the data has formula-like quotes"
    assert any(len(str(row[6])) == CELL_LIMIT for row in rows), "and quotes over the limit"


def test_csv_exports_round_trip(portfolio: SyntheticApi) -> None:
    truth = Truth(portfolio.database_url)
    response = export(portfolio, format="csv")
    assert response.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(response.text)))
    rows = [[cell or None for cell in row] for row in table[1:]]
    check_contract_rows(truth, table[0], rows)

    clauses = list(csv.reader(io.StringIO(export(portfolio, format="csv", level="clauses").text)))
    assert len(clauses) - 1 == len(truth.clauses)
    for row in clauses[1:]:
        assert_safe_cell(row[6], truth.clauses[(row[1], int(row[2]))]["quote"])

    # The clause filters select the finding rows.
    selected = list(
        csv.reader(
            io.StringIO(
                export(portfolio, format="csv", level="clauses", category="Non-Compete").text
            )
        )
    )
    expected = truth.clauses_for({"category": "Non-Compete"})
    assert {(row[1], int(row[2])) for row in selected[1:]} == expected


def test_jsonl_export_keeps_the_exact_text(portfolio: SyntheticApi) -> None:
    truth = Truth(portfolio.database_url)
    lines = export(portfolio, format="jsonl").text.splitlines()
    assert len(lines) == len(truth.contracts)
    for line in lines:
        contract = json.loads(line)
        for clause in contract["clauses"]:
            assert (
                clause["quote"]
                == truth.clauses[(contract["extraction_id"], clause["ordinal"])]["quote"]
            )
    findings = export(portfolio, format="jsonl", level="clauses", q="control").text.splitlines()
    assert {
        (json.loads(line)["extraction_id"], json.loads(line)["ordinal"]) for line in findings
    } == (truth.clauses_for({"q": "control"}))
