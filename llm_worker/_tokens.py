"""How many tokens a request is, as the provider will count them: calibrated from its `usage`.

No tokenizer is downloaded at run time (tiktoken fetches its encodings on first use, and a local
model's tokenizer is the server's), so tokens are estimated from characters. The estimate starts
at three characters a token, safe for any tokenizer on English contract text, and each reply's
``usage.prompt_tokens`` then teaches it what this model really counts: real tokenizers give four
to six characters a token on contracts, so the first estimate is 1.3-2x too high and chunks
planned with it needlessly small. The planner uses the densest ratio seen (the most tokens per
character), less a 10% margin, so a calibrated plan still fits a context the way a request with
an unusual share of digits or names is counted.
"""

from __future__ import annotations

import math
import threading

DEFAULT_CHARS_PER_TOKEN = 3.0
_MARGIN = 0.9
_FLOOR, _CEILING = 1.5, 6.0
# A request this short says more about the chat template's framing than about the tokenizer.
_MIN_CALIBRATION_CHARS = 2_000


class TokenEstimate:
    """Characters per token of one model, thread-safe (the llm pool calls from several threads)."""

    def __init__(self, chars_per_token: float = DEFAULT_CHARS_PER_TOKEN) -> None:
        self._chars_per_token = chars_per_token
        self._densest: float | None = None
        self._lock = threading.Lock()

    @property
    def chars_per_token(self) -> float:
        with self._lock:
            if self._densest is None:
                return self._chars_per_token
            return min(max(self._densest * _MARGIN, _FLOOR), _CEILING)

    @property
    def calibrated(self) -> bool:
        with self._lock:
            return self._densest is not None

    def tokens(self, characters: int) -> int:
        return math.ceil(characters / self.chars_per_token)

    def observe(self, characters: int, prompt_tokens: int | None) -> None:
        """Learn from a request of `characters` the provider counted as `prompt_tokens`."""
        if not prompt_tokens or prompt_tokens <= 0 or characters < _MIN_CALIBRATION_CHARS:
            return
        ratio = characters / prompt_tokens
        with self._lock:
            self._densest = ratio if self._densest is None else min(self._densest, ratio)
