"""What every fake HTTP server here shares: a JSON-answering handler, served from a thread.

The handler class of a `ServedFake` reaches its instance as ``self.owner``; ``_stopping`` is set
before shutdown so a handler sleeping through a latency or a hang wakes at once.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self


class JsonHandler(BaseHTTPRequestHandler):
    """What every fake OpenAI-compatible server's handler shares: JSON answers, no access log."""

    def log_message(self, format: str, *args: Any) -> None:
        """No per-request stderr lines."""

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout) and left


class ServedFake:
    """A fake served on 127.0.0.1 (or ``address``) from a background thread.

    `start()` or a context manager; its handler class reaches the instance as ``self.owner``.
    ``_stopping`` is set before shutdown so a handler sleeping through a latency wakes at once.
    """

    handler: ClassVar[type[JsonHandler]]
    thread_name: ClassVar[str] = "fake-server"

    def __init__(self, address: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        self._address = address
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """Ends in ``/v1``, like OpenAI's."""
        return f"http://{self._address[0]}:{self.port}/v1"

    def start(self) -> Self:
        self._stopping.clear()
        bound = type(self.handler.__name__, (self.handler,), {"owner": self})
        self._httpd = ThreadingHTTPServer(self._address, bound)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd, self._thread = None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
