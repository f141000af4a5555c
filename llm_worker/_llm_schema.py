"""What the LLM must return, as a pydantic model, and its JSON schema in OpenAI's strict form.

Strict structured outputs (``"strict": true``) make the provider constrain decoding to the schema,
but only accept a subset of JSON Schema: every property listed in ``required`` (optional values are
``null`` unions instead), ``additionalProperties: false`` on every object, no ``default``, no
``format``, no length or range bounds, and no keywords beside ``$ref``. `strict_json_schema`
rewrites pydantic's schema into that subset, so the model below stays the single source of truth.
The reply is still validated against the model: a provider can ignore ``strict``.

`bounded_json_schema` adds what OpenAI's strict mode refuses but a grammar-constrained server
(llama.cpp's llama-server, Ollama) honours: ``maxItems`` on every array, ``maxLength`` on every
string, and the pages of the chunk and the tenths 0 to 1 as the only values of ``page`` and
``confidence``. Such a server turns the schema into a grammar, so the longest JSON it can write
is the longest JSON the schema admits, and `SchemaBounds.for_reply` sizes that to the reply
budget: a small model that loops inside the JSON (the same party again and again, a quote that
never ends) is forced to close it before the budget cuts it off. A quote cut at its bound is a
shorter run of the contract's own words, so it still verifies when the model copied it exactly.
Whitespace is the one thing a schema cannot bound (llama.cpp's grammar allows 22 characters in
every gap): the estimate counts the blank line SmolLM2 writes there, not a model that fills every
gap (see `_Extent`).
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from openai.types.shared_params import ResponseFormatJSONSchema
from pydantic import BaseModel, ConfigDict, Field

from charmelio.contract import CuadCategory

SCHEMA_NAME = "contract_extraction"

_UNSUPPORTED_KEYWORDS = frozenset(
    {
        "default",
        "format",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "patternProperties",
        "title",
    }
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LLMParty(_Strict):
    name: str = Field(description="The party's name as written in the contract")
    role: str | None = Field(description="Its role, e.g. Licensor, Supplier; null if none")


class LLMFinding(_Strict):
    category: CuadCategory
    quote: str = Field(description="Exact contiguous words copied from the contract")
    page: int = Field(description="N of the nearest [page N] marker before the quote")
    confidence: float = Field(description="0 to 1")


class LLMTopic(_Strict):
    summary: str = Field(description="One sentence in your own words")
    quote: str = Field(description="Exact contiguous words copied from the contract")
    page: int = Field(description="N of the nearest [page N] marker before the quote")
    confidence: float = Field(description="0 to 1")


class LLMExtraction(_Strict):
    parties: list[LLMParty]
    effective_date: str | None = Field(description="YYYY-MM-DD, or null")
    termination_date: str | None = Field(description="YYYY-MM-DD when the term ends, or null")
    term_length: str | None = Field(description='e.g. "five (5) years", or null')
    governing_law: str | None = Field(description='Jurisdiction only, e.g. "Delaware", or null')
    termination: LLMTopic | None
    confidentiality: LLMTopic | None
    indemnification: LLMTopic | None
    limitation_of_liability: LLMTopic | None
    dispute_resolution: LLMTopic | None
    payment_terms: LLMTopic | None
    intellectual_property: LLMTopic | None
    findings: list[LLMFinding]
    summary: str = Field(description="Two or three sentences on what the contract is")
    confidence: float = Field(description="0 to 1: how sure you are of the whole extraction")


def _strict(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_strict(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and len(node) > 1:
        # Strict mode rejects keywords beside "$ref", so the target is inlined instead.
        target = defs[ref.rsplit("/", 1)[-1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in _UNSUPPORTED_KEYWORDS:
            continue
        if key in ("properties", "$defs"):
            result[key] = {name: _strict(sub, defs) for name, sub in value.items()}
        else:
            result[key] = _strict(value, defs)
    if result.get("type") == "object":
        if isinstance(result.get("additionalProperties"), dict):
            raise ValueError("strict schemas cannot describe free-form maps (dict fields)")
        result.setdefault("properties", {})
        result["required"] = list(result["properties"])
        result["additionalProperties"] = False
    return result


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    converted: dict[str, Any] = _strict(schema, schema.get("$defs", {}))
    return converted


def _schema(bounds: SchemaBounds | None) -> dict[str, Any]:
    if bounds is None:
        return strict_json_schema(LLMExtraction)
    return bounded_json_schema(LLMExtraction, bounds)


def response_format(bounds: SchemaBounds | None = None) -> ResponseFormatJSONSchema:
    """The chat-completions ``response_format`` asking for `LLMExtraction` in strict mode, with
    ``bounds`` when given (for servers that honour them; OpenAI's strict mode refuses them)."""
    return {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": _schema(bounds)},
    }


def json_object_format(bounds: SchemaBounds | None = None) -> dict[str, Any]:
    """``response_format`` for servers without ``json_schema`` (llama-cpp-python's): JSON mode,
    with the schema beside it for the servers that turn it into a grammar. The reply is validated
    against `LLMExtraction` either way."""
    return {"type": "json_object", "schema": _schema(bounds)}


# What a bounded schema offers for a confidence: tenths, three characters each (a free "number"
# in llama.cpp's grammar may run to fifty digits).
CONFIDENCE_STEPS = tuple(step / 10 for step in range(11))
# Each string's share of the text a reply has room for (its maxLength is share x unit). A quote
# is the evidence, so it gets the most; a name is a few words, a term or a jurisdiction fewer
# ("five (5) years", "the State of New York"), a role one or two.
_STRING_SHARES = {
    ("LLMParty", "name"): 3.0,
    ("LLMParty", "role"): 1.0,
    ("LLMFinding", "quote"): 6.0,
    ("LLMTopic", "summary"): 3.0,
    ("LLMTopic", "quote"): 6.0,
    ("LLMExtraction", "term_length"): 1.5,
    ("LLMExtraction", "governing_law"): 1.5,
    ("LLMExtraction", "summary"): 4.0,
}
# Strings whose format fixes their length: YYYY-MM-DD.
_FIXED_LENGTHS = {
    ("LLMExtraction", "effective_date"): 10,
    ("LLMExtraction", "termination_date"): 10,
}
# Arrays: one item per this many reply tokens, between one and the most any contract needs (a
# chunk of a long contract is read by its own request, so the findings cap is per chunk).
_ARRAY_SLOTS = {("LLMExtraction", "parties"): (512, 8), ("LLMExtraction", "findings"): (256, 64)}


@dataclass(frozen=True)
class SchemaBounds:
    """Array sizes, string lengths and the page range of one bounded reply schema."""

    items: tuple[tuple[tuple[str, str], int], ...]
    lengths: tuple[tuple[tuple[str, str], int], ...]
    first_page: int
    last_page: int

    @classmethod
    def for_reply(
        cls, reply_tokens: int, chars_per_token: float, pages: tuple[int, int] = (1, 9_999)
    ) -> SchemaBounds:
        """The longest strings for which the longest admitted reply fits ``reply_tokens``.

        Array sizes follow the budget (`_ARRAY_SLOTS`), fewer when even one-character strings
        would not fit; every string then gets its share of the room left, the largest unit for
        which `worst_case_tokens` stays within the budget. A budget too small for one item of
        each array with one-character strings gets those (the smallest bounds).
        """
        return _bounds_for(reply_tokens, round(chars_per_token, 3), pages)

    def at(self, unit: float) -> SchemaBounds:
        lengths = tuple(
            (key, max(1, math.floor(share * unit))) for key, share in _STRING_SHARES.items()
        )
        return SchemaBounds(self.items, lengths, self.first_page, self.last_page)

    def item_limit(self, key: tuple[str, str]) -> int | None:
        return dict(self.items).get(key)

    def length_limit(self, key: tuple[str, str]) -> int | None:
        return dict(self.lengths).get(key) or _FIXED_LENGTHS.get(key)


@lru_cache(maxsize=256)
def _bounds_for(reply_tokens: int, chars_per_token: float, pages: tuple[int, int]) -> SchemaBounds:
    counts = {
        key: min(most, max(1, reply_tokens // slot)) for key, (slot, most) in _ARRAY_SLOTS.items()
    }

    def fits(bounds: SchemaBounds) -> bool:
        schema = bounded_json_schema(LLMExtraction, bounds)
        return worst_case_tokens(schema, chars_per_token) <= reply_tokens

    def start() -> SchemaBounds:
        return SchemaBounds(tuple(counts.items()), (), pages[0], max(pages))

    # A small budget first gives up array items (findings first: the topics still say a lot).
    for key in reversed(_ARRAY_SLOTS):
        while counts[key] > 1 and not fits(start().at(0)):
            counts[key] -= 1
    low, high = 0.0, 1.0
    while fits(start().at(high)) and high < 1e6:
        low, high = high, high * 2
    for _ in range(30):
        middle = (low + high) / 2
        low, high = (middle, high) if fits(start().at(middle)) else (low, middle)
    return start().at(low)


def _bound(node: Any, model: str, name: str, bounds: SchemaBounds) -> Any:
    """One property's schema with its bounds; a string or array without one is a mistake here."""
    if isinstance(node.get("anyOf"), list):
        return {
            **node,
            "anyOf": [
                option
                if option.get("type") == "null" or "$ref" in option
                else _bound(option, model, name, bounds)
                for option in node["anyOf"]
            ],
        }
    kind = node.get("type")
    key = (model, name)
    if kind == "array":
        limit = bounds.item_limit(key)
        if limit is None:
            raise ValueError(f"no maxItems for {model}.{name}")
        return {**node, "maxItems": limit}
    if kind == "string" and "enum" not in node:
        length = bounds.length_limit(key)
        if length is None:
            raise ValueError(f"no maxLength for {model}.{name}")
        return {**node, "maxLength": length}
    # Pages and confidences are offered as quoted strings (validation reads "5" as 5): where the
    # grammar forbade the quote a small model wanted to write, SmolLM2 wrote the 20 tabs of
    # whitespace the grammar allows in every gap before each number instead.
    if kind == "integer" and name == "page":
        first, last = bounds.first_page, bounds.last_page
        return {**_described(node), "enum": [str(page) for page in range(first, last + 1)]}
    if kind == "number" and name == "confidence":
        return {**_described(node), "enum": [f"{step:.1f}" for step in CONFIDENCE_STEPS]}
    if kind in ("integer", "number"):
        raise ValueError(f"no range for {model}.{name}")
    return node


def _described(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "string",
        **({"description": node["description"]} if "description" in node else {}),
    }


def bounded_json_schema(model: type[BaseModel], bounds: SchemaBounds) -> dict[str, Any]:
    """`strict_json_schema` with every array, string and number bounded (see the module)."""
    schema = copy.deepcopy(strict_json_schema(model))
    objects = [(model.__name__, schema), *schema.get("$defs", {}).items()]
    for name, node in objects:
        node["properties"] = {
            prop: _bound(sub, name, prop, bounds) for prop, sub in node["properties"].items()
        }
    return schema


@dataclass(frozen=True)
class _Extent:
    """The longest value of a schema node, as three counts the tokenizer treats differently:
    ``words``, the characters of strings, keys and enum values (the calibrated rate); ``marks``,
    the tokens of punctuation, digits and null, one each; and ``gaps``, the places the grammar
    lets the model write whitespace: after a "{" or "[", and after each key, ":", value and ",".
    SmolLM2 under llama-server writes a blank line in every gap, which costs its own token and
    keeps each mark from merging with its neighbour ('"', ':', '"' instead of '":"')."""

    words: int = 0
    marks: int = 0
    gaps: int = 0

    def __add__(self, other: _Extent) -> _Extent:
        return _Extent(self.words + other.words, self.marks + other.marks, self.gaps + other.gaps)

    def times(self, count: int) -> _Extent:
        return _Extent(self.words * count, self.marks * count, self.gaps * count)


def _literal(value: Any) -> _Extent:
    if isinstance(value, str):
        letters = sum(1 for char in value if char.isalpha())
        return _Extent(words=letters, marks=2 + len(value) - letters)
    return _Extent(marks=len(json.dumps(value)) if isinstance(value, int | float) else 1)


def _longest(node: dict[str, Any], defs: dict[str, Any]) -> _Extent | None:
    """The longest value `node` admits; None when it admits values of any length."""
    ref = node.get("$ref")
    if isinstance(ref, str):
        return _longest(defs[ref.rsplit("/", 1)[-1]], defs)
    if "enum" in node:
        return max((_literal(value) for value in node["enum"]), key=_cost)
    if isinstance(node.get("anyOf"), list):
        options = [_longest(option, defs) for option in node["anyOf"]]
        bounded = [option for option in options if option is not None]
        if len(bounded) < len(options):
            return None
        return max(bounded, key=_cost)
    kind = node.get("type")
    if kind in ("null", "boolean"):
        return _Extent(marks=1)
    if kind == "string":
        length = node.get("maxLength")
        # A character of the grammar may be an escape; a looping model copies plain text.
        return None if length is None else _Extent(words=length, marks=2)
    if kind == "integer":
        low, high = node.get("minimum"), node.get("maximum")
        if low is None or high is None:
            return None
        return _Extent(marks=max(len(str(low)), len(str(high))))
    if kind == "array":
        limit, item = node.get("maxItems"), _longest(node.get("items", {}), defs)
        if limit is None or item is None:
            return None
        # "[", "]" and the commas; a gap after the "[", after each item and after each ",".
        return item.times(limit) + _Extent(marks=2 + max(limit - 1, 0), gaps=2 * limit + 1)
    if kind == "object":
        extent = _Extent(marks=1, gaps=1)  # "{" and its gap; a property adds its "," or "}"
        for prop, sub in node.get("properties", {}).items():
            value = _longest(sub, defs)
            if value is None:
                return None
            # the key in its quotes, ":" and ","; the gaps after the key, ":", value and ","
            extent += value + _literal(prop) + _Extent(marks=2, gaps=4)
        return extent
    return None


def _cost(extent: _Extent) -> int:
    return extent.words + extent.marks + extent.gaps


# SmolLM2's tokenizer writes the blank line of a gap as two "\n" tokens.
GAP_TOKENS = 2


def worst_case_tokens(schema: dict[str, Any], chars_per_token: float) -> int:
    """Tokens of the longest reply `schema` admits (a large number when it is unbounded): its
    words at the calibrated characters per token (a looping model repeats the contract's
    words), a token per mark and a token per gap (see `_Extent`)."""
    longest = _longest(schema, schema.get("$defs", {}))
    if longest is None:
        return 1 << 30
    return math.ceil(longest.words / chars_per_token) + longest.marks + GAP_TOKENS * longest.gaps
