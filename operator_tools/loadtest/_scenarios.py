"""The scenarios: which pool a run makes the bottleneck, and the load on each queue.

Each scenario makes one pool the bound on purpose, with a cost that behaves like the real one:

- parse-bound: long PDFs (text extraction is CPU-bound; one activity per process);
- llm-capped: a slow provider with requests/tokens-per-minute caps, behind the queue rate limit;
- store-bound: a slow database (each extraction insert waits, as on a busy or distant server).

In the default drive ("each"), every stage queue gets its own stream of work at the same time,
so a queue's throughput depends on its own pool only: the bound queue is kept saturated
(closed loop, ``concurrency`` in flight) and the others get a steady rate they can absorb.
Adding processes to the bound pool should then raise that queue's throughput and leave the
others' figures where they were.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from charmelio.contract import TaskQueue
from charmelio.stages import ACTIVITY_POOLS, QUEUE_OF_POOL, PoolName

DRIVES: tuple[str, ...] = ("each", "pipeline", *ACTIVITY_POOLS)
STAGE_QUEUES: tuple[TaskQueue, ...] = tuple(QUEUE_OF_POOL[pool] for pool in ACTIVITY_POOLS)


@dataclass(frozen=True)
class Load:
    """Closed loop (``concurrency`` items in flight) or open loop (``rate`` starts a second)."""

    concurrency: int | None = None
    rate: float | None = None

    def __post_init__(self) -> None:
        if (self.concurrency is None) == (self.rate is None):
            raise ValueError("a load has either a concurrency or a rate")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("rate must be positive")

    def describe(self) -> str:
        return f"{self.concurrency} in flight" if self.concurrency else f"{self.rate}/s"


@dataclass(frozen=True)
class Scenario:
    name: str
    bound_pool: PoolName
    description: str
    loads: Mapping[str, Load]
    # Pages of the document parse_pdf reads (None: the 6-page sample contract).
    parse_pages: int | None = None
    provider_latency_seconds: float = 0.05
    provider_requests_per_minute: int | None = None
    provider_tokens_per_minute: int | None = None
    llm_rate_limit_per_second: float | None = None
    store_delay_seconds: float = 0.0
    worker_settings: Mapping[str, str] = field(default_factory=dict)


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            name="parse-bound",
            bound_pool=PoolName.PARSE,
            description="960-page contracts: parsing holds one core per parse process",
            # Long documents so that parsing, not orchestration, is what a parse takes: at 192
            # pages the Temporal server spent a third of a core per 5 parses/s, CPU the second
            # parse process needs on two cores. The other queues get a light steady rate.
            loads={
                TaskQueue.PARSE: Load(concurrency=6),
                TaskQueue.LLM: Load(rate=0.5),
                TaskQueue.STORE: Load(rate=0.5),
            },
            parse_pages=960,
            worker_settings={
                "CHARMELIO_PARSE_CONCURRENCY": "1",
                "CHARMELIO_LLM_CONCURRENCY": "4",
                "CHARMELIO_STORE_CONCURRENCY": "4",
            },
        ),
        Scenario(
            name="llm-capped",
            bound_pool=PoolName.LLM,
            description=(
                "a provider answering in 1 s, capped at 300 requests/min; 2 calls per llm process,"
                " the queue-wide limit at 4.5/s keeps the pool under the provider's cap"
            ),
            loads={
                TaskQueue.PARSE: Load(rate=1.0),
                TaskQueue.LLM: Load(concurrency=10),
                TaskQueue.STORE: Load(rate=1.0),
            },
            provider_latency_seconds=1.0,
            provider_requests_per_minute=300,
            provider_tokens_per_minute=3_000_000,
            llm_rate_limit_per_second=4.5,
            worker_settings={
                "CHARMELIO_PARSE_CONCURRENCY": "1",
                "CHARMELIO_LLM_CONCURRENCY": "2",
                "CHARMELIO_STORE_CONCURRENCY": "4",
            },
        ),
        Scenario(
            name="store-bound",
            bound_pool=PoolName.STORE,
            description="a database that takes 250 ms per extraction insert; 1 store per process",
            loads={
                TaskQueue.PARSE: Load(rate=1.0),
                TaskQueue.LLM: Load(rate=1.0),
                TaskQueue.STORE: Load(concurrency=8),
            },
            store_delay_seconds=0.25,
            worker_settings={
                "CHARMELIO_PARSE_CONCURRENCY": "1",
                "CHARMELIO_LLM_CONCURRENCY": "4",
                "CHARMELIO_STORE_CONCURRENCY": "1",
            },
        ),
    )
}
