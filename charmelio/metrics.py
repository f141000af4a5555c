"""Prometheus metrics of one process: the Temporal SDK's own and Charmelio's, on one endpoint.

Why one endpoint, served by the SDK: the SDK's Prometheus exporter lives in its Rust core and binds
its own HTTP port; a second exporter (prometheus-client) would need a second port per process or
a proxy between the two. Charmelio's instruments are created on the SDK runtime's `MetricMeter`
instead, so one scrape of ``http://HOST:CHARMELIO_METRICS_PORT/metrics`` returns both, with the
same conventions (``_total`` counters, durations in seconds) and no extra library in the workflow
pool's slim install.

Stage code does not know about metrics. `StageMetrics` is fed by the worker runtime's activity
interceptor, which sees every activity's result and error: pages from `ParsedDocument`, tokens and
dropped quotes from `ExtractionSummary`, provider 429s from the `LLMRateLimitedError` type, store
latency from how long `store_results` took.

``python -m charmelio.metrics ready`` is the container health check of a worker: it succeeds once
the process serves metrics and its worker has pollers on its queue.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from charmelio.contract import ActivityName, ErrorType, ExtractionSummary, ParsedDocument
from charmelio.settings import ConfigurationError, Settings

__all__ = [
    "STORE_LATENCY",
    "StageMetrics",
    "metrics_url",
    "scrape",
    "telemetry_runtime",
]

STORE_LATENCY = "charmelio_store_latency_seconds"
# A store takes milliseconds when healthy and up to its 30 s start-to-close timeout when not.
_BUCKETS: Mapping[str, Sequence[float]] = {
    STORE_LATENCY: (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
}
# Present once a worker polls its queue: the readiness signal of `ready`.
_POLLING_METRIC = "temporal_num_pollers"


def telemetry_runtime(settings: Settings, *, component: str) -> Runtime | None:
    """A Temporal runtime that serves Prometheus metrics, or None when metrics are off.

    Pass it to `Client.connect(runtime=...)`: every worker and client built on that connection
    reports into it. ``component`` becomes a label on every series (``workflow``, ``parse``,
    ``llm``, ``store``, ``api``), so replicas of one pool aggregate naturally.
    """
    if not settings.metrics_port:
        return None
    bind_address = f"{settings.metrics_host}:{settings.metrics_port}"
    try:
        return Runtime(
            telemetry=TelemetryConfig(
                metrics=PrometheusConfig(
                    bind_address=bind_address,
                    counters_total_suffix=True,
                    durations_as_seconds=True,
                    histogram_bucket_overrides=dict(_BUCKETS),
                ),
                global_tags={"component": component},
            )
        )
    except Exception as exc:  # the core reports a taken port or bad address as a plain error
        raise ConfigurationError(
            f"cannot serve metrics on {bind_address} (CHARMELIO_METRICS_HOST/PORT): {exc}"
        ) from exc


class StageMetrics:
    """Charmelio's own series, recorded from activity outcomes (see the module docstring)."""

    def __init__(self, meter: MetricMeter) -> None:
        self._documents_parsed = meter.create_counter(
            "charmelio_documents_parsed", "Documents parse_pdf turned into page texts."
        )
        self._pages_parsed = meter.create_counter(
            "charmelio_pages_parsed", "Pages parse_pdf read, over all documents."
        )
        self._tokens = meter.create_counter(
            "charmelio_llm_tokens", "Tokens the LLM provider reported for llm_extract calls."
        )
        self._quotes_dropped = meter.create_counter(
            "charmelio_quotes_dropped",
            "Findings dropped because their quote is not verbatim in the document.",
        )
        self._rate_limited = meter.create_counter(
            "charmelio_llm_rate_limited",
            "llm_extract attempts the provider refused with HTTP 429 (LLMRateLimitedError).",
        )
        self._errors = meter.create_counter(
            "charmelio_activity_errors", "Failed activity attempts, by activity and error type."
        )
        self._store_latency = meter.create_histogram_timedelta(
            STORE_LATENCY, "How long store_results attempts took, by outcome.", "s"
        )

    def activity_completed(
        self, activity_type: str, task_queue: str, result: Any, duration: timedelta
    ) -> None:
        queue = {"task_queue": task_queue}
        if isinstance(result, ParsedDocument):
            self._documents_parsed.add(1, queue)
            self._pages_parsed.add(result.page_count, queue)
        elif isinstance(result, ExtractionSummary):
            labels = {**queue, "provider": result.provider}
            if result.tokens_used:
                self._tokens.add(result.tokens_used, labels)
            self._quotes_dropped.add(result.quotes_dropped, labels)
        if activity_type == ActivityName.STORE_RESULTS:
            self._store_latency.record(duration, {**queue, "outcome": "completed"})

    def activity_failed(
        self, activity_type: str, task_queue: str, error_type: str, duration: timedelta
    ) -> None:
        labels = {"task_queue": task_queue, "activity": activity_type}
        self._errors.add(1, {**labels, "error_type": error_type})
        if error_type == ErrorType.LLM_RATE_LIMITED:
            self._rate_limited.add(1, labels)
        if activity_type == ActivityName.STORE_RESULTS:
            self._store_latency.record(duration, {"task_queue": task_queue, "outcome": "failed"})


def metrics_url(port: int, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{port}/metrics"


def scrape(port: int, host: str = "127.0.0.1", *, timeout: float = 5.0) -> str:
    """The text exposition of a process's metrics endpoint."""
    with urllib.request.urlopen(metrics_url(port, host), timeout=timeout) as response:  # noqa: S310
        body: bytes = response.read()
    return body.decode()


def _ready(port: int) -> int:
    try:
        text = scrape(port)
    except (OSError, urllib.error.URLError) as exc:
        print(f"not ready: no metrics on port {port}: {exc}", file=sys.stderr)
        return 1
    if not any(line.startswith(_POLLING_METRIC) for line in text.splitlines()):
        print("not ready: serving metrics but not polling yet", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m charmelio.metrics", description="Health check of a worker process."
    )
    parser.add_argument("check", choices=("ready",))
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("CHARMELIO_METRICS_PORT") or 0),
        help="metrics port (default: $CHARMELIO_METRICS_PORT)",
    )
    args = parser.parse_args(argv)
    if not args.port:
        print("metrics are off (CHARMELIO_METRICS_PORT is 0): nothing to check", file=sys.stderr)
        return 2
    return _ready(args.port)


if __name__ == "__main__":
    sys.exit(main())
