"""Which extractor this pool runs, as one comparable identity: provider, model, prompt version.

A batch reuses a document's current extraction only when it was made by the same identity, so the
identity must change whenever the output could: another provider or model (the rules' model name
carries the rule set and the trained classifier's version), other instructions, another reply
schema or another stored result schema. The version is a fingerprint of exactly those texts, so
editing the prompt cannot forget to bump a number.
"""

from __future__ import annotations

import hashlib
import json

from charmelio.contract import ExtractionResult, ExtractorIdentity
from llm_worker._provider import ClauseExtractor

# The stored result's schema takes part in every identity: a new result shape is a new extraction.
_RESULT_SCHEMA = f"result-v{ExtractionResult.model_fields['schema_version'].default}"


def _fingerprint(*parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()
    return digest[:12]


def identity_of(extractor: ClauseExtractor) -> ExtractorIdentity:
    if extractor.name == "openai":
        # Imported here: the rules provider runs without the openai package's schema types.
        from llm_worker._llm_schema import response_format
        from llm_worker._openai import OpenAIExtractor
        from llm_worker._prompt import system_message

        prompt = system_message("contract-" + "0" * 12)
        schema = json.dumps(response_format(), sort_keys=True)
        version = f"{_RESULT_SCHEMA}+prompt-{_fingerprint(prompt, schema)}"
        if isinstance(extractor, OpenAIExtractor) and extractor.schema_bounds:
            # Bounded strings can shorten a quote: another output, so another identity.
            version += "+bounded"
    else:
        version = _RESULT_SCHEMA
    return ExtractorIdentity(provider=extractor.name, model=extractor.model, version=version)
