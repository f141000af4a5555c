"""What the LLM must return, as a pydantic model, and its JSON schema in OpenAI's strict form.

Strict structured outputs (``"strict": true``) make the provider constrain decoding to the schema,
but only accept a subset of JSON Schema: every property listed in ``required`` (optional values are
``null`` unions instead), ``additionalProperties: false`` on every object, no ``default``, no
``format``, no length or range bounds, and no keywords beside ``$ref``. `strict_json_schema`
rewrites pydantic's schema into that subset, so the model below stays the single source of truth.
The reply is still validated against the model: a provider can ignore ``strict``.
"""

from __future__ import annotations

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


def response_format() -> ResponseFormatJSONSchema:
    """The chat-completions ``response_format`` asking for `LLMExtraction` in strict mode."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": SCHEMA_NAME,
            "strict": True,
            "schema": strict_json_schema(LLMExtraction),
        },
    }


def json_object_format() -> dict[str, Any]:
    """``response_format`` for servers without ``json_schema`` (llama-cpp-python's): JSON mode,
    with the schema beside it for the servers that turn it into a grammar. The reply is validated
    against `LLMExtraction` either way."""
    return {"type": "json_object", "schema": strict_json_schema(LLMExtraction)}
