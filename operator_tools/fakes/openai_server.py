"""A real OpenAI-compatible HTTP server for tests: ``POST /v1/chat/completions`` on 127.0.0.1.

It is a fake of the one call Charmelio makes, answered over real HTTP so the real `openai` client,
its timeouts and its error classes are exercised. ``base_url`` ends in ``/v1`` like OpenAI's; the
server also answers ``/chat/completions`` for clients configured with a base URL without ``/v1``.

Modes (set ``.mode``, or queue one per request with ``.script([...])``):

- ``good``: a JSON reply that matches the request's ``response_format`` schema, quoting real
  sentences of the contract (governing law, assignment, insurance, termination, confidentiality)
  verbatim from the user message, with the page of the ``[page N]`` marker they follow.
- ``malformed_json``: HTTP 200 whose message content is truncated JSON.
- ``schema_violation``: HTTP 200 with valid JSON that breaks the schema.
- ``bad_quotes``: like ``good`` but every quote is invented (not in the contract).
- ``mixed_quotes``: the ``good`` reply plus one finding per invented quote.
- ``rate_limited``: HTTP 429 with ``Retry-After: 1`` (see ``retry_after``).
- ``server_error``: HTTP 500.
- ``hang``: no reply for ``hang_seconds`` (longer than any client timeout in the tests); shutting
  the server down releases it at once.
- ``unauthorized``: HTTP 401 whose message echoes the bearer token, as some providers do, so tests
  can check that the key never reaches an error.

Provider limits: with ``requests_per_minute`` and/or ``tokens_per_minute`` the server enforces
them like a provider, as token buckets holding one minute's allowance and refilled continuously.
A request that does not fit (its tokens are those its reply reports in ``usage``) is answered 429
with a ``Retry-After`` of the seconds until it would fit, and is not charged. ``.accepted`` logs
every request that was charged (time, tokens); ``.refused`` counts the 429s.

Every request is logged in ``.requests`` (path, lower-cased headers, parsed JSON body, the mode
that answered). Standalone: ``python -m operator_tools.fakes.openai_server --port 0 --mode
good`` prints the base URL on its first line and serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from types import FrameType
from typing import Any, ClassVar

from operator_tools.fakes.provider import (
    JsonHandler,
    ServedFake,
    chat_completion,
    plainest_value,
)

MODES = (
    "good",
    "malformed_json",
    "schema_violation",
    "bad_quotes",
    "mixed_quotes",
    "rate_limited",
    "server_error",
    "hang",
    "unauthorized",
)
_PATHS = ("/v1/chat/completions", "/chat/completions")
_PAGE_MARKER = re.compile(r"^\[page (\d+)\]$", re.MULTILINE)
_CONTRACT = re.compile(r"<(contract-[0-9a-f]+)>\n(?P<body>.*)\n</\1>", re.DOTALL)
_SENTENCE = re.compile(r"[^.;\n]*(?:\n(?!\n)[^.;\n]*)*[.;]")
_GOVERNING_STATE = re.compile(
    r"laws\s+of\s+(?:the\s+)?(?:(?:state|commonwealth|province)\s+of\s+)?"
    r"(?P<name>(?-i:[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*))",
    re.IGNORECASE,
)
_PARTIES = re.compile(
    r"between\s+(?P<a>[A-Z][^,(\n]{2,80}?)\s*[,(].{0,400}?\band\s+(?P<b>[A-Z][^,(\n]{2,80}?)\s*[,(]",
    re.DOTALL,
)
INVENTED_QUOTES = (
    "This Agreement shall be governed by the laws of the Kingdom of Atlantis.",
    "Either party may terminate this Agreement by sending a carrier pigeon.",
    "All Confidential Information shall be written in invisible ink.",
)


class _Bucket:
    """A provider-style limit: `per_minute` units, refilled continuously, holding at most
    `burst_seconds` of refill (a minute, as providers allow, unless a test wants it stricter)."""

    def __init__(self, per_minute: float, burst_seconds: float = 60.0) -> None:
        self.rate = per_minute / 60.0
        self.capacity = self.rate * burst_seconds
        self.level = self.capacity
        self.updated = time.monotonic()

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` fits (0 when it fits now); call `refill` first."""
        return max(0.0, (amount - self.level) / self.rate)


@dataclass(frozen=True)
class Accepted:
    at: float  # time.monotonic() when the request was charged
    tokens: int


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


# --- the replies -------------------------------------------------------------------------------


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        resolved: dict[str, Any] = defs[ref.rsplit("/", 1)[-1]]
        return resolved
    return schema


def _non_null(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    schema = _resolve(schema, defs)
    for option in schema.get("anyOf", []):
        option = _resolve(option, defs)
        if option.get("type") != "null":
            return option
    return schema


def contract_pages(user_message: str) -> list[tuple[int, str]]:
    """The page texts between the contract delimiters, split at the ``[page N]`` markers."""
    found = _CONTRACT.search(user_message)
    body = found.group("body") if found else user_message
    markers = list(_PAGE_MARKER.finditer(body))
    pages = []
    for marker, following in zip(markers, [*markers[1:], None], strict=True):
        end = following.start() if following else len(body)
        pages.append((int(marker.group(1)), body[marker.end() + 1 : end].rstrip("\n")))
    return pages


def _first_sentence(pages: list[tuple[int, str]], *cues: str) -> tuple[str, int] | None:
    for number, text in pages:
        for match in _SENTENCE.finditer(text):
            sentence = match.group().strip()
            if len(sentence) > 20 and any(cue in sentence.lower() for cue in cues):
                return sentence, number
    return None


class _Replies:
    """Builds message contents for one request body."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.schema: dict[str, Any] = body["response_format"]["json_schema"]["schema"]
        self.defs: dict[str, Any] = self.schema.get("$defs", {})
        self.properties: dict[str, Any] = self.schema.get("properties", {})
        user = next(m["content"] for m in body["messages"] if m.get("role") == "user")
        self.pages = contract_pages(user if isinstance(user, str) else json.dumps(user))

    def _item(self, schema: dict[str, Any], **values: Any) -> dict[str, Any]:
        target = _non_null(schema, self.defs)
        item: dict[str, Any] = plainest_value(target, self.defs)
        item.update({k: v for k, v in values.items() if k in target.get("properties", {})})
        return item

    def good(self) -> dict[str, Any]:
        answer: dict[str, Any] = plainest_value(self.schema, self.defs)
        findings_schema = self.properties.get("findings", {}).get("items")
        categories = set(
            _resolve(findings_schema or {}, self.defs)
            .get("properties", {})
            .get("category", {})
            .get("enum", [])
        )
        findings = []
        for category, cues in (
            ("Governing Law", ("governed by", "construed in accordance")),
            ("Anti-Assignment", ("assign",)),
            ("Insurance", ("insurance",)),
        ):
            found = _first_sentence(self.pages, *cues)
            if found and findings_schema and category in categories:
                quote, page = found
                findings.append(
                    self._item(
                        findings_schema, category=category, quote=quote, page=page, confidence=0.9
                    )
                )
        if "findings" in answer:
            answer["findings"] = findings
        governing = _first_sentence(self.pages, "governed by", "construed in accordance")
        state = _GOVERNING_STATE.search(governing[0]) if governing else None
        if "governing_law" in answer and state:
            answer["governing_law"] = " ".join(state.group("name").split())
        for topic, cues in (("termination", ("terminat",)), ("confidentiality", ("confiden",))):
            found = _first_sentence(self.pages, *cues)
            if found and topic in self.properties:
                quote, page = found
                answer[topic] = self._item(
                    self.properties[topic],
                    summary=f"The contract's {topic} clause.",
                    quote=quote,
                    page=page,
                    confidence=0.8,
                )
        parties = _PARTIES.search(self.pages[0][1][:3000]) if self.pages else None
        party_items = self.properties.get("parties", {}).get("items")
        if parties and party_items and "parties" in answer:
            answer["parties"] = [
                self._item(party_items, name=" ".join(parties.group(g).split()), role=None)
                for g in ("a", "b")
            ]
        if "summary" in answer:
            answer["summary"] = f"A contract of {len(self.pages)} pages (fake extraction)."
        if "confidence" in answer:
            answer["confidence"] = 0.8
        return answer

    def bad_quotes(self) -> dict[str, Any]:
        answer = self.good()
        for index, finding in enumerate(answer.get("findings") or []):
            finding["quote"] = INVENTED_QUOTES[index % len(INVENTED_QUOTES)]
        if not answer.get("findings") and "findings" in answer:
            items = self.properties["findings"]["items"]
            answer["findings"] = [
                self._item(items, category="Governing Law", quote=q, page=1, confidence=0.9)
                for q in INVENTED_QUOTES
            ]
        for topic in ("termination", "confidentiality"):
            if answer.get(topic):
                answer[topic]["quote"] = INVENTED_QUOTES[1]
        return answer

    def mixed_quotes(self) -> dict[str, Any]:
        answer = self.good()
        items = self.properties.get("findings", {}).get("items")
        if items and isinstance(answer.get("findings"), list):
            answer["findings"] += [
                self._item(items, category="Insurance", quote=quote, page=1, confidence=0.9)
                for quote in INVENTED_QUOTES
            ]
        return answer

    def schema_violation(self) -> dict[str, Any]:
        answer = self.good()
        answer["findings"] = "none found"
        answer.pop("summary", None)
        answer["unexpected_field"] = True
        return answer


# --- the server --------------------------------------------------------------------------------


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
        try:
            replies = _Replies(body)
        except (KeyError, TypeError, StopIteration):
            self._error(400, "invalid_request", "this fake needs messages and a json_schema")
            return
        if mode == "malformed_json":
            content = '{"parties": [{"name": "Unterminated'
        else:
            builder = {
                "bad_quotes": replies.bad_quotes,
                "mixed_quotes": replies.mixed_quotes,
                "schema_violation": replies.schema_violation,
            }
            content = json.dumps(builder.get(mode, replies.good)())
        prompt_tokens = max(1, len(json.dumps(body.get("messages", ""))) // 4)
        completion_tokens = max(1, len(content) // 4)
        wait = fake._charge(prompt_tokens + completion_tokens)
        if wait > 0:
            retry = str(max(1, math.ceil(wait)))
            self._error(429, "rate_limit_exceeded", "Rate limit reached.", {"Retry-After": retry})
            return
        if fake.latency_seconds and fake._stopping.wait(fake.latency_seconds):
            return
        self._completion(body, content, prompt_tokens, completion_tokens)

    def _completion(
        self, body: dict[str, Any], content: str, prompt_tokens: int, completion_tokens: int
    ) -> None:
        reply = chat_completion(
            f"chatcmpl-fake-{self.owner.request_count}",
            body.get("model", "fake-model"),
            content,
            prompt_tokens,
            completion_tokens,
        )
        self._send(200, reply)

    def _error(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        error_type = "invalid_request_error" if status < 500 else "server_error"
        payload = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
        self._send(status, payload, headers)


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
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__((host, port))
        self.mode = mode
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self._request_bucket = (
            _Bucket(requests_per_minute, burst_seconds) if requests_per_minute else None
        )
        self._token_bucket = (
            _Bucket(tokens_per_minute, burst_seconds) if tokens_per_minute else None
        )
        self._accepted: list[Accepted] = []
        self._refused = 0
        self.latency_seconds = latency_seconds
        self.hang_seconds = hang_seconds
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._script: deque[str] = deque()
        self._requests: list[RecordedRequest] = []

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
        with self._lock:
            self._requests.clear()
            self._script.clear()
            self._accepted.clear()
            self._refused = 0

    @property
    def accepted(self) -> list[Accepted]:
        """Requests charged against the limits (all good replies when no limit is set)."""
        with self._lock:
            return list(self._accepted)

    @property
    def refused(self) -> int:
        """429s sent because a request or token limit was exceeded."""
        with self._lock:
            return self._refused

    def _charge(self, tokens: int) -> float:
        """Charge one request of `tokens`; 0 when accepted, else seconds until it would fit."""
        with self._lock:
            now = time.monotonic()
            waits = []
            for bucket, amount in ((self._request_bucket, 1), (self._token_bucket, tokens)):
                if bucket is not None:
                    bucket.refill(now)
                    waits.append(bucket.wait_for(amount))
            wait = max(waits, default=0.0)
            if wait > 0:
                self._refused += 1
                return wait
            if self._request_bucket is not None:
                self._request_bucket.level -= 1
            if self._token_bucket is not None:
                self._token_bucket.level -= tokens
            self._accepted.append(Accepted(now, tokens))
            return 0.0

    def _next_mode(self) -> str:
        with self._lock:
            return self._script.popleft() if self._script else self._mode

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake OpenAI chat-completions server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--mode", choices=MODES, default="good")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument("--rpm", type=float, help="requests per minute to allow (429 beyond)")
    parser.add_argument("--tpm", type=float, help="tokens per minute to allow (429 beyond)")
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
        host=args.host,
        port=args.port,
    ) as server:
        print(server.base_url, flush=True)
        while not stop.wait(0.2):
            pass


if __name__ == "__main__":
    main()
