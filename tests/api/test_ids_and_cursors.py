"""The small pure pieces of the API: job ids, cursors, upload file names, the API settings."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from api_server._cursor import Cursor, InvalidCursorError
from api_server._jobs import job_id_for, parse_job_id
from api_server._uploads import safe_filename
from charmelio.settings import ConfigurationError, Settings

RUN_ID = "01a21ce3-263d-7ce0-ab46-62d11c851eb6"


def test_a_job_id_names_the_document_and_the_run() -> None:
    job = job_id_for("doc_0123abcd", RUN_ID)
    assert job == f"doc_0123abcd.{RUN_ID}"
    assert parse_job_id(job) == ("doc_0123abcd", RUN_ID)


@pytest.mark.parametrize(
    "value",
    [
        RUN_ID,  # an extraction id, not a job id
        "doc_0123abcd",
        f"doc_0123abcd.{RUN_ID}x",
        f"../doc.{RUN_ID}",
        f"doc.x.{RUN_ID}",
        f".{RUN_ID}",
        f"{'d' * 129}.{RUN_ID}",
        "",
    ],
)
def test_what_is_not_a_job_id(value: str) -> None:
    assert parse_job_id(value) is None


def test_a_cursor_round_trips_with_microseconds_and_zone() -> None:
    cursor = Cursor(datetime(2026, 11, 27, 12, 2, 58, 779138, tzinfo=UTC), RUN_ID.replace("7", "4"))
    token = cursor.encode()
    assert "=" not in token
    assert Cursor.decode(token) == cursor


def _token(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not a cursor!",
        "bm90IGEgY3Vyc29y",  # "not a cursor"
        _token(["2026-11-27T12:02:58+00:00"]),
        _token(["2026-11-27T12:02:58+00:00", "not-a-uuid"]),
        _token(["yesterday", "00000000-0000-4000-8000-000000000000"]),
        _token(["2026-11-27T12:02:58", "00000000-0000-4000-8000-000000000000"]),  # no zone
        _token({"finished_at": "2026-11-27T12:02:58+00:00"}),
        _token([1, 2]),
    ],
)
def test_a_cursor_the_api_did_not_make_is_refused(token: str) -> None:
    with pytest.raises(InvalidCursorError):
        Cursor.decode(token)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("contract.pdf", "contract.pdf"),
        ("C:\\Users\\me\\Desktop\\contract.pdf", "contract.pdf"),
        ("/etc/passwd", "passwd"),
        ("../../x.pdf", "x.pdf"),
        ("a\x00b\nc.pdf", "abc.pdf"),
        ("", "upload.pdf"),
        (None, "upload.pdf"),
        ("dir/", "upload.pdf"),
        ("x" * 300 + ".pdf", "x" * 255),
    ],
)
def test_upload_file_names_keep_only_a_printable_base_name(given: str | None, kept: str) -> None:
    assert safe_filename(given) == kept


def test_api_settings_defaults_and_an_empty_key_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("CHARMELIO_API_PORT", "CHARMELIO_API_KEY", "CHARMELIO_API_MAX_UPLOAD_BYTES"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.api_port == 8000
    assert settings.api_max_upload_bytes == 25 * 1024 * 1024
    assert settings.api_key is None
    with pytest.raises(ValidationError, match="CHARMELIO_API_KEY is empty"):
        Settings(_env_file=None, api_key="  ")
    assert Settings(_env_file=None, api_key="k").api_key is not None


def test_the_api_refuses_to_start_without_a_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from api_server import create_app

    monkeypatch.delenv("CHARMELIO_DATABASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="CHARMELIO_DATABASE_URL"):
        create_app(Settings(_env_file=None))
