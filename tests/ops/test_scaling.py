"""operator_tools.scaling: KEDA's replica formula over a backlog trace, and the llm ceiling."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from charmelio.stages import POOLS, QUEUE_OF_POOL, PoolName
from operator_tools.scaling import (
    LlmLimits,
    QueueScaler,
    desired_replicas,
    llm_ceiling,
    main,
    replica_trace,
)


def scaler(minimum: int, maximum: int, target: int = 4, activation: int = 0) -> QueueScaler:
    return QueueScaler(PoolName.LLM, "llm-queue", "activity", target, activation, minimum, maximum)


@pytest.mark.parametrize(
    ("backlog", "bounds", "expected"),
    [
        (0, (1, 10), 1),  # an empty queue: the minimum
        (1, (1, 10), 1),
        (4, (1, 10), 1),  # one replica's worth of waiting tasks
        (5, (1, 10), 2),  # ceil(5 / 4)
        (28, (1, 10), 7),
        (100, (1, 10), 10),  # the maximum caps it
        (0, (0, 10), 0),  # inactive at a minimum of 0
        (1, (0, 10), 1),  # the first waiting task wakes the pool
        (3, (2, 10), 2),  # below the minimum's worth: the minimum
    ],
)
def test_desired_replicas_is_ceil_backlog_over_target_within_bounds(
    backlog: int, bounds: tuple[int, int], expected: int
) -> None:
    assert desired_replicas(backlog, scaler(*bounds)) == expected


def test_activation_keeps_a_pool_at_zero_until_the_backlog_passes_it() -> None:
    assert desired_replicas(3, scaler(0, 10, activation=3)) == 0
    assert desired_replicas(4, scaler(0, 10, activation=3)) == 1
    # With a minimum above zero, activation has no say.
    assert desired_replicas(0, scaler(1, 10, activation=3)) == 1


def test_the_llm_ceiling_takes_the_tightest_limit() -> None:
    tokens = LlmLimits(
        concurrency=4,
        seconds_per_activity=20,
        rate_limit_per_second=8,
        requests_per_minute=500,
        tokens_per_minute=2_000_000,
        tokens_per_activity=16_000,
    )
    ceiling = llm_ceiling(tokens)
    assert ceiling.binding == "token limit"
    assert ceiling.activities_per_second == pytest.approx(2_000_000 / 60 / 16_000)
    assert ceiling.in_flight == pytest.approx(41.67, abs=0.01)
    assert ceiling.max_replicas == 10  # floor(41.67 / 4): 10 x 4 = 40 slots <= 41.67

    dispatch = LlmLimits(concurrency=2, seconds_per_activity=1.0, rate_limit_per_second=4.5)
    assert llm_ceiling(dispatch).binding == "dispatch limit"
    assert llm_ceiling(dispatch).max_replicas == 2  # 4.5 in flight / 2 slots

    requests = LlmLimits(
        concurrency=4, seconds_per_activity=30, requests_per_minute=120, requests_per_activity=3
    )
    assert llm_ceiling(requests).binding == "request limit"  # 120 / 60 / 3 = 0.67/s
    assert llm_ceiling(requests).max_replicas == 5  # 20 in flight / 4

    # Fewer activities in flight than one replica's slots: one replica, never zero.
    tiny = LlmLimits(concurrency=4, seconds_per_activity=0.07, rate_limit_per_second=2)
    assert llm_ceiling(tiny).max_replicas == 1
    unlimited = llm_ceiling(LlmLimits(concurrency=4, seconds_per_activity=1))
    assert unlimited.max_replicas is None
    assert math.isinf(unlimited.activities_per_second)


def _report() -> dict[str, Any]:
    backlog = {queue.value: [[0.0, 0], [5.0, 0], [10.0, 0]] for queue in QUEUE_OF_POOL.values()}
    backlog[QUEUE_OF_POOL[PoolName.LLM].value] = [[0.0, 0], [5.0, 6], [10.0, 13]]
    return {
        "scenario": "llm-capped",
        "drive": "each",
        "duration_seconds": 10.0,
        "started": "20260101T000000Z",
        "provider": {"latency_seconds": 1.0, "requests_per_minute": 300, "tokens_per_minute": 3e6},
        "llm_rate_limit_per_second": 4.5,
        "runs": [
            {
                "label": "llm=1",
                "processes": {pool.value: 1 for pool in POOLS},
                "backlog": backlog,
                "queues": {"llm-queue": {"activity_ms_p50": 1000.0}},
                "provider": {"requests": 20, "tokens": 140_000},
            }
        ],
    }


def test_replica_trace_follows_each_queues_backlog() -> None:
    scalers = {
        pool: QueueScaler(pool, QUEUE_OF_POOL[pool].value, "activity", 4, 0, 1, 10)
        for pool in POOLS
    }
    traces = replica_trace(_report()["runs"][0], scalers)
    assert [replicas for _, _, replicas in traces[PoolName.LLM].samples] == [1, 2, 4]
    assert traces[PoolName.LLM].peak_backlog == 13
    assert traces[PoolName.PARSE].peak_replicas == 1


def test_the_command_prints_the_trace_for_rendered_manifests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.ops.test_kubernetes import OVERLAYS, render

    [production] = [path for path in OVERLAYS if path.name == "production"]
    manifests = tmp_path / "production.yaml"
    manifests.write_text(render(production))
    report = tmp_path / "report.json"
    report.write_text(json.dumps(_report()))
    assert main([str(report), "--manifests", str(manifests)]) == 0
    out = capsys.readouterr().out
    assert "Calculation, not a cluster run" in out
    assert "at most 10 replicas" in out  # the production overlay's llm ceiling
    # The run's own limits: 4.5/s x 1 s = 4.5 in flight over the scenario's 2 slots.
    assert "4.50 activities/s (dispatch limit)" in out
    assert "at most 2 replicas" in out
    assert "13 -> 4" in out  # ceil(13 / 4) on llm-queue

    broken = tmp_path / "broken.yaml"
    broken.write_text(manifests.read_text().replace("taskQueue: llm-queue", "taskQueue: other"))
    assert main([str(report), "--manifests", str(broken)]) == 1
    assert "no pool polls 'other'" in capsys.readouterr().err
