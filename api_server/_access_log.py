"""Query-string values never reach the access log.

Uvicorn's access line holds the path *with* its query string. The API takes its key only in a
header, but a client that puts a key or token in the URL (``?api_key=...``) by mistake would
otherwise have it written to every log shipper downstream. Parameter names that look like names
(a short identifier) stay, so a line still shows which filters a request used; every value, and any
name that could itself be a bare token, becomes ``...``.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl

ACCESS_LOGGER = "uvicorn.access"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
_PATH_ARG = 2  # uvicorn logs (client, method, path with query, http version, status)


def redact_query(path: str) -> str:
    """``/a?key=v&x=1`` → ``/a?key=...&x=...``; a path without a query is returned as it is."""
    base, separator, query = path.partition("?")
    if not separator:
        return path
    names = [
        name if _NAME.fullmatch(name) else "..."
        for name, _ in parse_qsl(query, keep_blank_values=True)
    ]
    return f"{base}?{'&'.join(f'{name}=...' for name in names)}" if names else f"{base}?..."


class RedactQueryValues(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > _PATH_ARG:
            path = args[_PATH_ARG]
            if isinstance(path, str):
                record.args = (*args[:_PATH_ARG], redact_query(path), *args[_PATH_ARG + 1 :])
        return True


def install_access_log_redaction() -> None:
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactQueryValues) for f in logger.filters):
        logger.addFilter(RedactQueryValues())


__all__ = ["install_access_log_redaction", "redact_query"]
