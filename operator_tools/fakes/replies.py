"""What the fake server answers: replies built from the request's own schema and contract.

Every reply is JSON the request's ``response_format`` schema accepts. ``good`` quotes real
sentences of the contract from the user message (governing law, assignment, insurance,
termination, confidentiality) with the page of the ``[page N]`` marker they follow; the other
builders spoil that answer in one way each (invented quotes, schema violations).
`plainest_value` is the simplest answer a schema accepts, for load tests that need any valid one.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

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
    completion_id: str,
    model: str,
    content: str,
    prompt_tokens: int,
    completion_tokens: int,
    finish_reason: str = "stop",
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
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


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
    if not markers:
        return []
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


class ContractReplies:
    """The answers of each mode, built for one request body from its schema and its contract."""

    def __init__(self, body: dict[str, Any]) -> None:
        asked = body["response_format"]
        # json_schema carries the schema inside; llama-cpp-python's json_object beside the type.
        self.schema: dict[str, Any] = (
            asked["json_schema"]["schema"] if "json_schema" in asked else asked["schema"]
        )
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

    def plain(self) -> dict[str, Any]:
        """The plainest valid answer, summarised: what the load test's provider says."""
        answer = plainest_value(self.schema, self.defs)
        if isinstance(answer, dict) and "summary" in answer:
            answer["summary"] = "A load-test answer."
        return answer  # type: ignore[no-any-return]

    def schema_violation(self) -> dict[str, Any]:
        answer = self.good()
        answer["findings"] = "none found"
        answer.pop("summary", None)
        answer["unexpected_field"] = True
        return answer


_UNBOUNDED = object()
# What the looping model repeats inside every string it is not stopped in.
_LOOPED_WORDS = "the Company shall "


def _longest_value(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """The longest value `schema` admits, written as a looping model would: every array at its
    ``maxItems``, every string its ``maxLength`` of the same words, every nullable its object.
    `_UNBOUNDED` when some array or string has no bound (the loop would never end)."""
    schema = _resolve(schema, defs)
    if "enum" in schema:
        return max(schema["enum"], key=lambda value: len(json.dumps(value)))
    options = schema.get("anyOf")
    if options:
        values = [_longest_value(option, defs) for option in options]
        if any(value is _UNBOUNDED for value in values):
            return _UNBOUNDED
        return max(values, key=lambda value: len(json.dumps(value)))
    kind = schema.get("type")
    if kind == "object":
        answer = {}
        for name, sub in schema.get("properties", {}).items():
            answer[name] = _longest_value(sub, defs)
            if answer[name] is _UNBOUNDED:
                return _UNBOUNDED
        return answer
    if kind == "array":
        item = _longest_value(schema.get("items", {}), defs)
        if "maxItems" not in schema or item is _UNBOUNDED:
            return _UNBOUNDED
        return [item] * schema["maxItems"]
    if kind == "string":
        if "maxLength" not in schema:
            return _UNBOUNDED
        length = schema["maxLength"]
        return (_LOOPED_WORDS * (length // len(_LOOPED_WORDS) + 1))[:length]
    if kind == "integer":
        return schema.get("maximum", schema.get("minimum", 0))
    return plainest_value(schema, defs)


def looping_reply(tokens: int, schema: dict[str, Any] | None = None) -> str:
    """What a small model stuck in a loop writes under the request's schema.

    When the schema bounds every array and string (as a grammar-constrained server enforces
    them), the loop fills each to its bound and the JSON closes: the longest reply the schema
    admits. Otherwise it is the same party again, never closed, long enough for `tokens` of the
    fake tokenizer; the server cuts it at the reply's limit.
    """
    if schema is not None:
        longest = _longest_value(schema, schema.get("$defs", {}))
        if longest is not _UNBOUNDED:
            return json.dumps(longest, indent=1)
    item = '{"name": "The Company", "role": "party"}, '
    return '{"parties": [' + item * (tokens // 8 + 1)
