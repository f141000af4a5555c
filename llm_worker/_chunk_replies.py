"""Provider replies kept in object storage between the attempts of one extraction.

A long contract is read in several provider calls. When one of them fails (a 429, a timeout),
Temporal retries the whole ``llm_extract`` activity; without this, the retry would pay again, in
tokens and in the provider's rate limit, for every part already answered. Each reply is stored
under the extraction's scratch space (`ObjectKeys.extraction_chunk_reply`) by a fingerprint of the
request, so only an identical request (same provider, model, prompt and pages) reuses it, and the
store stage deletes the scratch space with the draft once the extraction ends.

Object storage, not heartbeat details: those end up in workflow history when an activity times
out, and contract text stays out of history (claim check).
"""

from __future__ import annotations

import logging

from pydantic import TypeAdapter, ValidationError

from charmelio.contract import ObjectKeys
from charmelio.storage.objects import ObjectNotFoundError, ObjectStore
from llm_worker._provider import ProviderOutput

_log = logging.getLogger(__name__)
_OUTPUT = TypeAdapter(ProviderOutput)


class StoredChunkReplies:
    """`ChunkReplies` for one extraction, in object storage."""

    def __init__(self, store: ObjectStore, extraction_id: str) -> None:
        self._store = store
        self._extraction_id = extraction_id

    def get(self, fingerprint: str) -> ProviderOutput | None:
        key = ObjectKeys.extraction_chunk_reply(self._extraction_id, fingerprint)
        try:
            data = self._store.get_bytes(key)
        except ObjectNotFoundError:
            return None
        try:
            return _OUTPUT.validate_json(data)
        except ValidationError:
            # Written by another version, or damaged: asking the provider again is always right.
            _log.warning("ignoring unreadable kept reply %s", key)
            return None

    def put(self, fingerprint: str, output: ProviderOutput) -> None:
        key = ObjectKeys.extraction_chunk_reply(self._extraction_id, fingerprint)
        self._store.put_bytes(key, _OUTPUT.dump_json(output), content_type="application/json")


__all__ = ["StoredChunkReplies"]
