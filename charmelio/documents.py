"""Uploading a PDF: content-addressed id, the bytes in object storage, a row in Postgres.

The document id is derived from the SHA-256 of the bytes, so uploading the same contract twice, from
any machine, gives the same id and stores it once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import psycopg

from charmelio.contract import ObjectKeys
from charmelio.storage.database import connect
from charmelio.storage.objects import ObjectStore

PDF_MAGIC = b"%PDF-"


class UploadRejectedError(ValueError):
    """The file is not something we accept for extraction."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class UploadedDocument:
    document_id: str
    sha256: str
    filename: str
    size_bytes: int
    created: bool
    # Every name the document has been uploaded under, oldest first (this upload's among them).
    names: tuple[str, ...] = ()


def document_id_for(sha256: str) -> str:
    return f"doc_{sha256[:24]}"


def check_pdf_bytes(data: bytes, *, max_bytes: int) -> None:
    if not data:
        raise UploadRejectedError("empty", "the file is empty")
    if len(data) > max_bytes:
        raise UploadRejectedError(
            "too_large", f"the file has {len(data):,} bytes; the limit is {max_bytes:,}"
        )
    if PDF_MAGIC not in data[:1024]:
        raise UploadRejectedError("not_a_pdf", "the file is not a PDF (no %PDF- header)")


def upload_pdf(
    data: bytes, filename: str, *, store: ObjectStore, database_url: str, max_bytes: int
) -> UploadedDocument:
    check_pdf_bytes(data, max_bytes=max_bytes)
    sha256 = hashlib.sha256(data).hexdigest()
    document_id = document_id_for(sha256)
    key = ObjectKeys.document_pdf(document_id)
    if not store.exists(key):
        store.put_bytes(key, data, "application/pdf")
    name = filename[:1000]
    with connect(database_url) as conn:
        row = conn.execute(
            "INSERT INTO documents (id, sha256, filename, size_bytes, object_key)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
            (document_id, sha256, name, len(data), key),
        ).fetchone()
        conn.execute(
            "INSERT INTO document_names (document_id, filename) VALUES (%s, %s)"
            " ON CONFLICT DO NOTHING",
            (document_id, name),
        )
        names = document_names(conn, document_id)
    return UploadedDocument(
        document_id, sha256, name, len(data), created=row is not None, names=names
    )


def document_names(conn: psycopg.Connection[Any], document_id: str) -> tuple[str, ...]:
    rows = conn.execute(
        "SELECT filename FROM document_names WHERE document_id = %s"
        " ORDER BY first_uploaded_at, filename",
        (document_id,),
    ).fetchall()
    return tuple(str(row[0]) for row in rows)


def document_exists(conn: psycopg.Connection[Any], document_id: str) -> bool:
    """Whether the document was uploaded (or created by a store): the CLI, the API and the store
    pool all ask this one question."""
    found = conn.execute("SELECT 1 FROM documents WHERE id = %s", (document_id,)).fetchone()
    return found is not None
