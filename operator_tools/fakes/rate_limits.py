"""A provider's requests-per-minute and tokens-per-minute limits, as the fake server enforces them.

Hosted providers meter both as token buckets that hold one minute's allowance and refill
continuously; a request that does not fit is answered 429 with a ``Retry-After`` of the seconds
until it would, and is not charged. ``burst_seconds`` shrinks the bucket for tests that want to
see the refill without waiting a minute.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


class TokenBucket:
    """`per_minute` units, refilled continuously, holding at most `burst_seconds` of refill."""

    def __init__(self, per_minute: float, burst_seconds: float = 60.0) -> None:
        self.per_minute = per_minute
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


class ProviderLimits:
    """The two buckets of one account (either may be off), thread-safe."""

    def __init__(
        self,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        burst_seconds: float = 60.0,
    ) -> None:
        self.requests = (
            TokenBucket(requests_per_minute, burst_seconds) if requests_per_minute else None
        )
        self.tokens = TokenBucket(tokens_per_minute, burst_seconds) if tokens_per_minute else None
        self._lock = threading.Lock()

    def charge(self, tokens: int) -> float:
        """Charge one request of `tokens`: 0 when accepted, else the seconds until it would fit."""
        with self._lock:
            now = time.monotonic()
            waits = []
            for bucket, amount in ((self.requests, 1), (self.tokens, tokens)):
                if bucket is not None:
                    bucket.refill(now)
                    waits.append(bucket.wait_for(amount))
            wait = max(waits, default=0.0)
            if wait > 0:
                return wait
            if self.requests is not None:
                self.requests.level -= 1
            if self.tokens is not None:
                self.tokens.level -= tokens
            return 0.0

    def headers(self) -> dict[str, str]:
        """OpenAI's ``x-ratelimit-*`` headers for the limits that are on."""
        headers = {}
        with self._lock:
            now = time.monotonic()
            for name, bucket in (("requests", self.requests), ("tokens", self.tokens)):
                if bucket is not None:
                    bucket.refill(now)
                    headers[f"x-ratelimit-limit-{name}"] = f"{bucket.per_minute:g}"
                    headers[f"x-ratelimit-remaining-{name}"] = str(max(int(bucket.level), 0))
        return headers
