"""The fake server's tokenizer: deterministic, and about as many tokens as a real one counts.

A BPE tokenizer on English prose gives about one token per short word and one per punctuation
mark: here every run of up to six letters, every run of up to three digits and every other
non-space character is a token, and each chat message costs four more for its role and framing
(as OpenAI's chat format does). On contract text that is about four characters a token, close
to what llama.cpp's and OpenAI's tokenizers count, so a client's estimate can be checked
against it.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"[^\W\d_]{1,6}|\d{1,3}|[^\w\s]|_")
MESSAGE_OVERHEAD_TOKENS = 4


def count_tokens(text: str) -> int:
    return sum(1 for _ in _TOKEN.finditer(text))


def prompt_tokens(messages: Any) -> int:
    """The tokens of a chat request's messages, as the fake bills them."""
    if not isinstance(messages, list):
        return count_tokens(str(messages))
    total = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else message
        total += MESSAGE_OVERHEAD_TOKENS + count_tokens(
            content if isinstance(content, str) else str(content)
        )
    return total


def first_tokens(text: str, limit: int) -> str:
    """The text up to the end of its `limit`-th token: a reply cut at a token limit."""
    for index, match in enumerate(_TOKEN.finditer(text), start=1):
        if index == limit:
            return text[: match.end()]
    return text
