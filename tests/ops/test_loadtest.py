"""The load-test command: its fake provider, its figures, and whole runs on the local stack."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from cli import main as cli_main
from operator_tools.fakes.openai_server import FakeOpenAIServer
from operator_tools.fakes.replies import plainest_value
from operator_tools.loadtest import Load
from operator_tools.loadtest._cpu import DRIVER, cores_used, snapshot
from operator_tools.loadtest._observe import Attempt, BacklogSample, percentile, queue_figures
from operator_tools.loadtest._report import compare
from operator_tools.loadtest._scenarios import SCENARIOS
from operator_tools.loadtest.runner import LoadTestRequest, _process_sizes, _streams

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "findings": {"type": "array", "items": {"$ref": "#/$defs/Finding"}},
        "governing_law": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "confidence": {"type": "number"},
    },
    "$defs": {"Finding": {"type": "object", "properties": {"quote": {"type": "string"}}}},
}


def ask(provider: FakeOpenAIServer, text: str = "a short contract") -> Any:
    client = openai.OpenAI(base_url=provider.base_url, api_key="sk-test", max_retries=0)
    return client.chat.completions.create(
        model="fake",
        messages=[{"role": "user", "content": text}],
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": SCHEMA}},
    )


def test_the_fake_provider_answers_with_what_the_schema_accepts() -> None:
    with FakeOpenAIServer("plain") as provider:
        reply = ask(provider)
    answer = json.loads(reply.choices[0].message.content or "")
    assert answer == {
        "summary": "A load-test answer.",
        "findings": [],
        "governing_law": None,
        "confidence": 0.0,
    }
    assert reply.usage is not None
    assert reply.usage.total_tokens > 0
    assert plainest_value({"enum": ["a", "b"]}, {}) == "a"


def test_over_its_requests_per_minute_it_answers_429_with_retry_after() -> None:
    with FakeOpenAIServer("plain", requests_per_minute=2) as provider:
        ask(provider)
        ask(provider)
        with pytest.raises(openai.RateLimitError) as refused:
            ask(provider)
        stats = provider.stats()
    retry_after = int(refused.value.response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert refused.value.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert (stats.requests, stats.answered, stats.rate_limited) == (3, 2, 1)


def test_over_its_tokens_per_minute_it_refuses_a_large_request_but_not_a_small_one() -> None:
    with FakeOpenAIServer("plain", tokens_per_minute=400) as provider:
        ask(provider, "x" * 800)  # about 200 tokens
        with pytest.raises(openai.RateLimitError):
            ask(provider, "x" * 1200)  # about 300 more: over the minute's 400
        ask(provider, "tiny")
        assert provider.stats().rate_limited == 1


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(map(float, range(1, 101))), 95) == pytest.approx(95.05)


def attempt(at: float, queue: str = "parse-queue", **overrides: Any) -> Attempt:
    values: dict[str, Any] = {
        "at": at,
        "process": "parse-0",
        "task_queue": queue,
        "activity": "parse_pdf",
        "outcome": "completed",
        "duration_ms": 100.0,
        "schedule_to_start_ms": 10.0,
        "error_type": None,
    }
    values.update(overrides)
    return Attempt(**values)


def test_queue_figures_count_only_the_window_after_warmup() -> None:
    attempts = [
        attempt(1000.5),  # during warm-up: not counted
        *(attempt(1002.0 + i, process=f"parse-{i % 2}") for i in range(8)),
        attempt(1005.0, outcome="failed", error_type="PDFParseError", duration_ms=5.0),
        attempt(1005.0, queue="llm-queue"),
        attempt(1011.0),  # after the window
    ]
    backlog = [BacklogSample(1000.0 + i, "parse-queue", i, 0.5 * i, 1.0, 1.0, 2) for i in range(10)]
    figures = queue_figures(
        "parse-queue", attempts, backlog, start=1000.0, end=1010.0, warmup=2.0, bucket_seconds=5
    )
    assert figures.completed == 8
    assert figures.throughput_per_second == 1.0
    assert figures.failed == 1
    assert figures.errors == {"PDFParseError": 1}
    assert figures.completed_by_process == {"parse-0": 4, "parse-1": 4}
    assert figures.activity_ms_p50 == 100.0
    assert figures.backlog_max == 9
    assert figures.pollers == 2
    assert [point["t"] for point in figures.timeline] == [2.5, 7.5]
    assert [point["throughput"] for point in figures.timeline] == [0.8, 1.0]


def test_planning_varies_one_pool_and_replaces_the_driven_load() -> None:
    scenario = SCENARIOS["parse-bound"]
    request = LoadTestRequest(scenario="parse-bound")
    assert _process_sizes(request, scenario) == [
        {"workflow": 1, "parse": 1, "llm": 1, "store": 1},
        {"workflow": 1, "parse": 2, "llm": 1, "store": 1},
    ]
    with pytest.raises(ValueError, match="only one pool"):
        _process_sizes(LoadTestRequest(scenario="parse-bound", workers={"llm": [1, 2]}), scenario)
    alone = LoadTestRequest(scenario="parse-bound", drive="llm", load=Load(rate=3.0))
    assert _streams(alone, scenario) == {"llm-queue": Load(rate=3.0)}
    assert set(_streams(request, scenario)) == {"parse-queue", "llm-queue", "store-queue"}
    assert _streams(LoadTestRequest(scenario="store-bound", drive="pipeline"), scenario) == {
        "pipeline": scenario.loads["parse-queue"]
    }
    with pytest.raises(ValueError, match="either a concurrency or a rate"):
        Load()


def run_figures(parse: float, llm: float, *, processes: int) -> dict[str, Any]:
    def queue(throughput: float) -> dict[str, Any]:
        return {
            "throughput_per_second": throughput,
            "schedule_to_start_ms_p95": 10.0,
            "activity_ms_p50": 100.0,
        }

    return {
        "label": f"parse={processes}",
        "queues": {"parse-queue": queue(parse), "llm-queue": queue(llm), "store-queue": queue(1)},
    }


def test_the_comparison_flags_only_changes_beyond_noise() -> None:
    comparison = compare([run_figures(1.0, 1.0, processes=1), run_figures(1.9, 1.05, processes=2)])
    assert comparison["queues"]["parse-queue"]["throughput_ratio"] == 1.9
    assert comparison["queues"]["parse-queue"]["throughput_changed"] is True
    assert comparison["queues"]["llm-queue"]["throughput_changed"] is False
    assert compare([run_figures(1.0, 1.0, processes=1)]) == {}


@pytest.mark.integration
def test_a_short_store_bound_run_reports_every_queue_and_draws_the_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli_main(
        [
            "loadtest",
            "--scenario",
            "store-bound",
            "--store-workers",
            "2",
            "--duration",
            "8",
            "--warmup",
            "1",
            "--output",
            str(tmp_path),
        ]
    )
    assert status == 0
    assert "report:" in capsys.readouterr().out
    report = json.loads((tmp_path / "store-bound.json").read_text())
    [run] = report["runs"]
    assert run["processes"] == {"workflow": 1, "parse": 1, "llm": 1, "store": 2}
    assert run["exited_early"] == []
    for queue in ("parse-queue", "llm-queue", "store-queue"):
        figures = run["queues"][queue]
        assert figures["completed"] > 0, queue
        assert figures["schedule_to_start_ms_p50"] is not None
        assert figures["errors"] == {}
    # Both store processes took work; their slow inserts made the queue back up.
    assert set(run["queues"]["store-queue"]["completed_by_process"]) == {"store-0", "store-1"}
    assert run["queues"]["store-queue"]["activity_ms_p50"] >= 250
    assert run["provider"]["requests"] > 0
    assert run["metrics"]["charmelio_pages_parsed_total"] > 0
    assert run["metrics"]["charmelio_llm_tokens_total"] > 0
    assert any(sample[1] > 0 for sample in run["backlog"]["store-queue"])
    assert (tmp_path / "store-bound.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.integration
def test_the_pipeline_drive_runs_whole_extractions(tmp_path: Path) -> None:
    from operator_tools.loadtest.runner import run_loadtest

    report, _, png = run_loadtest(
        LoadTestRequest(
            scenario="llm-capped",
            drive="pipeline",
            workers={"llm": [1]},
            duration=8,
            warmup=1,
            load=Load(concurrency=3),
            output_dir=tmp_path,
        ),
        log=lambda _: None,
    )
    [run] = report["runs"]
    pipeline = run["streams"]["pipeline"]
    assert pipeline["load"] == "3 in flight"
    assert pipeline["completed"] > 0
    assert pipeline["failed"] == 0
    for queue in ("parse-queue", "llm-queue", "store-queue"):
        assert run["queues"][queue]["completed"] > 0
    assert png.exists()


def test_with_rounds_the_comparison_takes_each_sizes_median_and_lists_each_rounds_ratio() -> None:
    # Rounds alternate the sizes; the slow spell in round 2 falls on the two-process run.
    runs = [
        run_figures(1.0, 1.0, processes=1),
        run_figures(1.8, 1.0, processes=2),
        run_figures(1.1, 1.0, processes=1),
        run_figures(1.2, 1.0, processes=2),
        run_figures(0.9, 1.0, processes=1),
        run_figures(1.9, 1.0, processes=2),
    ]
    comparison = compare(runs)
    assert comparison["rounds"] == 3
    parse = comparison["queues"]["parse-queue"]
    assert parse["throughput_ratio"] == 1.8  # median 1.8 over median 1.0, not the mean
    assert parse["throughput_ratio_per_round"] == [1.8, 1.091, 2.111]
    assert comparison["queues"]["llm-queue"]["throughput_ratio"] == 1.0


def test_cpu_is_counted_per_process_tree_and_grouped_by_pool() -> None:
    busy = "import time\nend = time.process_time() + 1.0\nwhile time.process_time() < end: pass"
    spawn_busy_child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {busy!r}])"
    # A pool process whose live child burns CPU, as a parse worker's engine does.
    parent = subprocess.Popen(
        [sys.executable, "-c", f"import time; time.sleep(0.5); {spawn_busy_child}"]
    )
    # A process whose child burns CPU and exits before the window ends, as a Postgres backend.
    reaper = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys, time; input(); {spawn_busy_child}; print('reaped', flush=True);"
            " time.sleep(30)",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    processes = {"parse-0": parent.pid, "postgres": reaper.pid, "store-0": idle.pid}
    try:
        time.sleep(0.2)
        before = snapshot(processes)
        assert reaper.stdin
        assert reaper.stdout
        reaper.stdin.write("go\n")
        reaper.stdin.flush()
        assert reaper.stdout.readline() == "reaped\n"
        after = snapshot(processes)
    finally:
        parent.wait(10)
        for process in (reaper, idle):
            process.kill()
            process.wait()
    cores = cores_used(before, after)
    elapsed = after.at - before.at
    assert cores["postgres"] * elapsed > 0.8, cores  # the reaped child's second of CPU
    assert cores["parse"] * elapsed > 0.3, cores  # the live child's CPU inside the window
    assert cores.get("store", 0.0) < 0.1, cores
    assert DRIVER in cores
    assert list(cores) == sorted(cores, key=lambda group: -cores[group])
