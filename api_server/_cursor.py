"""Opaque keyset cursors for listing extractions newest first.

A cursor is the sort key of the last row a page returned, ``(finished_at, extraction_id)``, so the
next page starts strictly after it. Unlike an offset, rows added or re-labelled (superseded) while a
client pages never make it skip or repeat a row; ties on `finished_at` are broken by the id.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from charmelio.contract import validate_extraction_id


class InvalidCursorError(ValueError):
    """The cursor was not made by this API (or was altered)."""


@dataclass(frozen=True)
class Cursor:
    finished_at: datetime
    extraction_id: str

    def encode(self) -> str:
        raw = json.dumps([self.finished_at.isoformat(), self.extraction_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            finished_at, extraction_id = json.loads(raw)
            parsed = datetime.fromisoformat(finished_at)
            validate_extraction_id(extraction_id)
        except (binascii.Error, UnicodeDecodeError, TypeError, ValueError) as exc:
            raise InvalidCursorError(
                "invalid cursor: pass next_cursor from a previous page"
            ) from exc
        if parsed.tzinfo is None:
            raise InvalidCursorError("invalid cursor: pass next_cursor from a previous page")
        return cls(parsed, extraction_id)
