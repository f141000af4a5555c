"""The provider's limits across the whole llm pool: requests and tokens per minute, in Postgres.

Temporal's queue-wide rate limit counts activity dispatches, but a provider limits HTTP requests
(a long contract makes several) and tokens. Every llm worker process therefore draws from one
token bucket per budget, a row of ``llm_budget`` locked for the few milliseconds of each update:

- before a request, `acquire` takes one request and the request's estimated tokens. The level may
  go below zero: the caller then sleeps until the refill has paid its share back, so waiting
  requests are served in the order they reserved, at exactly the configured rate (the generic
  cell rate algorithm, in effect). A wait longer than ``max_wait_seconds`` is not taken: the caller
  gets a retryable `LLMRateLimitedError` that asks Temporal to come back after that wait.
- after the reply, `settle` corrects the reservation to the tokens the provider reported (an
  estimate is never exact), or returns all of them when the provider refused the request.
- a 429 that gets through anyway (someone else uses the key, or the limits are set too high)
  calls `back_off`, which pushes the bucket into debt for the ``Retry-After`` so every worker
  pauses, not only the one that was refused.

The bucket holds at most ``burst_seconds`` of refill, less than the minute providers allow, so the
pool can never get ahead of a provider that started counting at the same time.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg

from charmelio.errors import LLMRateLimitedError, StorageUnavailableError

_log = logging.getLogger(__name__)

_HEARTBEAT_SECONDS = 10.0
_CONNECT_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Reservation:
    tokens: int
    waited_seconds: float


@dataclass(frozen=True)
class Limits:
    requests_per_minute: float | None
    tokens_per_minute: float | None
    burst_seconds: float = 10.0

    def capacity(self, per_minute: float | None) -> float:
        if per_minute is None:
            return math.inf
        return max(per_minute * self.burst_seconds / 60.0, 1.0)


class ProviderBudget:
    """One named budget (one provider account) shared through the database."""

    def __init__(
        self,
        database_url: str,
        limits: Limits,
        *,
        name: str = "default",
        max_wait_seconds: float = 240.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limits.requests_per_minute is None and limits.tokens_per_minute is None:
            raise ValueError("a budget needs a requests or a tokens per-minute limit")
        self._database_url = database_url
        self.limits = limits
        self.name = name
        self.max_wait_seconds = max_wait_seconds
        self._sleep = sleep

    def _rates(self) -> tuple[float, float]:
        """Refill per second of the request and token buckets (inf when that limit is off)."""
        rpm, tpm = self.limits.requests_per_minute, self.limits.tokens_per_minute
        return (rpm / 60.0 if rpm else math.inf), (tpm / 60.0 if tpm else math.inf)

    def _update(self, change: Callable[[float, float], tuple[float, float, Any]]) -> Any:
        """Lock the row, refill it to now, apply `change(requests, tokens)`, store the result."""
        request_cap = self.limits.capacity(self.limits.requests_per_minute)
        token_cap = self.limits.capacity(self.limits.tokens_per_minute)
        request_rate, token_rate = self._rates()
        start_requests = 0.0 if math.isinf(request_cap) else request_cap
        start_tokens = 0.0 if math.isinf(token_cap) else token_cap
        try:
            with (
                psycopg.connect(
                    self._database_url, connect_timeout=_CONNECT_TIMEOUT_SECONDS
                ) as conn,
                conn.transaction(),
            ):
                conn.execute(
                    "INSERT INTO llm_budget (name, requests, tokens, updated_at)"
                    " VALUES (%s, %s, %s, clock_timestamp()) ON CONFLICT (name) DO NOTHING",
                    (self.name, start_requests, start_tokens),
                )
                row = conn.execute(
                    "SELECT requests, tokens, clock_timestamp(),"
                    " extract(epoch FROM clock_timestamp() - updated_at)::float8"
                    " FROM llm_budget WHERE name = %s FOR UPDATE",
                    (self.name,),
                ).fetchone()
                assert row is not None
                requests, tokens, now, elapsed = row
                elapsed = max(float(elapsed), 0.0)
                if not math.isinf(request_cap):
                    requests = min(request_cap, requests + elapsed * request_rate)
                if not math.isinf(token_cap):
                    tokens = min(token_cap, tokens + elapsed * token_rate)
                requests, tokens, result = change(requests, tokens)
                conn.execute(
                    "UPDATE llm_budget SET requests = %s, tokens = %s, updated_at = %s"
                    " WHERE name = %s",
                    (requests, tokens, now, self.name),
                )
                return result
        except psycopg.Error as exc:
            raise StorageUnavailableError(
                f"the shared LLM rate budget is unavailable ({type(exc).__name__}); "
                "check CHARMELIO_DATABASE_URL",
                reason="budget_unavailable",
            ) from None

    def acquire(self, tokens: int, on_wait: Callable[[str], None] | None = None) -> Reservation:
        """Reserve one request and `tokens`, sleeping (with heartbeats) until they are due."""
        request_rate, token_rate = self._rates()
        limited_requests = not math.isinf(request_rate)
        limited_tokens = not math.isinf(token_rate)

        def take(requests: float, level: float) -> tuple[float, float, tuple[bool, float]]:
            after_requests = requests - 1 if limited_requests else requests
            after_tokens = level - tokens if limited_tokens else level
            wait = max(
                -after_requests / request_rate if limited_requests else 0.0,
                -after_tokens / token_rate if limited_tokens else 0.0,
                0.0,
            )
            if wait > self.max_wait_seconds:
                return requests, level, (False, wait)  # not taken: the caller retries later
            return after_requests, after_tokens, (True, wait)

        taken, wait = self._update(take)
        if not taken:
            raise LLMRateLimitedError(
                f"the shared LLM budget has no room for {tokens:,} tokens within "
                f"{self.max_wait_seconds:g} s (about {wait:.0f} s needed); retrying later",
                reason="budget_exhausted",
                next_retry_delay=timedelta(seconds=min(wait, 600.0)),
                estimated_tokens=tokens,
            )
        remaining = wait
        while remaining > 0:
            if on_wait is not None:
                on_wait(f"waiting {remaining:.1f} s for the provider's rate budget")
            step = min(remaining, _HEARTBEAT_SECONDS)
            self._sleep(step)
            remaining -= step
        return Reservation(tokens=tokens, waited_seconds=wait)

    def settle(self, reservation: Reservation, used_tokens: int | None) -> None:
        """Replace the reservation's estimate by what the provider counted (None: nothing)."""
        if self.limits.tokens_per_minute is None:
            return
        difference = reservation.tokens - (used_tokens or 0)
        if difference == 0:
            return
        capacity = self.limits.capacity(self.limits.tokens_per_minute)
        self._update(lambda requests, tokens: (requests, min(capacity, tokens + difference), None))

    def back_off(self, seconds: float) -> None:
        """Hold every worker back for `seconds` (a provider's Retry-After)."""
        request_rate, token_rate = self._rates()

        def hold(requests: float, tokens: float) -> tuple[float, float, None]:
            if not math.isinf(request_rate):
                requests = min(requests, -seconds * request_rate)
            if not math.isinf(token_rate):
                tokens = min(tokens, -seconds * token_rate)
            return requests, tokens, None

        self._update(hold)
        _log.warning("provider rate-limited the pool; every llm worker pauses %.1f s", seconds)
