"""The load test's outputs: a JSON report, a PNG chart, and a table on the terminal."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from charmelio.stages import QUEUE_OF_POOL
from operator_tools.loadtest._scenarios import STAGE_QUEUES

# Within this relative change a figure counts as unchanged (two short runs on a shared machine).
NOISE = 0.15


def _ratio(new: float | None, old: float | None) -> float | None:
    if new is None or old is None or old == 0:
        return None
    return round(new / old, 3)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def _medians(runs: list[dict[str, Any]], queue: str, figure: str) -> float | None:
    return _median([v for run in runs if (v := run["queues"][queue][figure]) is not None])


def compare(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each queue's figures at the last pool size relative to the first: what adding processes did.

    With several rounds, a size's figure is the median of its runs, and the ratio of each round's
    pair is listed too, so the spread is in view.
    """
    if not runs or runs[0]["label"] == runs[-1]["label"]:
        return {}
    first_label, last_label = runs[0]["label"], runs[-1]["label"]
    firsts = [run for run in runs if run["label"] == first_label]
    lasts = [run for run in runs if run["label"] == last_label]
    result: dict[str, Any] = {
        "from": first_label,
        "to": last_label,
        "rounds": min(len(firsts), len(lasts)),
        "queues": {},
    }
    throughput = "throughput_per_second"
    for queue in STAGE_QUEUES:
        ratio = _ratio(_medians(lasts, queue, throughput), _medians(firsts, queue, throughput))
        result["queues"][queue] = {
            "throughput_ratio": ratio,
            "throughput_changed": ratio is not None and abs(ratio - 1) > NOISE,
            "throughput_ratio_per_round": [
                _ratio(new["queues"][queue][throughput], old["queues"][queue][throughput])
                for old, new in zip(firsts, lasts, strict=False)
            ],
            "schedule_to_start_ms_p95": [
                _medians(firsts, queue, "schedule_to_start_ms_p95"),
                _medians(lasts, queue, "schedule_to_start_ms_p95"),
            ],
            "activity_ms_p50_ratio": _ratio(
                _medians(lasts, queue, "activity_ms_p50"),
                _medians(firsts, queue, "activity_ms_p50"),
            ),
        }
    return result


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def write_chart(report: dict[str, Any], path: Path) -> None:
    """Backlog and throughput over time, one row per run, one line per queue."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    runs = report["runs"]
    queues = tuple(QUEUE_OF_POOL.values())
    colours = {queue: f"C{index}" for index, queue in enumerate(queues)}
    figure, axes = pyplot.subplots(
        len(runs), 2, figsize=(12, 3.2 * len(runs)), squeeze=False, sharex=True
    )
    for row, run in zip(axes, runs, strict=True):
        backlog_axis, throughput_axis = row
        for queue, points in run["backlog"].items():
            if points:
                backlog_axis.plot(
                    [p[0] for p in points],
                    [p[1] for p in points],
                    label=queue,
                    color=colours[queue],
                )
        for queue, figures in run["queues"].items():
            timeline = figures["timeline"]
            throughput_axis.plot(
                [p["t"] for p in timeline],
                [p["throughput"] for p in timeline],
                marker="o",
                markersize=3,
                label=queue,
                color=colours[queue],
            )
        name = run["label"] + (f", round {run['round']}" if report.get("rounds", 1) > 1 else "")
        backlog_axis.set_title(f"{name}: backlog (tasks)", fontsize=10)
        throughput_axis.set_title(f"{name}: completed activities/s", fontsize=10)
        for axis in row:
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8, loc="upper left")
            axis.set_ylim(bottom=0)
    for axis in axes[-1]:
        axis.set_xlabel("seconds since the load started")
    figure.suptitle(f"charmelio loadtest: {report['scenario']} ({report['drive']})")
    figure.tight_layout(rect=(0, 0, 1, 0.98))
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def render(report: dict[str, Any]) -> str:
    lines = [
        f"scenario {report['scenario']}: {report['description']}",
        f"drive {report['drive']}, {report['duration_seconds']:g} s per run "
        f"(first {report['warmup_seconds']:g} s not counted), {report['cpus']} CPUs",
        "",
        f"{'run':<34} {'queue':<12} {'procs':>5} {'done/s':>7} {'s2s p50':>8} {'s2s p95':>8}"
        f" {'act p50':>8} {'act p95':>8} {'backlog':>7}  errors",
    ]
    for run in report["runs"]:
        for queue, figures in run["queues"].items():
            errors = ", ".join(f"{k} {v}" for k, v in figures["errors"].items()) or "-"
            lines.append(
                f"{run['label']:<34} {queue:<12} {figures['pollers']:>5}"
                f" {_cell(figures['throughput_per_second']):>7}"
                f" {_cell(figures['schedule_to_start_ms_p50']):>8}"
                f" {_cell(figures['schedule_to_start_ms_p95']):>8}"
                f" {_cell(figures['activity_ms_p50']):>8} {_cell(figures['activity_ms_p95']):>8}"
                f" {figures['backlog_max']:>7}  {errors}"
            )
        provider = run["provider"]
        lines.append(
            f"{'':<34} provider: {provider['requests']} requests, {provider['rate_limited']}"
            f" answered 429, {provider['tokens']} tokens; pages parsed"
            f" {run['metrics'].get('charmelio_pages_parsed_total', 0):g}"
        )
        cpu = run.get("cpu_cores")
        if cpu:
            lines.append(
                f"{'':<34} cores used: "
                + ", ".join(f"{group} {cores:.2f}" for group, cores in cpu.items())
                + f"; total {sum(cpu.values()):.2f} of {run['cpus']}"
            )
    comparison = report.get("comparison")
    if comparison:
        lines.append("")
        medians = f" (medians of {comparison['rounds']} rounds)" if comparison["rounds"] > 1 else ""
        lines.append(f"from {comparison['from']} to {comparison['to']}{medians}:")
        for queue, change in comparison["queues"].items():
            verdict = "changed" if change["throughput_changed"] else "unchanged (within noise)"
            per_round = ""
            if comparison["rounds"] > 1:
                ratios = ", ".join(_cell(r) for r in change["throughput_ratio_per_round"])
                per_round = f" (rounds: {ratios})"
            lines.append(
                f"  {queue:<12} throughput x{_cell(change['throughput_ratio'])}{per_round}"
                f"  {verdict}; schedule-to-start p95 {_cell(change['schedule_to_start_ms_p95'][0])}"
                f" -> {_cell(change['schedule_to_start_ms_p95'][1])} ms"
            )
    return "\n".join(lines)
