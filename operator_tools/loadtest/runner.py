"""`run_loadtest`: plan the runs of a scenario, run them, write the report and chart."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from charmelio.stages import POOLS, QUEUE_OF_POOL, PoolName
from operator_tools.fakes.openai_server import FakeOpenAIServer
from operator_tools.loadtest._report import compare, render, write_chart, write_json
from operator_tools.loadtest._run import LoadTestError, RunPlan, run_sync
from operator_tools.loadtest._scenarios import DRIVES, SCENARIOS, STAGE_QUEUES, Load, Scenario

__all__ = ["DRIVES", "LoadTestError", "LoadTestRequest", "run_loadtest"]


@dataclass(frozen=True)
class LoadTestRequest:
    scenario: str
    drive: str = "each"
    # Processes per pool; one pool may list several sizes, one run each (e.g. parse: [1, 2]).
    workers: Mapping[str, Sequence[int]] | None = None
    duration: float = 40.0
    warmup: float = 5.0
    # Each size runs this many times, sizes alternating, so a slow spell of a shared machine
    # falls on both sides of the comparison (which takes each size's median).
    rounds: int = 1
    sample_interval: float = 1.0
    # Replaces the load of the driven stream (the bound pool's queue, or the pipeline).
    load: Load | None = None
    output_dir: Path = Path(".charmelio/loadtest")


def _process_sizes(request: LoadTestRequest, scenario: Scenario) -> list[dict[str, int]]:
    sizes: dict[str, Sequence[int]] = {pool.value: [1] for pool in POOLS}
    sizes[scenario.bound_pool] = [1, 2]
    sizes.update(request.workers or {})
    varying = [pool for pool, counts in sizes.items() if len(counts) > 1]
    if len(varying) > 1:
        raise ValueError(f"only one pool may list several sizes, not {', '.join(varying)}")
    if any(count < 1 for counts in sizes.values() for count in counts):
        raise ValueError("every pool needs at least one process")
    pool = varying[0] if varying else PoolName.PARSE.value
    return [
        {name: (count if name == pool else counts[0]) for name, counts in sizes.items()}
        for count in sizes[pool]
    ]


def _streams(request: LoadTestRequest, scenario: Scenario) -> dict[str, Load]:
    if request.drive not in DRIVES:
        raise ValueError(f"unknown drive {request.drive!r}; choose from {', '.join(DRIVES)}")
    bound_queue = QUEUE_OF_POOL[scenario.bound_pool].value
    if request.drive == "pipeline":
        return {"pipeline": request.load or scenario.loads[bound_queue]}
    loads = {queue.value: scenario.loads[queue] for queue in STAGE_QUEUES}
    if request.drive != "each":
        alone = QUEUE_OF_POOL[PoolName(request.drive)].value
        loads = {alone: loads[alone]}
        bound_queue = alone
    if request.load is not None:
        loads[bound_queue] = request.load
    return loads


def run_loadtest(
    request: LoadTestRequest, log: Callable[[str], None] = print
) -> tuple[dict[str, Any], Path, Path]:
    """Run every planned run; returns the report and the paths of its JSON and PNG."""
    scenario = SCENARIOS[request.scenario]
    streams = _streams(request, scenario)
    sizes = _process_sizes(request, scenario)
    if request.rounds < 1:
        raise ValueError("rounds must be at least 1")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    output = request.output_dir.resolve()
    runs: list[dict[str, Any]] = []
    with FakeOpenAIServer(
        "plain",
        latency_seconds=scenario.provider_latency_seconds,
        requests_per_minute=scenario.provider_requests_per_minute,
        tokens_per_minute=scenario.provider_tokens_per_minute,
    ) as provider:
        for round_index in range(request.rounds):
            for processes in sizes:
                plan = RunPlan(
                    scenario=scenario,
                    processes=processes,
                    streams=streams,
                    duration=request.duration,
                    warmup=request.warmup,
                    sample_interval=request.sample_interval,
                    directory=output / f"{scenario.name}-{stamp}" / f"run-{len(runs)}",
                )
                runs.append({"round": round_index + 1, **run_sync(plan, provider, log)})
    report: dict[str, Any] = {
        "scenario": scenario.name,
        "description": scenario.description,
        "drive": request.drive,
        "duration_seconds": request.duration,
        "warmup_seconds": request.warmup,
        "rounds": request.rounds,
        "cpus": os.cpu_count(),
        "started": stamp,
        "provider": {
            "latency_seconds": scenario.provider_latency_seconds,
            "requests_per_minute": scenario.provider_requests_per_minute,
            "tokens_per_minute": scenario.provider_tokens_per_minute,
        },
        "llm_rate_limit_per_second": scenario.llm_rate_limit_per_second,
        "store_delay_seconds": scenario.store_delay_seconds,
        "parse_pages": scenario.parse_pages or 6,
        "streams": {name: load.describe() for name, load in streams.items()},
        "runs": runs,
        "comparison": compare(runs),
    }
    output.mkdir(parents=True, exist_ok=True)
    json_path = output / f"{scenario.name}.json"
    png_path = output / f"{scenario.name}.png"
    write_json(report, json_path)
    write_chart(report, png_path)
    log(render(report))
    return report, json_path, png_path
