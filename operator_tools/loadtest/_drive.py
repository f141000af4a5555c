"""Load generators: keep N workflows in flight (closed loop) or start R a second (open loop).

Both stop starting at the deadline and stop waiting there too: whatever is still in flight is
counted as unfinished, so every stream covers exactly the same window.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from operator_tools.loadtest._observe import percentile
from operator_tools.loadtest._scenarios import Load

StartItem = Callable[[int], Awaitable[WorkflowHandle[Any, Any]]]


@dataclass
class StreamOutcome:
    """What one stream started and how its workflows ended, seen from the client."""

    name: str
    load: str
    started: int = 0
    completed: int = 0
    failed: int = 0
    unfinished: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        p50 = percentile(self.latencies_ms, 50)
        p95 = percentile(self.latencies_ms, 95)
        return {
            "load": self.load,
            "started": self.started,
            "completed": self.completed,
            "failed": self.failed,
            "unfinished": self.unfinished,
            "latency_ms_p50": None if p50 is None else round(p50, 1),
            "latency_ms_p95": None if p95 is None else round(p95, 1),
            "failures": dict(self.failures),
        }


def _failure_type(error: BaseException) -> str:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ApplicationError) and cause.type:
            return cause.type
        cause = cause.__cause__ or getattr(cause, "cause", None)
    return type(error).__name__


async def drive(name: str, load: Load, start_item: StartItem, duration: float) -> StreamOutcome:
    outcome = StreamOutcome(name, load.describe())
    indexes = itertools.count()
    deadline = time.monotonic() + duration

    async def one(index: int) -> None:
        began = time.monotonic()
        try:
            handle = await start_item(index)
        except RPCError as exc:
            outcome.failures[f"start: {exc.status.name}"] += 1
            return
        outcome.started += 1
        try:
            await handle.result()
        except WorkflowFailureError as exc:
            outcome.failed += 1
            outcome.failures[_failure_type(exc.cause or exc)] += 1
            return
        outcome.completed += 1
        outcome.latencies_ms.append((time.monotonic() - began) * 1000)

    async def lane() -> None:
        while time.monotonic() < deadline:
            await one(next(indexes))

    async def pacer(rate: float) -> None:
        began = time.monotonic()
        async with asyncio.TaskGroup() as group:
            for index in indexes:
                due = began + index / rate
                if due >= deadline:
                    break
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                group.create_task(one(index))

    async def everything() -> None:
        if load.concurrency is not None:
            await asyncio.gather(*(lane() for _ in range(load.concurrency)))
        else:
            assert load.rate is not None
            await pacer(load.rate)

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(everything(), timeout=duration)
    outcome.unfinished = outcome.started - outcome.completed - outcome.failed
    return outcome
