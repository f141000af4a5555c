"""What a load test measures, and from where.

- Per attempt (exact): each worker's activity log line (`charmelio.worker_runtime`) gives the
  queue, outcome, error type, run time and schedule-to-start latency from the server's own
  timestamps. Throughput over time is counted from these lines' completion times.
- Per queue over time: the server's `DescribeTaskQueue` with ``report_stats`` gives the backlog,
  its age and the add/dispatch rates, sampled every interval, plus the pollers (processes) on it.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue as TaskQueueRef
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from charmelio.contract import TaskQueue


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Attempt:
    """One activity attempt, as its worker logged it; ``at`` is when it ended (epoch seconds)."""

    at: float
    process: str
    task_queue: str
    activity: str
    outcome: str
    duration_ms: float
    schedule_to_start_ms: float | None
    error_type: str | None


def read_attempts(log_dir: Path) -> list[Attempt]:
    """Every activity attempt logged by the stack's worker processes (``<pool>-<n>.log``)."""
    attempts = []
    for path in sorted(log_dir.glob("*-*.log")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            try:
                record: dict[str, Any] = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "activity" not in record or record.get("outcome") not in ("completed", "failed"):
                continue
            attempts.append(
                Attempt(
                    at=datetime.fromisoformat(record["ts"]).timestamp(),
                    process=path.stem,
                    task_queue=record["task_queue"],
                    activity=record["activity"],
                    outcome=record["outcome"],
                    duration_ms=float(record["duration_ms"]),
                    schedule_to_start_ms=record.get("schedule_to_start_ms"),
                    error_type=record.get("error_type"),
                )
            )
    return attempts


@dataclass(frozen=True)
class BacklogSample:
    at: float
    task_queue: str
    backlog: int
    backlog_age_seconds: float
    add_rate: float
    dispatch_rate: float
    pollers: int


def _task_queue_type(queue: str) -> TaskQueueType.ValueType:
    if queue == TaskQueue.WORKFLOW:
        return TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
    return TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY


async def describe(client: Client, queue: str) -> BacklogSample:
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueueRef(name=queue),
            task_queue_type=_task_queue_type(queue),
            report_stats=True,
        )
    )
    stats = response.stats
    return BacklogSample(
        at=time.time(),
        task_queue=queue,
        backlog=stats.approximate_backlog_count,
        backlog_age_seconds=stats.approximate_backlog_age.ToTimedelta().total_seconds(),
        add_rate=stats.tasks_add_rate,
        dispatch_rate=stats.tasks_dispatch_rate,
        pollers=len({poller.identity for poller in response.pollers}),
    )


async def wait_for_pollers(
    client: Client, expected: Mapping[str, int], *, within_seconds: float = 120.0
) -> None:
    """Wait until every queue has at least its expected number of polling processes."""
    deadline = time.monotonic() + within_seconds
    while True:
        seen = {queue: (await describe(client, queue)).pollers for queue in expected}
        if all(seen[queue] >= count for queue, count in expected.items()):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"pollers per queue: expected {dict(expected)}, saw {seen}")
        await asyncio.sleep(0.5)


async def sample_backlogs(
    client: Client,
    queues: Sequence[str],
    samples: list[BacklogSample],
    *,
    interval: float = 1.0,
) -> None:
    """Append one sample per queue every ``interval`` seconds until cancelled."""
    while True:
        started = time.monotonic()
        samples.extend(await asyncio.gather(*(describe(client, queue) for queue in queues)))
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


@dataclass
class QueueFigures:
    """One queue's figures over a measurement window."""

    task_queue: str
    window_seconds: float
    completed: int
    failed: int
    throughput_per_second: float
    schedule_to_start_ms_p50: float | None
    schedule_to_start_ms_p95: float | None
    activity_ms_p50: float | None
    activity_ms_p95: float | None
    errors: dict[str, int]
    completed_by_process: dict[str, int]
    backlog_max: int
    backlog_mean: float
    backlog_age_max_seconds: float
    pollers: int
    timeline: list[dict[str, float]] = field(default_factory=list)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def queue_figures(
    queue: str,
    attempts: Iterable[Attempt],
    backlog: Iterable[BacklogSample],
    *,
    start: float,
    end: float,
    warmup: float,
    bucket_seconds: float = 5.0,
) -> QueueFigures:
    """Figures of ``queue`` for attempts that ended within [start + warmup, end]."""
    measured_from = start + warmup
    mine = [a for a in attempts if a.task_queue == queue and measured_from <= a.at <= end]
    done = [a for a in mine if a.outcome == "completed"]
    failed = [a for a in mine if a.outcome == "failed"]
    waits = [a.schedule_to_start_ms for a in mine if a.schedule_to_start_ms is not None]
    runs = [a.duration_ms for a in done]
    samples = [s for s in backlog if s.task_queue == queue and start <= s.at <= end]
    window = max(end - measured_from, 1e-9)
    timeline = []
    all_done = sorted(a.at for a in attempts if a.task_queue == queue and a.outcome == "completed")
    buckets = max(1, round((end - start) / bucket_seconds))
    for index in range(buckets):
        low = start + index * bucket_seconds
        high = end if index == buckets - 1 else low + bucket_seconds
        count = sum(1 for at in all_done if low <= at < high)
        middle = round((low + high) / 2 - start, 2)
        timeline.append({"t": middle, "throughput": round(count / (high - low), 3)})
    return QueueFigures(
        task_queue=queue,
        window_seconds=round(window, 2),
        completed=len(done),
        failed=len(failed),
        throughput_per_second=round(len(done) / window, 3),
        schedule_to_start_ms_p50=_round(percentile(waits, 50)),
        schedule_to_start_ms_p95=_round(percentile(waits, 95)),
        activity_ms_p50=_round(percentile(runs, 50)),
        activity_ms_p95=_round(percentile(runs, 95)),
        errors=dict(Counter(a.error_type or "unknown" for a in failed)),
        completed_by_process=dict(Counter(a.process for a in done)),
        backlog_max=max((s.backlog for s in samples), default=0),
        backlog_mean=round(sum(s.backlog for s in samples) / len(samples), 2) if samples else 0,
        backlog_age_max_seconds=round(max((s.backlog_age_seconds for s in samples), default=0), 2),
        pollers=max((s.pollers for s in samples), default=0),
        timeline=timeline,
    )
