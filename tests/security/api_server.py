"""The real API app served by uvicorn on a free port in a thread of the test process."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests
import uvicorn

from api_server import create_app
from charmelio.settings import Settings
from operator_tools.devstack import free_port


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """Yields the base URL once /health answers; stops the server on exit."""
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="info")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(url)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def wait_until_healthy(url: str, timeout: float = 30.0) -> None:
    """Return once ``url``/health answers 200; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the API at {url} did not answer /health within {timeout:g} s")
        time.sleep(0.05)
