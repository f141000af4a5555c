"""/api/export: the portfolio (the search's filters) as CSV, XLSX or JSON lines.

CSV and JSON lines stream as they are read (a server-side cursor, a few hundred contracts at a
time). XLSX cannot stream (a workbook is a zip assembled at the end): it is written to a temporary
file in constant-memory mode, sent, then deleted. Either way the API process's memory does not
grow with the number of contracts.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Generator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask

from api_server._portfolio import FilterDep
from api_server._problems import ErrorCode, problem_responses
from api_server._services import Connection, Services, get_services
from charmelio.exports import (
    MEDIA_TYPES,
    ExportFormat,
    ExportLevel,
    csv_chunks,
    jsonl_lines,
    write_xlsx,
)
from charmelio.portfolio import PortfolioFilter, iter_export

router = APIRouter(tags=["portfolio"])

ServicesDep = Annotated[Services, Depends(get_services)]
_DONE = object()
# JSON lines come one a row: gather about 256 KiB per hop to the event loop, not one row.
_CHUNK_CHARS = 256 * 1024


def _content(media_type: str) -> dict[str, Any]:
    return {media_type.split(";")[0]: {"schema": {"type": "string"}}}


@router.get(
    "/api/export",
    summary="Export the portfolio (CSV, XLSX or JSON lines)",
    response_class=StreamingResponse,
    response_model=None,
    responses={
        200: {
            "description": "The export, as an attachment",
            "content": {
                key: value
                for media_type in MEDIA_TYPES.values()
                for key, value in _content(media_type).items()
            },
        },
        **problem_responses(ErrorCode.INVALID_REQUEST, ErrorCode.DATABASE_UNAVAILABLE),
    },
)
async def export(
    services: ServicesDep,
    found: FilterDep,
    format: Annotated[ExportFormat, Query(description="csv, xlsx or jsonl")] = ExportFormat.CSV,
    level: Annotated[
        ExportLevel,
        Query(
            description="csv and jsonl: one row per contract (with per-category columns, CUAD's"
            " master-clauses layout) or one per finding; xlsx holds both sheets"
        ),
    ] = "contracts",
) -> StreamingResponse | FileResponse:
    """The same filters as /api/contracts. Contract rows list every finding of the contract;
    finding rows are those matching the clause filters (`category`, `q`)."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    if format is ExportFormat.XLSX:
        path = await services.database(lambda conn: _xlsx_file(conn, found))
        return FileResponse(
            path,
            media_type=MEDIA_TYPES[format],
            filename=f"charmelio-portfolio-{stamp}.xlsx",
            background=BackgroundTask(_remove, path),
        )
    # Take the connection before answering 200, so that a database that is down is a 503.
    conn = await services.blocking(services.pool.getconn)
    return StreamingResponse(
        _stream(services, conn, found, format, level),
        media_type=MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="charmelio-{level}-{stamp}.{format}"'
        },
    )


def _xlsx_file(conn: Connection, found: PortfolioFilter) -> Path:
    handle, name = tempfile.mkstemp(prefix="charmelio-export-", suffix=".xlsx")
    os.close(handle)
    path = Path(name)
    try:
        write_xlsx(iter_export(conn, found), path)
    except BaseException:
        _remove(path)
        raise
    return path


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


async def _stream(
    services: Services,
    conn: Connection,
    found: PortfolioFilter,
    format: ExportFormat,
    level: ExportLevel,
) -> AsyncIterator[bytes]:
    """Pull the blocking generator on worker threads; a client that goes away mid-way closes it
    (and its server-side cursor) and gives the connection back."""

    def chunks() -> Generator[str]:
        with conn.transaction():
            items = iter_export(conn, found)
            pieces: Iterator[str] = (
                csv_chunks(items, level)
                if format is ExportFormat.CSV
                else jsonl_lines(items, level)
            )
            batch: list[str] = []
            size = 0
            for piece in pieces:
                batch.append(piece)
                size += len(piece)
                if size >= _CHUNK_CHARS:
                    yield "".join(batch)
                    batch.clear()
                    size = 0
            yield "".join(batch)

    source = chunks()
    try:
        while True:
            chunk = await to_thread.run_sync(next, source, _DONE)
            if chunk is _DONE:
                break
            assert isinstance(chunk, str)
            yield chunk.encode()
    finally:
        await to_thread.run_sync(source.close)
        await to_thread.run_sync(services.pool.putconn, conn)
