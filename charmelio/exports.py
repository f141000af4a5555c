"""The portfolio as a spreadsheet or as JSON lines, written row by row in bounded memory.

Two shapes, as in CUAD's master-clauses sheet:

- contracts: one row per contract, its key fields, then per CUAD category three columns: the
  quotes (``<category>``), whether the contract has one (``<category>-Answer``: Yes/No) and
  their pages (``<category>-Pages``);
- clauses: one row per finding (the search's clause filters apply).

CSV and JSON lines hold one shape each; an XLSX workbook holds both, as two sheets.

Contract text is untrusted: a cell that a spreadsheet would read as a formula (it begins with
``=``, ``+``, ``-``, ``@``, tab or carriage return) gets a leading apostrophe, in CSV and XLSX alike
(OWASP's advice); and no cell is longer than Excel's 32,767 characters: a longer text is cut and
says so at its end. JSON lines keep the exact text.

XLSX is written with XlsxWriter in constant-memory mode: each row goes to a temporary file as it
is written, so memory does not grow with the number of contracts; the workbook is assembled on
close, which is why an XLSX export is written to a file first and sent once complete.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from charmelio.portfolio import ExportClause, ExportContract, categories_in_order

EXCEL_CELL_LIMIT = 32_767
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_QUOTE_SEPARATOR = "\n\n"


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    JSONL = "jsonl"


ExportLevel = Literal["contracts", "clauses"]

MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.JSONL: "application/x-ndjson",
}

CONTRACT_KEY_COLUMNS = (
    "Filename",
    "Document ID",
    "Extraction ID",
    "Parties",
    "Effective Date",
    "Expiration Date",
    "Term",
    "Governing Law",
    "Clause Count",
    "Provider",
    "Model",
    "Extracted At",
)
# The essentials only (each cell costs time in a 500,000-row sheet); JSON lines have the offsets.
CLAUSE_COLUMNS = ("Filename", "Extraction ID", "Finding", "Category", "Page", "Confidence", "Quote")


def contract_columns() -> list[str]:
    columns = list(CONTRACT_KEY_COLUMNS)
    for category in categories_in_order():
        columns += [category, f"{category}-Answer", f"{category}-Pages"]
    return columns


def safe_text(text: str) -> str:
    """A cell's text: never read as a formula, never over Excel's limit (and saying so)."""
    if text.startswith(_FORMULA_STARTS):
        text = "'" + text
    if len(text) > EXCEL_CELL_LIMIT:
        notice = f" […truncated: {len(text):,} characters; the JSONL export has the full text]"
        text = text[: EXCEL_CELL_LIMIT - len(notice)] + notice
    return text


Cell = str | int | float | None


def contract_cells(item: ExportContract) -> list[Cell]:
    contract = item.contract
    cells: list[Cell] = [
        contract.filename,
        contract.document_id,
        contract.extraction_id,
        "; ".join(
            f"{party.name} ({party.role})" if party.role else party.name
            for party in contract.parties
        ),
        contract.effective_date.isoformat() if contract.effective_date else None,
        contract.expiration_date.isoformat() if contract.expiration_date else None,
        contract.term_length,
        contract.governing_law,
        contract.clause_count,
        contract.provider,
        contract.model,
        contract.finished_at.isoformat(),
    ]
    by_category: dict[str, list[ExportClause]] = {}
    for clause in item.clauses:
        by_category.setdefault(clause.category, []).append(clause)
    for category in categories_in_order():
        found = by_category.get(category, [])
        cells += [
            _QUOTE_SEPARATOR.join(clause.quote for clause in found) or None,
            "Yes" if found else "No",
            "; ".join(str(page) for page in sorted({clause.page for clause in found})) or None,
        ]
    return cells


def clause_cells(item: ExportContract, clause: ExportClause) -> list[Cell]:
    contract = item.contract
    return [
        contract.filename or contract.document_id,
        contract.extraction_id,
        clause.ordinal,
        clause.category,
        clause.page,
        round(clause.confidence, 4),
        clause.quote,
    ]


def _safe(cells: Iterable[Cell]) -> list[Cell]:
    return [safe_text(cell) if isinstance(cell, str) else cell for cell in cells]


def _rows(items: Iterable[ExportContract], level: ExportLevel) -> Iterator[list[Cell]]:
    for item in items:
        if level == "contracts":
            yield contract_cells(item)
        else:
            for clause in item.selected_clauses():
                yield clause_cells(item, clause)


def csv_chunks(
    items: Iterable[ExportContract], level: ExportLevel, *, rows_per_chunk: int = 200
) -> Iterator[str]:
    """The CSV text in chunks of a few hundred rows, for streaming."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(contract_columns() if level == "contracts" else CLAUSE_COLUMNS)
    for written, row in enumerate(_rows(items, level), start=1):
        writer.writerow(_safe(row))
        if written % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def jsonl_lines(items: Iterable[ExportContract], level: ExportLevel) -> Iterator[str]:
    """One JSON object a line: a contract with its categories' findings, or one finding."""
    for item in items:
        contract = item.contract.model_dump(mode="json")
        if level == "contracts":
            contract["clauses"] = [
                clause.model_dump(mode="json", exclude={"selected"}) for clause in item.clauses
            ]
            yield json.dumps(contract, ensure_ascii=False) + "\n"
            continue
        for clause in item.selected_clauses():
            line: dict[str, Any] = {
                "extraction_id": contract["extraction_id"],
                "document_id": contract["document_id"],
                "filename": contract["filename"],
                **clause.model_dump(mode="json", exclude={"selected"}),
            }
            yield json.dumps(line, ensure_ascii=False) + "\n"


def write_xlsx(items: Iterable[ExportContract], path: Path) -> int:
    """Both sheets into one workbook at `path`; returns the number of contracts written."""
    import xlsxwriter  # the `export` extra; imported here so search needs no spreadsheet library

    workbook = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
    )
    try:
        header = workbook.add_format({"bold": True})
        contracts = workbook.add_worksheet("Contracts")
        clauses = workbook.add_worksheet("Clauses")
        for sheet, columns in ((contracts, contract_columns()), (clauses, list(CLAUSE_COLUMNS))):
            for column, name in enumerate(columns):
                sheet.write_string(0, column, name, header)
            sheet.freeze_panes(1, 1)
        contract_row = clause_row = 0
        for item in items:
            contract_row += 1
            _write_row(contracts, contract_row, contract_cells(item))
            for clause in item.selected_clauses():
                clause_row += 1
                _write_row(clauses, clause_row, clause_cells(item, clause))
    finally:
        workbook.close()
    return contract_row


def _write_row(sheet: Any, row: int, cells: list[Cell]) -> None:
    for column, cell in enumerate(cells):
        if cell is None:
            continue
        if isinstance(cell, str):
            # write_string, never write(): a string is never taken for a formula or a number.
            sheet.write_string(row, column, safe_text(cell))
        else:
            sheet.write_number(row, column, cell)
