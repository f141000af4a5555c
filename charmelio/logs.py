"""One JSON object per log line, so pools can be followed with ordinary log tooling."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class _PoolTag(logging.Filter):
    def __init__(self, pool: str) -> None:
        super().__init__()
        self.pool = pool

    def filter(self, record: logging.LogRecord) -> bool:
        record.pool = self.pool
        return True


def configure_logging(level: str, *, pool: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_PoolTag(pool))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The SDK logs activities with its own context; ours is the one structured line per activity.
    logging.getLogger("temporalio.activity").setLevel(logging.WARNING)
