"""The provider budget shared by every llm worker: a token bucket in Postgres."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from charmelio.contract import PageText, ParsedPages
from charmelio.errors import LLMRateLimitedError
from charmelio.settings import ConfigurationError, Settings
from llm_worker import OpenAIExtractor, extractor_for
from llm_worker._budget import Limits, ProviderBudget
from llm_worker.worker import pool_spec
from operator_tools.fakes.openai_server import FakeOpenAIServer
from tests.llm.conftest import API_KEY


class _Sleeps:
    """Records the waits a budget asks for instead of sleeping through them."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)

    @property
    def total(self) -> float:
        return sum(self.seconds)


def _about(wait: float, expected: float, since: float) -> bool:
    """`wait` is `expected` less whatever refilled since `since` (wall time passes in the test)."""
    elapsed = time.monotonic() - since
    return expected - elapsed - 0.05 <= wait <= expected + 0.05


def _budget(database_url: str, sleeps: _Sleeps | None = None, **limits: float) -> ProviderBudget:
    return ProviderBudget(
        database_url,
        Limits(limits.get("rpm"), limits.get("tpm"), burst_seconds=limits.get("burst", 10.0)),
        name="test",
        max_wait_seconds=limits.get("max_wait", 60.0),
        sleep=sleeps or _Sleeps(),
    )


def test_reservations_within_the_burst_do_not_wait(database_url: str) -> None:
    sleeps = _Sleeps()
    budget = _budget(database_url, sleeps, tpm=6000)  # 100 tokens/s, 1,000 in 10 s

    budget.acquire(400)
    budget.acquire(500)

    assert sleeps.seconds == []


def test_a_reservation_past_the_burst_waits_its_turn(database_url: str) -> None:
    sleeps = _Sleeps()
    budget = _budget(database_url, sleeps, tpm=6000)
    since = time.monotonic()
    budget.acquire(1000)  # the whole burst
    progress: list[str] = []

    reservation = budget.acquire(2500, on_wait=progress.append)

    assert _about(reservation.waited_seconds, 25, since)
    assert sleeps.total == pytest.approx(reservation.waited_seconds)
    assert max(sleeps.seconds) <= 10  # heartbeats at least every 10 s
    assert len(progress) == len(sleeps.seconds) >= 3


def test_request_and_token_limits_both_bind(database_url: str) -> None:
    sleeps = _Sleeps()
    budget = _budget(database_url, sleeps, rpm=60, tpm=600_000)  # 1 request/s, 10 in a burst
    since = time.monotonic()

    for _ in range(10):
        budget.acquire(10)
    assert sleeps.seconds == []
    budget.acquire(10)

    assert _about(sleeps.total, 1.0, since)


def test_two_workers_share_one_budget(database_url: str) -> None:
    first_sleeps, second_sleeps = _Sleeps(), _Sleeps()
    first = _budget(database_url, first_sleeps, tpm=6000)
    second = _budget(database_url, second_sleeps, tpm=6000)

    since = time.monotonic()
    first.acquire(1000)
    second.acquire(300)

    assert first_sleeps.seconds == []
    assert _about(second_sleeps.total, 3, since)


def test_a_wait_beyond_the_maximum_is_a_retry_not_a_debt(database_url: str) -> None:
    sleeps = _Sleeps()
    budget = _budget(database_url, sleeps, tpm=6000, max_wait=5)
    since = time.monotonic()
    budget.acquire(1000)

    with pytest.raises(LLMRateLimitedError) as raised:
        budget.acquire(2000)

    error = raised.value
    assert not error.non_retryable
    assert error.reason == "budget_exhausted"
    assert error.next_retry_delay is not None
    assert _about(error.next_retry_delay.total_seconds(), 20, since)
    assert sleeps.seconds == []
    budget.acquire(400)  # nothing was taken by the refused reservation: 4 s of refill suffice
    assert _about(sleeps.total, 4, since)


def test_settling_returns_what_the_provider_did_not_count(database_url: str) -> None:
    sleeps = _Sleeps()
    budget = _budget(database_url, sleeps, tpm=6000)
    reservation = budget.acquire(1000)

    budget.settle(reservation, 200)
    budget.acquire(800)

    assert sleeps.seconds == []


def test_back_off_pauses_every_worker(database_url: str) -> None:
    sleeps = _Sleeps()
    budget = _budget(database_url, sleeps, rpm=600, tpm=60_000)
    other = _budget(database_url, sleeps, rpm=600, tpm=60_000)

    since = time.monotonic()
    budget.back_off(7)
    other.acquire(1)

    assert _about(sleeps.total, 7.1, since)  # the back-off, then its own request (0.1 s)


def test_concurrent_reservations_are_serialised(database_url: str) -> None:
    budget = _budget(database_url, tpm=60_000, burst=1)  # 1,000 tokens/s, 1,000 in the burst
    waits: list[float] = []
    lock = threading.Lock()

    def reserve() -> None:
        reservation = budget.acquire(500)
        with lock:
            waits.append(reservation.waited_seconds)

    threads = [threading.Thread(target=reserve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # 4,000 tokens at 1,000/s after a 1,000 burst: each reservation queues half a second behind
    # the one before (less the refill while the threads start), none jumps the queue.
    waits.sort()
    assert waits[:2] == [0.0, 0.0]
    gaps = [later - earlier for earlier, later in itertools.pairwise(waits[2:])]
    assert all(0.3 <= gap <= 0.55 for gap in gaps), waits
    assert 2.0 <= waits[-1] <= 3.05


def test_a_budget_needs_a_limit(database_url: str) -> None:
    with pytest.raises(ValueError, match="limit"):
        ProviderBudget(database_url, Limits(None, None))


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, storage_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_limits_without_a_database_fail_the_worker_start(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, openai_base_url="http://127.0.0.1:9/v1", llm_tokens_per_minute=1000
    )

    with pytest.raises(ConfigurationError, match="CHARMELIO_DATABASE_URL"):
        pool_spec(settings)


def test_limits_are_wired_from_settings(tmp_path: Path, database_url: str) -> None:
    settings = _settings(
        tmp_path,
        openai_base_url="http://127.0.0.1:9/v1",
        database_url=database_url,
        llm_requests_per_minute=120,
        llm_tokens_per_minute=90_000,
        llm_budget_max_wait_seconds=33,
    )

    extractor = extractor_for(settings)

    assert isinstance(extractor, OpenAIExtractor)
    assert extractor.budget is not None
    assert extractor.budget.limits.requests_per_minute == 120
    assert extractor.budget.limits.tokens_per_minute == 90_000
    assert extractor.budget.max_wait_seconds == 33
    assert pool_spec(settings).on_start  # creates the budget table if no store worker did yet


def _small_contract() -> ParsedPages:
    text = "This Agreement shall be governed by the laws of the State of Delaware. " * 20
    return ParsedPages(
        document_id="doc-small", engine="t", pages=[PageText(page=1, text=text.strip())]
    )


def test_a_pool_inside_the_budget_is_never_refused(database_url: str) -> None:
    """Four threads against a fake that enforces the same limit with almost no burst."""
    pages = _small_contract()
    with FakeOpenAIServer(tokens_per_minute=480_000, burst_seconds=2) as server:
        extractor = OpenAIExtractor(
            base_url=server.base_url,
            model="m",
            api_key=API_KEY,
            timeout_seconds=5,
            budget=ProviderBudget(
                database_url,
                Limits(None, 480_000, burst_seconds=1),  # 8,000 tokens/s
                name="pool",
                max_wait_seconds=30,
            ),
            expected_reply_tokens=200,
        )
        errors: list[BaseException] = []

        def work() -> None:
            for _ in range(3):
                try:
                    extractor.extract(pages)
                except LLMRateLimitedError as exc:
                    errors.append(exc)

        started = time.monotonic()
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started

        assert errors == []
        assert server.refused == 0
        accepted = server.accepted
        assert len(accepted) == 12
        spent = sum(a.tokens for a in accepted)
        assert spent > 3 * 8000  # more than the bursts allow at once: the pool had to be paced
        # Beyond the one-second client burst, tokens arrived at no more than 8,000/s.
        assert elapsed >= (spent - 2 * 8000) / 8000


def test_a_provider_429_backs_the_whole_pool_off(database_url: str) -> None:
    sleeps = _Sleeps()
    with FakeOpenAIServer("rate_limited", retry_after="3") as server:
        budget = ProviderBudget(database_url, Limits(600, 600_000), name="shared", sleep=sleeps)
        extractor = OpenAIExtractor(
            base_url=server.base_url, model="m", api_key=API_KEY, timeout_seconds=5, budget=budget
        )
        since = time.monotonic()

        with pytest.raises(LLMRateLimitedError) as raised:
            extractor.extract(_small_contract())

    assert raised.value.next_retry_delay == timedelta(seconds=3)
    other_worker = ProviderBudget(database_url, Limits(600, 600_000), name="shared", sleep=sleeps)
    other_worker.acquire(1)
    assert _about(sleeps.total, 3.1, since)  # the Retry-After, then its own request (0.1 s)
