"""`charmelio search` and `charmelio export`: the portfolio from a terminal.

The same filters, and the same queries (`charmelio.portfolio`), as the API's /api/contracts,
/api/clauses and /api/export.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from cli._common import CommandError, stack_client_settings

if TYPE_CHECKING:
    from charmelio.portfolio import ClauseRow, ContractRow, PortfolioFilter


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    search = commands.add_parser(
        "search",
        help="search contracts (or, with --clauses, findings) across the portfolio",
        description="Contracts by their current extraction; with --clauses, one line per finding."
        " Filters combine (and); repeat --category/--has/--lacks for several.",
    )
    _filters(search)
    search.add_argument("--clauses", action="store_true", help="one line per finding")
    search.add_argument(
        "--sort",
        default="recent",
        choices=[
            "recent",
            "name",
            "effective_date",
            "expiration_date",
            "governing_law",
            "clause_count",
        ],
        help="contracts only (default: recent)",
    )
    search.add_argument("--order", choices=["asc", "desc"], help="contracts only")
    search.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    search.add_argument("--json", action="store_true", help="JSON lines")
    search.set_defaults(handler=_search)

    export = commands.add_parser(
        "export",
        help="export the portfolio as CSV, XLSX or JSON lines",
        description="One row per contract with its key fields and, per CUAD category, the quotes,"
        " Yes/No and pages (CUAD's master-clauses layout); --level clauses gives one row per"
        " finding. XLSX holds both, as two sheets. The search filters apply.",
    )
    _filters(export)
    export.add_argument("--format", choices=["csv", "xlsx", "jsonl"], default="csv")
    export.add_argument(
        "--level",
        choices=["contracts", "clauses"],
        default="contracts",
        help="csv and jsonl (xlsx has both sheets)",
    )
    export.add_argument(
        "-o",
        "--output",
        type=Path,
        help="the file to write (default: standard output; required for xlsx)",
    )
    export.set_defaults(handler=_export)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _filters(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("filters")
    group.add_argument("-q", "--query", help="full-text search of the quotes (web-search syntax)")
    group.add_argument(
        "--category",
        action="append",
        default=[],
        metavar="CATEGORY",
        help="findings of this CUAD category",
    )
    group.add_argument(
        "--has",
        action="append",
        default=[],
        metavar="CATEGORY",
        help="contracts with a finding of this category",
    )
    group.add_argument(
        "--lacks",
        action="append",
        default=[],
        metavar="CATEGORY",
        help="contracts without any finding of this category",
    )
    group.add_argument("--governing-law", help="governing law contains this (any case)")
    group.add_argument("--party", help="a party's name contains this (any case)")
    group.add_argument("--effective-from", type=_day, metavar="DATE")
    group.add_argument("--effective-to", type=_day, metavar="DATE")
    group.add_argument("--expires-from", type=_day, metavar="DATE")
    group.add_argument("--expires-to", type=_day, metavar="DATE")
    group.add_argument("--document", metavar="DOCUMENT_ID")


def _filter_of(args: argparse.Namespace) -> PortfolioFilter:
    from charmelio.portfolio import PortfolioFilter

    try:
        return PortfolioFilter(
            categories=tuple(args.category),
            query=args.query,
            has=tuple(args.has),
            lacks=tuple(args.lacks),
            governing_law=args.governing_law,
            party=args.party,
            effective_from=args.effective_from,
            effective_to=args.effective_to,
            expires_from=args.expires_from,
            expires_to=args.expires_to,
            document_id=args.document,
        )
    except ValueError as exc:
        raise CommandError(f"{exc} (the names are CUAD's, e.g. 'Governing Law')") from None


def _search(args: argparse.Namespace) -> int:
    from charmelio.portfolio import ContractSort, search_clauses, search_contracts
    from charmelio.storage.database import connect

    found = _filter_of(args)
    if args.limit < 1:
        raise CommandError("--limit must be at least 1")
    database_url = stack_client_settings(args).require_database_url()
    shown = 0
    cursor: str | None = None
    with connect(database_url) as conn:
        while shown < args.limit:
            size = min(200, args.limit - shown)
            if args.clauses:
                clauses = search_clauses(conn, found, cursor=cursor, limit=size)
                rows: list[ClauseRow] | list[ContractRow] = clauses.items
                cursor = clauses.next_cursor
            else:
                contracts = search_contracts(
                    conn,
                    found,
                    sort=ContractSort(args.sort),
                    order=args.order,
                    cursor=cursor,
                    limit=size,
                )
                rows, cursor = contracts.items, contracts.next_cursor
            for row in rows:
                print(row.model_dump_json() if args.json else _line(row))
            shown += len(rows)
            if cursor is None:
                break
    if not shown:
        print("no matches", file=sys.stderr)
    elif cursor is not None:
        print(f"(first {shown}; raise --limit for more)", file=sys.stderr)
    return 0


def _line(row: ClauseRow | ContractRow) -> str:
    from charmelio.portfolio import ClauseRow

    if isinstance(row, ClauseRow):
        text = (
            "".join(f"[{p.text}]" if p.match else p.text for p in row.headline)
            if row.headline
            else row.quote
        )
        quote = textwrap.shorten(" ".join(text.split()), 90, placeholder=" …")
        name = row.filename or row.document_id
        return f"{name[:40]:<40} {row.category[:28]:<28} p.{row.page:<4} {quote}"
    parties = "; ".join(party.name for party in row.parties)
    facts = [
        f"law: {row.governing_law}" if row.governing_law else None,
        f"effective {row.effective_date}" if row.effective_date else None,
        f"expires {row.expiration_date}" if row.expiration_date else None,
        f"{row.clause_count} findings",
    ]
    name = row.filename or row.document_id
    return f"{name}  ({row.extraction_id})\n    {parties}\n    " + ", ".join(
        fact for fact in facts if fact
    )


def _export(args: argparse.Namespace) -> int:
    from charmelio.exports import csv_chunks, jsonl_lines, write_xlsx
    from charmelio.portfolio import iter_export
    from charmelio.storage.database import connect

    found = _filter_of(args)
    if args.format == "xlsx" and args.output is None:
        raise CommandError("an XLSX workbook needs a file: pass -o FILE.xlsx")
    database_url = stack_client_settings(args).require_database_url()
    with connect(database_url) as conn, conn.transaction():
        items = iter_export(conn, found)
        if args.format == "xlsx":
            count = write_xlsx(items, args.output)
            print(f"{count} contract(s) written to {args.output}", file=sys.stderr)
            return 0
        chunks = (
            csv_chunks(items, args.level)
            if args.format == "csv"
            else jsonl_lines(items, args.level)
        )
        if args.output is None:
            try:
                for chunk in chunks:
                    sys.stdout.write(chunk)
                sys.stdout.flush()
            except BrokenPipeError:  # `| head`: the reader has all it wants
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        try:
            with args.output.open("w", encoding="utf-8", newline="") as out:
                for chunk in chunks:
                    out.write(chunk)
        except OSError as exc:
            raise CommandError(f"{args.output}: cannot write: {exc.strerror or exc}") from None
    print(f"written to {args.output}", file=sys.stderr)
    return 0
