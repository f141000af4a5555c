"""Does a batch of 10,000 run as well as one of 100? Throughput and history per run, same run.

On one local Temporal dev server (in memory), with the shared stage fakes (they answer at once, so
what is measured is the batch's orchestration: its window, its pages, its continue-as-new), one
batch of ``--small`` documents and one of ``--large``, alternately ``--rounds`` times. Prints each
batch's documents per second (median over rounds), the ratio large/small, and the largest history
of any run of either batch (Temporal's limit: 51,200 events; our goal: under 10,000).

    .venv/bin/python -m benchmarks.batch_scale [--small 100] [--large 10000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from charmelio.batches import new_batch_id, start_batch
from charmelio.contract import BATCH_DOCUMENTS_PER_RUN, BATCH_MAX_IN_FLIGHT, BatchInput, ObjectKeys
from charmelio.worker_runtime import exit_process
from operator_tools.devstack import temporal_binary
from operator_tools.fakes.stages import Calls, fakes, new_document_id, pipeline


async def one_batch(client: Client, calls: Calls, size: int) -> tuple[float, int, int]:
    """(documents per second, largest history of a run, runs) of one batch of ``size``."""
    batch_id = new_batch_id(uuid.uuid4().hex[:16])
    key = ObjectKeys.batch_list(batch_id)
    calls.lists[key] = [new_document_id() for _ in range(size)]
    started = time.perf_counter()
    handle = await start_batch(
        client,
        batch_id,
        BatchInput(
            list_key=key,
            max_in_flight=BATCH_MAX_IN_FLIGHT,
            documents_per_run=BATCH_DOCUMENTS_PER_RUN,
        ),
    )
    result = await handle.result()
    seconds = time.perf_counter() - started
    assert result.done == size, result
    largest = 0
    async for execution in client.list_workflows(f"WorkflowId = '{batch_id}'"):
        history = await client.get_workflow_handle(
            batch_id, run_id=execution.run_id
        ).fetch_history()
        largest = max(largest, len(history.events))
    return size / seconds, largest, result.runs


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
    )
    figures: dict[int, list[float]] = {args.small: [], args.large: []}
    largest: dict[int, int] = {args.small: 0, args.large: 0}
    runs: dict[int, int] = {}
    try:
        calls = Calls()
        async with pipeline(env.client, fakes(calls)):
            await one_batch(env.client, calls, 20)  # warm-up: worker caches, first connections
            for _ in range(args.rounds):
                for size in (args.small, args.large):
                    rate, events, run_count = await one_batch(env.client, calls, size)
                    figures[size].append(rate)
                    largest[size] = max(largest[size], events)
                    runs[size] = run_count
                    print(
                        f"  {size:>6} documents: {rate:6.1f} docs/s, {run_count} runs,"
                        f" largest run history {events} events",
                        flush=True,
                    )
    finally:
        await env.shutdown()
    small, large = (statistics.median(figures[size]) for size in (args.small, args.large))
    print(f"window {BATCH_MAX_IN_FLIGHT}, {BATCH_DOCUMENTS_PER_RUN} documents per run, fake stages")
    print(f"{args.small:>6} documents: {small:6.1f} docs/s (median of {args.rounds})")
    print(f"{args.large:>6} documents: {large:6.1f} docs/s ({runs[args.large]} runs)")
    print(f"ratio large/small: {large / small:.2f} (goal: >= 0.90)")
    print(f"largest history of one run: {max(largest.values())} events (goal: < 10,000)")


if __name__ == "__main__":
    asyncio.run(main())
    exit_process(0)
