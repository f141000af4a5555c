"""A local OpenAI-compatible provider with a real provider's limits, for load tests.

It answers ``POST /v1/chat/completions`` after a fixed latency, and enforces requests-per-minute and
tokens-per-minute limits over a sliding minute the way hosted providers do: over a limit it answers
HTTP 429 with ``Retry-After`` (whole seconds until the window has room) and ``x-ratelimit-*``
headers, without counting the refused request. Replies are the plainest JSON the request's
``response_format`` schema accepts (nulls, empty lists) plus a summary, so the llm pool parses and
stores them like any other answer.

It lives in the package rather than in tests/ because `charmelio loadtest` needs it at run time in
an installed copy; operator_tools/fakes/openai_server.py remains the richer fake the tests
script (bad JSON, invented quotes, hangs).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self

_PATHS = ("/v1/chat/completions", "/chat/completions")
_WINDOW_SECONDS = 60.0


def plainest_value(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """The simplest value a JSON schema accepts: null where allowed, empty lists, zeros."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return plainest_value(defs[ref.rsplit("/", 1)[-1]], defs)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        if any(option.get("type") == "null" for option in options):
            return None
        return plainest_value(options[0], defs)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        if "null" in kind:
            return None
        kind = kind[0]
    if kind == "object":
        properties: dict[str, Any] = schema.get("properties", {})
        return {name: plainest_value(sub, defs) for name, sub in properties.items()}
    return {"array": [], "string": "", "integer": 0, "number": 0.0, "boolean": False}.get(str(kind))


def chat_completion(
    completion_id: str, model: str, content: str, prompt_tokens: int, completion_tokens: int
) -> dict[str, Any]:
    """An OpenAI chat-completion response body carrying ``content`` as the assistant's answer."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def estimate_tokens(text: str) -> int:
    """About four characters a token, as OpenAI's rule of thumb has it."""
    return max(1, len(text) // 4)


@dataclass
class ProviderStats:
    requests: int = 0
    answered: int = 0
    rate_limited: int = 0
    tokens: int = 0


class _Limiter:
    """Requests and tokens accepted over the last minute; thread-safe."""

    def __init__(self, requests_per_minute: int | None, tokens_per_minute: int | None) -> None:
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self._accepted: deque[tuple[float, int]] = deque()
        self._tokens_in_window = 0
        self._lock = threading.Lock()

    def admit(self, tokens: int, now: float) -> float | None:
        """None when the request fits, otherwise the seconds until it would."""
        with self._lock:
            while self._accepted and self._accepted[0][0] <= now - _WINDOW_SECONDS:
                self._tokens_in_window -= self._accepted.popleft()[1]
            wait = 0.0
            if self.requests_per_minute is not None and (
                len(self._accepted) >= self.requests_per_minute
            ):
                oldest = self._accepted[len(self._accepted) - self.requests_per_minute][0]
                wait = max(wait, oldest + _WINDOW_SECONDS - now)
            if self.tokens_per_minute is not None and (
                self._tokens_in_window + tokens > self.tokens_per_minute
            ):
                freed, index = self._tokens_in_window, 0
                while freed + tokens > self.tokens_per_minute and index < len(self._accepted):
                    freed -= self._accepted[index][1]
                    wait = max(wait, self._accepted[index][0] + _WINDOW_SECONDS - now)
                    index += 1
            if wait > 0:
                return wait
            self._accepted.append((now, tokens))
            self._tokens_in_window += tokens
            return None

    def remaining(self) -> tuple[int | None, int | None]:
        with self._lock:
            requests = (
                None
                if self.requests_per_minute is None
                else self.requests_per_minute - len(self._accepted)
            )
            tokens = (
                None
                if self.tokens_per_minute is None
                else self.tokens_per_minute - self._tokens_in_window
            )
            return requests, tokens


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


class _Handler(JsonHandler):
    owner: FakeProvider

    def do_POST(self) -> None:
        provider = self.owner
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path.split("?", 1)[0] not in _PATHS:
            self._send(404, _error("not_found", f"unknown path {self.path}"))
            return
        try:
            body: dict[str, Any] = json.loads(raw)
            schema: dict[str, Any] = body["response_format"]["json_schema"]["schema"]
        except (ValueError, KeyError, TypeError):
            self._send(400, _error("invalid_request", "expected a JSON body with a json_schema"))
            return
        prompt_tokens = estimate_tokens(json.dumps(body.get("messages", "")))
        provider._count(requests=1)
        wait = provider._limiter.admit(prompt_tokens, time.monotonic())
        if wait is not None:
            provider._count(rate_limited=1)
            self._send(
                429,
                _error("rate_limit_exceeded", "Rate limit reached; try again later."),
                {"Retry-After": str(math.ceil(wait)), **provider._limit_headers()},
            )
            return
        if provider.latency_seconds and provider._stopping.wait(provider.latency_seconds):
            return
        answer = plainest_value(schema, schema.get("$defs", {}))
        if isinstance(answer, dict) and "summary" in answer:
            answer["summary"] = "A load-test answer."
        content = json.dumps(answer)
        completion_tokens = estimate_tokens(content)
        provider._count(answered=1, tokens=prompt_tokens + completion_tokens)
        self._send(
            200,
            chat_completion(
                "chatcmpl-loadtest",
                body.get("model", "fake"),
                content,
                prompt_tokens,
                completion_tokens,
            ),
            provider._limit_headers(),
        )


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "requests", "param": None, "code": code}}


class FakeProvider(ServedFake):
    """Start with `start()` or as a context manager; `base_url` ends in ``/v1`` like OpenAI's."""

    handler = _Handler
    thread_name = "fake-provider"

    def __init__(
        self,
        *,
        latency_seconds: float = 0.0,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
    ) -> None:
        super().__init__()
        self.latency_seconds = latency_seconds
        self._limiter = _Limiter(requests_per_minute, tokens_per_minute)
        self._stats = ProviderStats()
        self._lock = threading.Lock()

    def stats(self) -> ProviderStats:
        with self._lock:
            return ProviderStats(**vars(self._stats))

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = ProviderStats()

    def _count(
        self, *, requests: int = 0, answered: int = 0, rate_limited: int = 0, tokens: int = 0
    ) -> None:
        with self._lock:
            self._stats.requests += requests
            self._stats.answered += answered
            self._stats.rate_limited += rate_limited
            self._stats.tokens += tokens

    def _limit_headers(self) -> dict[str, str]:
        requests, tokens = self._limiter.remaining()
        headers = {}
        if requests is not None:
            headers["x-ratelimit-limit-requests"] = str(self._limiter.requests_per_minute)
            headers["x-ratelimit-remaining-requests"] = str(max(requests, 0))
        if tokens is not None:
            headers["x-ratelimit-limit-tokens"] = str(self._limiter.tokens_per_minute)
            headers["x-ratelimit-remaining-tokens"] = str(max(tokens, 0))
        return headers
