"""What the LLM provider billed the failed attempts of one extraction, kept between attempts.

A failed ``llm_extract`` attempt has still spent requests and tokens (a reply cut off at its limit
is billed like a good one). The llm pool writes their running total into the extraction's scratch
space when an attempt fails; the next attempt adds it to what it spends, and `record_failure`
stores it with a failed extraction, so a cost report built on the extraction rows counts every
request. Object storage, like the kept chunk replies, because the workflow carries only small
summaries and a failed activity returns nothing.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from charmelio.contract import ObjectKeys, ProviderUsage
from charmelio.storage.objects import ObjectNotFoundError, ObjectStore

_log = logging.getLogger(__name__)


def read_llm_usage(store: ObjectStore, extraction_id: str) -> ProviderUsage:
    """The failed attempts' total; nothing when no attempt failed (or its record is unreadable)."""
    key = ObjectKeys.extraction_usage(extraction_id)
    try:
        data = store.get_bytes(key)
    except ObjectNotFoundError:
        return ProviderUsage()
    try:
        return ProviderUsage.model_validate_json(data)
    except ValidationError:
        _log.warning("ignoring unreadable LLM usage record %s", key)
        return ProviderUsage()


def write_llm_usage(store: ObjectStore, extraction_id: str, usage: ProviderUsage) -> None:
    store.put_bytes(
        ObjectKeys.extraction_usage(extraction_id),
        usage.model_dump_json().encode(),
        content_type="application/json",
    )
