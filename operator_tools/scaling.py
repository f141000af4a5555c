"""What KEDA's `temporal` scaler would do with a measured backlog, and the llm pool's ceiling.

Two calculations, neither a cluster run:

- `desired_replicas`: KEDA's scaler reports a task queue's approximate backlog (the figure
  `charmelio loadtest` samples every second from the same DescribeTaskQueue call), and the HPA
  turns it into ``ceil(backlog / targetQueueSize)`` bounded by the ScaledObject's min and max; a
  pool at a minimum of 0 wakes only once the backlog passes ``activationTargetQueueSize``.
  `replica_trace` applies that to every sample of a load-test report, per pool, with the bounds of
  a rendered overlay.
- `llm_ceiling`: the most llm replicas the provider's limits can keep busy. The dispatch, request
  and token limits cap the activities a second (A); at A, Little's law puts ``A x seconds per
  activity`` activities in flight; replicas beyond ``that / concurrency`` would only add slots
  that wait for budget.

``python -m operator_tools.scaling REPORT.json --manifests RENDERED.yaml`` prints both for a
load-test report and an overlay rendered with ``kubectl kustomize`` (``-`` reads stdin).
What it leaves out, on purpose: the HPA's 15 s sync and 10 % tolerance, the scale-down
stabilization window and pod start-up time; so it says how many replicas the formula asks for
at each sample, not when a cluster would have them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charmelio.contract import TaskQueue
from charmelio.stages import POOLS, QUEUE_OF_POOL, PoolName, pool_of_queue

__all__ = [
    "LLM_ANNOTATIONS",
    "POOL_LABEL",
    "LlmCeiling",
    "LlmLimits",
    "QueueScaler",
    "container_settings",
    "desired_replicas",
    "llm_ceiling",
    "llm_limits",
    "load_manifests",
    "queue_scalers",
    "replica_trace",
]

# The label every pool's Deployment, PodDisruptionBudget and ScaledObject carries.
POOL_LABEL = "charmelio.dev/pool"
# The llm ScaledObject's measured per-activity figures, the inputs of its maximum.
LLM_ANNOTATIONS = {
    "seconds_per_activity": "charmelio.dev/llm-seconds-per-activity",
    "requests_per_activity": "charmelio.dev/llm-requests-per-activity",
    "tokens_per_activity": "charmelio.dev/llm-tokens-per-activity",
}


class ManifestError(ValueError):
    """The rendered manifests lack something the calculation needs."""


@dataclass(frozen=True)
class QueueScaler:
    """One ScaledObject's trigger, as the HPA uses it."""

    pool: PoolName
    task_queue: str
    queue_type: str
    target: int
    activation: int
    minimum: int
    maximum: int


def desired_replicas(backlog: int, scaler: QueueScaler) -> int:
    """KEDA's answer for one backlog sample: 0 while inactive at a minimum of 0, else the HPA's."""
    if backlog <= scaler.activation and scaler.minimum == 0:
        return 0
    wanted = math.ceil(backlog / scaler.target)
    return max(scaler.minimum, 1, min(scaler.maximum, wanted))


@dataclass(frozen=True)
class LlmLimits:
    """What caps the llm pool: the provider's limits, and what one activity costs."""

    concurrency: int
    seconds_per_activity: float
    rate_limit_per_second: float | None = None
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    requests_per_activity: float = 1.0
    tokens_per_activity: float = 0.0


@dataclass(frozen=True)
class LlmCeiling:
    activities_per_second: float  # math.inf when nothing limits the pool
    binding: str  # which limit sets it
    in_flight: float
    max_replicas: int | None  # None: no limit, so no ceiling from the provider


def llm_ceiling(limits: LlmLimits) -> LlmCeiling:
    """The most llm replicas the limits can use: replicas x concurrency <= A x seconds."""
    caps: dict[str, float] = {}
    if limits.rate_limit_per_second is not None:
        caps["dispatch limit"] = limits.rate_limit_per_second
    if limits.requests_per_minute is not None:
        caps["request limit"] = limits.requests_per_minute / 60 / limits.requests_per_activity
    if limits.tokens_per_minute is not None and limits.tokens_per_activity > 0:
        caps["token limit"] = limits.tokens_per_minute / 60 / limits.tokens_per_activity
    if not caps:
        return LlmCeiling(math.inf, "none", math.inf, None)
    binding = min(caps, key=lambda name: caps[name])
    rate = caps[binding]
    in_flight = rate * limits.seconds_per_activity
    # A pool needs one replica even when the limits keep fewer activities than its slots busy.
    replicas = max(1, math.floor(in_flight / limits.concurrency + 1e-9))
    return LlmCeiling(rate, binding, in_flight, replicas)


# --- reading rendered manifests ----------------------------------------------------------------


def load_manifests(text: str) -> list[dict[str, Any]]:
    """The objects of a rendered overlay (``kubectl kustomize`` output)."""
    import yaml

    return [doc for doc in yaml.safe_load_all(text) if doc]


def _of_kind(documents: Iterable[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [doc for doc in documents if doc.get("kind") == kind]


def _pool_object(documents: Sequence[Mapping[str, Any]], kind: str, pool: PoolName) -> Any:
    found = [
        doc
        for doc in _of_kind(documents, kind)
        if doc["metadata"].get("labels", {}).get(POOL_LABEL) == pool.value
    ]
    if len(found) != 1:
        raise ManifestError(f"expected one {kind} labelled {POOL_LABEL}={pool}, found {len(found)}")
    return found[0]


def container_settings(
    documents: Sequence[Mapping[str, Any]], container: Mapping[str, Any]
) -> dict[str, str]:
    """A container's literal environment: its ConfigMaps (envFrom), then its own ``env`` values.

    Secret references are left out: their values are not in any manifest.
    """
    config_maps = {doc["metadata"]["name"]: doc for doc in _of_kind(documents, "ConfigMap")}
    settings: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            if name not in config_maps:
                raise ManifestError(f"container {container['name']} reads missing ConfigMap {name}")
            settings.update(config_maps[name].get("data", {}))
    for variable in container.get("env", []):
        if "value" in variable:
            settings[variable["name"]] = str(variable["value"])
        else:
            settings.pop(variable["name"], None)
    return settings


def _pool_settings(documents: Sequence[Mapping[str, Any]], pool: PoolName) -> dict[str, str]:
    deployment = _pool_object(documents, "Deployment", pool)
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container_settings(documents, container)


def queue_scalers(documents: Sequence[Mapping[str, Any]]) -> dict[PoolName, QueueScaler]:
    """Each pool's ScaledObject trigger, keyed by pool (its queue must be the stage table's)."""
    scalers: dict[PoolName, QueueScaler] = {}
    for pool in POOLS:
        scaled = _pool_object(documents, "ScaledObject", pool)
        [trigger] = scaled["spec"]["triggers"]
        metadata = trigger["metadata"]
        queue = metadata["taskQueue"]
        if pool_of_queue(queue) != pool:
            raise ManifestError(f"the {pool} pool's ScaledObject watches {queue}")
        scalers[pool] = QueueScaler(
            pool=pool,
            task_queue=queue,
            queue_type=metadata["queueTypes"],
            target=int(metadata["targetQueueSize"]),
            activation=int(metadata.get("activationTargetQueueSize", "0")),
            minimum=int(scaled["spec"].get("minReplicaCount", 0)),
            maximum=int(scaled["spec"].get("maxReplicaCount", 100)),
        )
    return scalers


def _number(settings: Mapping[str, str], name: str) -> float | None:
    value = settings.get(name)
    return float(value) if value else None


def llm_limits(documents: Sequence[Mapping[str, Any]]) -> LlmLimits:
    """The llm pool's limits as the rendered manifests set them."""
    settings = _pool_settings(documents, PoolName.LLM)
    annotations = _pool_object(documents, "ScaledObject", PoolName.LLM)["metadata"].get(
        "annotations", {}
    )
    missing = [key for key in LLM_ANNOTATIONS.values() if key not in annotations]
    if missing:
        raise ManifestError(f"the llm ScaledObject lacks the annotations {', '.join(missing)}")
    return LlmLimits(
        concurrency=int(settings.get("CHARMELIO_LLM_CONCURRENCY", "4")),
        seconds_per_activity=float(annotations[LLM_ANNOTATIONS["seconds_per_activity"]]),
        rate_limit_per_second=_number(settings, "CHARMELIO_LLM_RATE_LIMIT_PER_SECOND"),
        requests_per_minute=_number(settings, "CHARMELIO_LLM_REQUESTS_PER_MINUTE"),
        tokens_per_minute=_number(settings, "CHARMELIO_LLM_TOKENS_PER_MINUTE"),
        requests_per_activity=float(annotations[LLM_ANNOTATIONS["requests_per_activity"]]),
        tokens_per_activity=float(annotations[LLM_ANNOTATIONS["tokens_per_activity"]]),
    )


# --- applying it to a load-test report ---------------------------------------------------------


@dataclass(frozen=True)
class PoolTrace:
    pool: PoolName
    scaler: QueueScaler
    samples: list[tuple[float, int, int]]  # (seconds into the run, backlog, desired replicas)

    @property
    def peak_backlog(self) -> int:
        return max((backlog for _, backlog, _ in self.samples), default=0)

    @property
    def peak_replicas(self) -> int:
        return max((replicas for _, _, replicas in self.samples), default=self.scaler.minimum)


def replica_trace(
    run: Mapping[str, Any], scalers: Mapping[PoolName, QueueScaler]
) -> dict[PoolName, PoolTrace]:
    """Per pool, the replicas the formula asks for at each backlog sample of one load-test run."""
    traces: dict[PoolName, PoolTrace] = {}
    for pool, scaler in scalers.items():
        points = run["backlog"].get(scaler.task_queue, [])
        samples = [(float(t), int(b), desired_replicas(int(b), scaler)) for t, b in points]
        traces[pool] = PoolTrace(pool, scaler, samples)
    return traces


def run_limits(report: Mapping[str, Any], run: Mapping[str, Any]) -> LlmLimits | None:
    """The llm limits a load-test run itself had (its scenario's provider and settings)."""
    from operator_tools.loadtest import SCENARIOS

    scenario = SCENARIOS.get(report["scenario"])
    llm = run["queues"].get(TaskQueue.LLM.value, {})
    if scenario is None or not llm.get("activity_ms_p50"):
        return None
    provider = report.get("provider", {})
    served = run.get("provider", {})
    requests = served.get("requests") or 0
    return LlmLimits(
        concurrency=int(scenario.worker_settings.get("CHARMELIO_LLM_CONCURRENCY", "4")),
        seconds_per_activity=llm["activity_ms_p50"] / 1000,
        rate_limit_per_second=report.get("llm_rate_limit_per_second"),
        requests_per_minute=provider.get("requests_per_minute"),
        tokens_per_minute=provider.get("tokens_per_minute"),
        tokens_per_activity=(served.get("tokens", 0) / requests) if requests else 0.0,
    )


def _describe_ceiling(ceiling: LlmCeiling, limits: LlmLimits) -> str:
    if ceiling.max_replicas is None:
        return "no provider limit set: no ceiling"
    return (
        f"A = {ceiling.activities_per_second:.2f} activities/s ({ceiling.binding}) x"
        f" {limits.seconds_per_activity:g} s = {ceiling.in_flight:.1f} in flight;"
        f" / {limits.concurrency} slots = at most {ceiling.max_replicas} replicas"
    )


def render(report: Mapping[str, Any], documents: Sequence[Mapping[str, Any]]) -> str:
    scalers = queue_scalers(documents)
    lines = [
        "Calculation, not a cluster run: desired = ceil(backlog / targetQueueSize), bounded by"
        " min/max, at each backlog sample.",
        f"load test: {report['scenario']}, drive {report['drive']},"
        f" {report['duration_seconds']:g} s, started {report['started']}",
    ]
    for scaler in scalers.values():
        lines.append(
            f"  {scaler.pool:<8} {scaler.task_queue:<17} queueTypes={scaler.queue_type:<8}"
            f" target={scaler.target:<3} min={scaler.minimum} max={scaler.maximum}"
        )
    limits = llm_limits(documents)
    lines.append(
        f"llm ceiling of these manifests: {_describe_ceiling(llm_ceiling(limits), limits)}"
    )
    for run in report["runs"]:
        traces = replica_trace(run, scalers)
        lines.append(f"\nrun {run['label']} (processes {run['processes']})")
        own = run_limits(report, run)
        if own is not None:
            lines.append(
                f"llm ceiling at this run's own limits: {_describe_ceiling(llm_ceiling(own), own)}"
            )
        header = "     t" + "".join(f"  {QUEUE_OF_POOL[pool]:>18}" for pool in traces)
        lines += [header, "      " + "  backlog->replicas" * len(traces)]
        length = max(len(trace.samples) for trace in traces.values())
        previous: list[str] = []
        for index in range(length):
            cells = []
            at = 0.0
            for trace in traces.values():
                if index < len(trace.samples):
                    at, backlog, replicas = trace.samples[index]
                    cells.append(f"{backlog:>10} -> {replicas:<4}")
                else:
                    cells.append(" " * 18)
            # Only the samples where something changed, and the last one.
            if cells != previous or index == length - 1:
                lines.append(
                    f"{round(at, 1) or 0.0:>6.1f}" + "".join(f"  {c}" for c in cells).rstrip()
                )
            previous = cells
        for trace in traces.values():
            lines.append(
                f"  {trace.pool:<8} peak backlog {trace.peak_backlog:>4},"
                f" peak replicas {trace.peak_replicas:>3}"
                f" ({trace.peak_replicas * trace.scaler.target} task slots at the target)"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m operator_tools.scaling",
        description="Replicas KEDA's formula gives each pool over a load test's backlog trace.",
    )
    parser.add_argument("report", type=Path, help="a `charmelio loadtest` JSON report")
    parser.add_argument(
        "--manifests",
        required=True,
        help="an overlay rendered by `kubectl kustomize` (a file, or - for stdin)",
    )
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.manifests == "-" else Path(args.manifests).read_text()
    try:
        report = json.loads(args.report.read_text(encoding="utf-8"))
        print(render(report, load_manifests(text)))
    except (OSError, ValueError, KeyError) as exc:
        print(f"python -m operator_tools.scaling: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
