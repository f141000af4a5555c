"""What Charmelio's orchestration costs over a bare Temporal workflow of the same shape.

In one run, on one local Temporal dev server (in memory), with every worker in this process:

- bare: `BareThreeQueueWorkflow`, three no-op activities on three queues;
- ours: the real `ExtractionWorkflow` on the real queues, its activities replaced by no-op stages
  under the real names and result types, served by workers built by Charmelio's worker runtime
  (pydantic payloads, the per-attempt log line and metrics interceptor).

Every worker of both gets the same number of task slots (`SLOTS`).

It prints throughput with 50 workflows in flight and the median latency one workflow at a time,
for both, and the ratios ours/bare. Rounds alternate between the two so that drift of a shared
machine hits both alike; the figure of each is its median over the rounds.

    .venv/bin/python -m benchmarks.orchestration_overhead [--in-flight 50] [--workflows 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from benchmarks._bare_workflow import BARE_QUEUES, BareThreeQueueWorkflow, bare_step
from charmelio.contract import WORKFLOW_TYPE, TaskQueue, workflow_id_for
from charmelio.logs import JsonFormatter
from charmelio.settings import Settings
from charmelio.stages import QUEUE_OF_POOL, PoolName
from charmelio.worker_runtime import PoolSpec, build_worker
from operator_tools.devstack import temporal_binary
from operator_tools.fakes.stages import Calls, fakes
from workflows import ExtractionWorkflow

StartOne = Callable[[Client], Awaitable[Any]]
# Task slots of every worker of both variants. Pool sizes are capacity decisions (in production one
# parse activity per process), not orchestration: with equal slots the difference is what the
# workflow, the payloads and the worker runtime cost.
SLOTS = 50


@asynccontextmanager
async def ours(client: Client) -> AsyncIterator[StartOne]:
    settings = Settings(_env_file=None)
    # The shared stage fakes answer at once, so what is timed is orchestration alone.
    activities = fakes(Calls())
    specs = [
        PoolSpec(pool, queue.value, SLOTS, activities.get(queue, ()))
        if pool != PoolName.WORKFLOW
        else PoolSpec(pool, queue.value, SLOTS, workflows=[ExtractionWorkflow])
        for pool, queue in QUEUE_OF_POOL.items()
    ]

    async def start(client: Client) -> Any:
        document_id = f"doc_{uuid.uuid4().hex[:16]}"
        return await client.execute_workflow(
            WORKFLOW_TYPE,
            document_id,
            id=workflow_id_for(document_id),
            task_queue=TaskQueue.WORKFLOW.value,
        )

    async with AsyncExitStack() as stack:
        for spec in specs:
            await stack.enter_async_context(build_worker(client, spec, settings))
        yield start


@asynccontextmanager
async def bare(client: Client) -> AsyncIterator[StartOne]:
    async def start(client: Client) -> Any:
        return await client.execute_workflow(
            BareThreeQueueWorkflow.run,
            "doc",
            id=f"bare-{uuid.uuid4().hex}",
            task_queue="bare-workflow",
        )

    async with AsyncExitStack() as stack:
        await stack.enter_async_context(
            Worker(
                client,
                task_queue="bare-workflow",
                workflows=[BareThreeQueueWorkflow],
                max_concurrent_workflow_tasks=SLOTS,
            )
        )
        for queue in BARE_QUEUES:
            await stack.enter_async_context(
                Worker(
                    client,
                    task_queue=queue,
                    activities=[bare_step],
                    max_concurrent_activities=SLOTS,
                )
            )
        yield start


async def throughput(client: Client, start: StartOne, total: int, in_flight: int) -> float:
    """Workflows completed per second, keeping ``in_flight`` running until ``total`` are done."""
    remaining = iter(range(total))

    async def lane() -> None:
        for _ in remaining:
            await start(client)

    began = time.monotonic()
    await asyncio.gather(*(lane() for _ in range(in_flight)))
    return total / (time.monotonic() - began)


async def median_latency_ms(client: Client, start: StartOne, count: int) -> float:
    latencies = []
    for _ in range(count):
        began = time.monotonic()
        await start(client)
        latencies.append((time.monotonic() - began) * 1000)
    return statistics.median(latencies)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
    )
    figures: dict[str, dict[str, list[float]]] = {
        name: {"throughput": [], "latency_ms": []} for name in ("bare", "ours")
    }
    variants = {"bare": bare, "ours": ours}
    try:
        for round_index in range(args.rounds):
            for name in ("bare", "ours") if round_index % 2 == 0 else ("ours", "bare"):
                async with variants[name](env.client) as start:
                    await throughput(env.client, start, args.in_flight, args.in_flight)  # warm-up
                    rate = await throughput(env.client, start, args.workflows, args.in_flight)
                    latency = await median_latency_ms(env.client, start, args.sequential)
                figures[name]["throughput"].append(rate)
                figures[name]["latency_ms"].append(latency)
                print(
                    f"round {round_index + 1} {name:<4}: {rate:6.1f} workflows/s at"
                    f" {args.in_flight} in flight, median {latency:6.1f} ms one at a time",
                    flush=True,
                )
    finally:
        await env.shutdown()
    summary: dict[str, Any] = {
        name: {
            "throughput_per_second": round(statistics.median(values["throughput"]), 2),
            "median_latency_ms": round(statistics.median(values["latency_ms"]), 1),
            "rounds": values,
        }
        for name, values in figures.items()
    }
    summary["throughput_ratio"] = round(
        summary["ours"]["throughput_per_second"] / summary["bare"]["throughput_per_second"], 3
    )
    summary["latency_ratio"] = round(
        summary["ours"]["median_latency_ms"] / summary["bare"]["median_latency_ms"], 3
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--workflows", type=int, default=300, help="per throughput measurement")
    parser.add_argument("--sequential", type=int, default=25, help="per latency measurement")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per variant")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    # The activity log lines are part of what ours costs: format them, into a scratch file.
    with tempfile.NamedTemporaryFile("w", suffix=".log") as sink:
        handler = logging.StreamHandler(sink)
        handler.setFormatter(JsonFormatter())
        activity_log = logging.getLogger("charmelio.activity")
        activity_log.addHandler(handler)
        activity_log.setLevel(logging.INFO)
        activity_log.propagate = False
        summary = asyncio.run(measure(args))
    bare_figures, our_figures = summary["bare"], summary["ours"]
    print()
    print(f"{'':<28}{'bare':>12}{'ours':>12}{'ours/bare':>12}")
    print(
        f"{'workflows/s, ' + str(args.in_flight) + ' in flight':<28}"
        f"{bare_figures['throughput_per_second']:>12.1f}{our_figures['throughput_per_second']:>12.1f}"
        f"{summary['throughput_ratio']:>12.3f}   (target >= 0.9)"
    )
    print(
        f"{'median ms, one at a time':<28}"
        f"{bare_figures['median_latency_ms']:>12.1f}{our_figures['median_latency_ms']:>12.1f}"
        f"{summary['latency_ratio']:>12.3f}   (target <= 1.15)"
    )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
