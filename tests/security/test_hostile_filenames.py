"""Hostile file names through `charmelio upload` and the API upload: SQL stays parameterised.

Every statement takes its values as parameters, so a name is only ever data: the tables survive and
the name comes back as it was given (the API keeps a printable base name of at most 255
characters; the CLI keeps the file's own name).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
import requests

from charmelio.settings import Settings
from cli import main
from tests.security.api_server import serving

NAMES = [
    "'; DROP TABLE documents; --.pdf",
    "x'); DELETE FROM extractions; --.pdf",
    "%s %s %(name)s {0} {}.pdf",
    "quote\"double'single`back.pdf",
    "\u043a\u043e\u043d\u0442\u0440\u0430\u043a\u0442 \u5408\u540c \U0001f4c4.pdf",
    "\u202eftp.pdf",
    "$(touch pwned) `id`.pdf",
    "a" * 240 + ".pdf",
]


def _pdf() -> bytes:
    """Bytes that pass the upload's content check, new on every call (ids are content hashes)."""
    return f"%PDF-1.4\n% {uuid.uuid4()}\n%%EOF\n".encode()


def _post_raw(url: str, filename: str, data: bytes) -> requests.Response:
    """A multipart upload whose filename parameter holds exactly these bytes (client libraries
    percent-encode control characters and quotes, which would hide what the server does)."""
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename.encode()
        + b'"\r\nContent-Type: application/pdf\r\n\r\n'
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return requests.post(
        f"{url}/api/documents",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=30,
    )


def _rows(database_url: str) -> tuple[set[str], list[str]]:
    with psycopg.connect(database_url) as conn:
        filenames = {row[0] for row in conn.execute("SELECT filename FROM documents")}
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' ORDER BY table_name"
            )
        ]
    return filenames, tables


def _tables_before(database_url: str) -> list[str]:
    return _rows(database_url)[1]


def test_cli_upload_stores_hostile_names_verbatim(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = _tables_before(database_url)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHARMELIO_DATABASE_URL", database_url)
    monkeypatch.setenv("CHARMELIO_STORAGE_BACKEND", "local")
    monkeypatch.setenv("CHARMELIO_STORAGE_DIR", str(tmp_path / "objects"))
    files = []
    for name in NAMES:
        path = tmp_path / "in" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(_pdf())
        files.append(str(path))
    assert main(["upload", *files]) == 0
    filenames, after = _rows(database_url)
    assert filenames == set(NAMES)
    assert after == tables
    assert {"documents", "extractions", "clauses"} <= set(after)


def test_api_upload_stores_hostile_names_as_printable_base_names(
    tmp_path: Path, database_url: str
) -> None:
    tables = _tables_before(database_url)
    settings = Settings(
        database_url=database_url,
        storage_backend="local",
        storage_dir=tmp_path / "objects",
        temporal_address="127.0.0.1:1",
        api_max_upload_bytes=64 * 1024,
    )
    given = {
        **{name: name for name in NAMES},
        # Clients (urllib3, and browsers per HTML5) send '"' as %22: stored as sent.
        NAMES[3]: NAMES[3].replace('"', "%22"),
        "../../../etc/passwd.pdf": "passwd.pdf",
        "C:\\evil\\..\\x.pdf": "x.pdf",
        "nul\x00byte\ttab\x7f.pdf": "nulbytetab.pdf",
        "b" * 1000 + ".pdf": "b" * 255,
        "\u202eftp.pdf": "ftp.pdf",
    }
    with serving(settings) as url:
        for name, kept in given.items():
            response = _post_raw(url, name.replace('"', "%22"), _pdf())
            assert response.status_code == 201, (name, response.text)
            assert response.json()["document"]["filename"] == kept, name

        # A part header longer than the multipart parser takes is a refused upload, not a 500.
        huge_name = _post_raw(url, "c" * 20_000 + ".pdf", _pdf())
        assert huge_name.status_code == 400
        assert huge_name.json()["code"] == "invalid_upload"

        # Limits: too large (413), not multipart (415), not a PDF (a 4xx problem).
        too_large = requests.post(
            f"{url}/api/documents",
            files={"file": ("big.pdf", b"%PDF-1.4\n" + b"0" * (200 * 1024))},
            timeout=30,
        )
        assert too_large.status_code == 413
        assert too_large.headers["content-type"] == "application/problem+json"
        raw = requests.post(f"{url}/api/documents", data=_pdf(), timeout=30)
        assert raw.status_code == 415
        html = requests.post(
            f"{url}/api/documents",
            files={"file": ("x.pdf", b"<html><script>alert(1)</script></html>")},
            timeout=30,
        )
        assert 400 <= html.status_code < 500
        assert html.headers["content-type"] == "application/problem+json"

    filenames, after = _rows(database_url)
    assert filenames == set(given.values())
    assert after == tables
