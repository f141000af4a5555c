"""The one fake OpenAI-compatible server: ``POST /v1/chat/completions`` on 127.0.0.1.

It is a fake of the one call Charmelio makes, answered over real HTTP so the real `openai` client,
its timeouts and its error classes are exercised. Tests, benchmarks and `charmelio loadtest` all
use it. ``base_url`` ends in ``/v1`` like OpenAI's; the server also answers ``/chat/completions``
for clients configured with a base URL without ``/v1``.

Modes (set ``.mode``, or queue one per request with ``.script([...])``):

- ``good``: a JSON reply that matches the request's schema, quoting real sentences of the contract
  (see `replies`).
- ``plain``: the plainest JSON the schema accepts, plus a summary (the load test's provider).
- ``malformed_json``: HTTP 200 whose message content is truncated JSON.
- ``schema_violation``: HTTP 200 with valid JSON that breaks the schema.
- ``bad_quotes``: like ``good`` but every quote is invented (not in the contract).
- ``mixed_quotes``: the ``good`` reply plus one finding per invented quote.
- ``loop``: a small model stuck in a JSON array: it writes until the reply's token limit and is
  cut there with ``finish_reason: "length"``, its tokens billed. When the request's schema bounds
  every array and string (``maxItems``, ``maxLength``), it writes as a grammar-constrained server
  makes such a model write: every array and string filled to its bound, then the JSON closed.
- ``rate_limited``: HTTP 429 with ``Retry-After: 1`` (see ``retry_after``).
- ``server_error``: HTTP 500.
- ``no_json_schema``: HTTP 500 naming ``response_format`` for a ``json_schema`` request, as
  llama-cpp-python's server answers; other requests are answered as ``good``.
- ``no_schema_bounds``: HTTP 400 naming ``maxLength`` for a schema that carries it, as OpenAI's
  strict mode answers; other requests are answered as ``good``.
- ``hang``: no reply for ``hang_seconds`` (longer than any client timeout in the tests); shutting
  the server down releases it at once.
- ``unauthorized``: HTTP 401 whose message echoes the bearer token, as some providers do, so tests
  can check that the key never reaches an error.

Like a real server it counts tokens (`tokens`, about four characters a token) and bills them in
``usage``; with ``context_tokens`` it refuses a prompt that does not fit with llama.cpp's HTTP 400
(``type: exceed_context_size_error``, ``n_prompt_tokens``, ``n_ctx``); it honours
``max_completion_tokens`` (or ``max_tokens``) and the room the context leaves, cutting a longer
reply with ``finish_reason: "length"``.

Provider limits: with ``requests_per_minute`` and/or ``tokens_per_minute`` it enforces them like a
provider (`rate_limits`): a request that does not fit (its tokens are those its reply reports in
``usage``) is answered 429 with ``Retry-After`` and ``x-ratelimit-*`` headers, and is not charged.
``.accepted`` logs every request that was charged (time, tokens); ``.stats()`` counts requests,
answers, 429s and billed tokens.

Every request is logged in ``.requests`` (path, lower-cased headers, parsed JSON body, the mode
that answered). Standalone: ``python -m operator_tools.fakes.openai_server --port 0 --mode
good`` prints the base URL on its first line and serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from types import FrameType
from typing import Any, ClassVar

from operator_tools.fakes.rate_limits import Accepted, ProviderLimits
from operator_tools.fakes.replies import (
    INVENTED_QUOTES,
    ContractReplies,
    chat_completion,
    contract_pages,
    looping_reply,
    plainest_value,
)
from operator_tools.fakes.served import JsonHandler, ServedFake
from operator_tools.fakes.tokens import count_tokens, first_tokens, prompt_tokens

__all__ = [
    "INVENTED_QUOTES",
    "MODES",
    "Accepted",
    "FakeOpenAIServer",
    "ProviderStats",
    "RecordedRequest",
    "contract_pages",
    "plainest_value",
]

MODES = (
    "good",
    "plain",
    "malformed_json",
    "schema_violation",
    "bad_quotes",
    "mixed_quotes",
    "loop",
    "rate_limited",
    "server_error",
    "no_json_schema",
    "no_schema_bounds",
    "hang",
    "unauthorized",
)
_PATHS = ("/v1/chat/completions", "/chat/completions")
# What llama.cpp's llama-server answers for a prompt longer than its context (HTTP 400).
CONTEXT_EXCEEDED_TYPE = "exceed_context_size_error"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    mode: str

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


@dataclass
class ProviderStats:
    """What the server saw since the last `reset`; tokens are those billed in ``usage``."""

    requests: int = 0
    answered: int = 0
    rate_limited: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "tokens": self.tokens}


class _Handler(JsonHandler):
    owner: FakeOpenAIServer
    error_bodies: ClassVar[dict[str, tuple[int, str, str]]] = {
        "rate_limited": (429, "rate_limit_exceeded", "Rate limit reached; try again later."),
        "server_error": (500, "server_error", "The server had an error processing the request."),
    }

    def do_POST(self) -> None:
        fake = self.owner
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        mode = fake._next_mode()
        fake._record(
            RecordedRequest(
                method="POST",
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                mode=mode,
            )
        )
        if self.path.split("?", 1)[0] not in _PATHS:
            self._error(404, "not_found", f"Unknown path {self.path}")
            return
        self._answer(mode, body)

    def _answer(self, mode: str, body: Any) -> None:
        fake = self.owner
        if mode == "hang":
            fake._stopping.wait(fake.hang_seconds)
            self.close_connection = True
            return
        if mode == "unauthorized":
            token = (self.headers.get("authorization") or "").removeprefix("Bearer ")
            self._error(401, "invalid_api_key", f"Incorrect API key provided: {token}.")
            return
        if mode in self.error_bodies:
            if fake.latency_seconds and fake._stopping.wait(fake.latency_seconds):
                return
            status, code, message = self.error_bodies[mode]
            headers = {"Retry-After": fake.retry_after} if status == 429 else {}
            self._error(status, code, message, headers)
            return
        if mode == "no_json_schema" and _asks_json_schema(body):
            self._send(
                500,
                {
                    "error": {
                        "code": 500,
                        "message": 'response_format type must be one of "text" or "json_object",'
                        " but got: json_schema",
                        "type": "server_error",
                    }
                },
            )
            return
        if mode == "no_schema_bounds" and '"maxLength"' in json.dumps(body):
            self._error(
                400,
                "invalid_json_schema",
                f"Invalid schema for response_format '{_schema_name(body)}': In context=(), "
                "'maxLength' is not permitted.",
            )
            return
        try:
            replies = ContractReplies(body)
        except (KeyError, TypeError, StopIteration):
            self._error(400, "invalid_request", "this fake needs messages and a json_schema")
            return
        prompt = prompt_tokens(body.get("messages"))
        if fake.context_tokens is not None and prompt >= fake.context_tokens:
            self._send(400, _context_exceeded(prompt, fake.context_tokens))
            return
        content = self._content(mode, replies)
        content, completion, finish_reason = self._bounded(body, content, prompt)
        wait = fake._limits.charge(prompt + completion)
        if wait > 0:
            fake._count(rate_limited=1)
            retry = str(max(1, math.ceil(wait)))
            self._error(
                429,
                "rate_limit_exceeded",
                "Rate limit reached.",
                {"Retry-After": retry, **fake._limits.headers()},
            )
            return
        fake._charged(prompt + completion)
        if fake.latency_seconds and fake._stopping.wait(fake.latency_seconds):
            return
        fake._count(answered=1, prompt_tokens=prompt, completion_tokens=completion)
        reply = chat_completion(
            f"chatcmpl-fake-{fake.request_count}",
            body.get("model", "fake-model"),
            content,
            prompt,
            completion,
            finish_reason,
        )
        self._send(200, reply, fake._limits.headers())

    def _content(self, mode: str, replies: ContractReplies) -> str:
        if mode == "malformed_json":
            return '{"parties": [{"name": "Unterminated'
        if mode == "loop":
            return looping_reply(self.owner.loop_tokens, replies.schema)
        builder = {
            "plain": replies.plain,
            "bad_quotes": replies.bad_quotes,
            "mixed_quotes": replies.mixed_quotes,
            "schema_violation": replies.schema_violation,
        }
        return json.dumps(builder.get(mode, replies.good)())

    def _bounded(self, body: dict[str, Any], content: str, prompt: int) -> tuple[str, int, str]:
        """The reply within ``max_completion_tokens`` and the context: (content, tokens, reason)."""
        limits = [
            value
            for value in (body.get("max_completion_tokens"), body.get("max_tokens"))
            if isinstance(value, int) and value > 0
        ]
        if self.owner.context_tokens is not None:
            limits.append(self.owner.context_tokens - prompt)
        tokens = count_tokens(content)
        limit = min(limits, default=tokens)
        if tokens <= limit:
            return content, max(tokens, 1), "stop"
        return first_tokens(content, limit), limit, "length"

    def _error(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        error_type = "invalid_request_error" if status < 500 else "server_error"
        payload = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
        self._send(status, payload, headers)


def _asks_json_schema(body: Any) -> bool:
    return (
        isinstance(body, dict) and (body.get("response_format") or {}).get("type") == "json_schema"
    )


def _schema_name(body: Any) -> str:
    asked = body.get("response_format") if isinstance(body, dict) else None
    named = asked.get("json_schema") if isinstance(asked, dict) else None
    return str(named.get("name", "")) if isinstance(named, dict) else ""


def _context_exceeded(prompt: int, context: int) -> dict[str, Any]:
    """llama-server's own answer to a prompt longer than its context."""
    return {
        "error": {
            "code": 400,
            "message": "the request exceeds the available context size, try increasing it",
            "type": CONTEXT_EXCEEDED_TYPE,
            "n_prompt_tokens": prompt,
            "n_ctx": context,
        }
    }


class FakeOpenAIServer(ServedFake):
    """The fake as a context manager; see the module docstring for modes and logging."""

    handler = _Handler
    thread_name = "fake-openai-server"

    def __init__(
        self,
        mode: str = "good",
        *,
        latency_seconds: float = 0.0,
        hang_seconds: float = 60.0,
        retry_after: str = "1",
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        burst_seconds: float = 60.0,
        context_tokens: int | None = None,
        loop_tokens: int = 100_000,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__((host, port))
        self.mode = mode
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self._limits = ProviderLimits(requests_per_minute, tokens_per_minute, burst_seconds)
        self.latency_seconds = latency_seconds
        self.hang_seconds = hang_seconds
        self.retry_after = retry_after
        self.context_tokens = context_tokens
        self.loop_tokens = loop_tokens
        self._lock = threading.Lock()
        self._script: deque[str] = deque()
        self._requests: list[RecordedRequest] = []
        self._accepted: list[Accepted] = []
        self._stats = ProviderStats()

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"unknown mode {value!r}; choose from {', '.join(MODES)}")
        self._mode = value

    def script(self, modes: Iterable[str]) -> None:
        """Answer the next requests with these modes, one each, then fall back to ``.mode``."""
        queued = list(modes)
        for mode in queued:
            if mode not in MODES:
                raise ValueError(f"unknown mode {mode!r}")
        with self._lock:
            self._script.extend(queued)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    def reset(self) -> None:
        """Forget requests, script, charges and counts (the limits' buckets keep their level)."""
        with self._lock:
            self._requests.clear()
            self._script.clear()
            self._accepted.clear()
            self._stats = ProviderStats()

    def stats(self) -> ProviderStats:
        with self._lock:
            return ProviderStats(**vars(self._stats))

    @property
    def accepted(self) -> list[Accepted]:
        """Requests charged against the limits (all answered requests)."""
        with self._lock:
            return list(self._accepted)

    @property
    def refused(self) -> int:
        """429s sent because a request or token limit was exceeded."""
        return self.stats().rate_limited

    def _charged(self, tokens: int) -> None:
        with self._lock:
            self._accepted.append(Accepted(time.monotonic(), tokens))

    def _count(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self._stats, name, getattr(self._stats, name) + value)

    def _next_mode(self) -> str:
        with self._lock:
            return self._script.popleft() if self._script else self._mode

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            self._stats.requests += 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake OpenAI chat-completions server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--mode", choices=MODES, default="good")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument("--rpm", type=float, help="requests per minute to allow (429 beyond)")
    parser.add_argument("--tpm", type=float, help="tokens per minute to allow (429 beyond)")
    parser.add_argument("--context", type=int, help="context size in tokens (400 beyond)")
    args = parser.parse_args(argv)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with FakeOpenAIServer(
        args.mode,
        latency_seconds=args.latency,
        requests_per_minute=args.rpm,
        tokens_per_minute=args.tpm,
        context_tokens=args.context,
        host=args.host,
        port=args.port,
    ) as server:
        print(server.base_url, flush=True)
        while not stop.wait(0.2):
            pass


if __name__ == "__main__":
    main()
