"""What every worker process does the same way: connect, poll one queue, log, serve metrics
(``CHARMELIO_METRICS_PORT``), stop gracefully.

Each pool has its own entry point (``charmelio worker workflow|parse|llm|store``) that passes its
own queue, registrations and limits to `run_worker`.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

from temporalio import activity
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    Worker,
)
from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from charmelio.metrics import StageMetrics, telemetry_runtime
from charmelio.settings import ConfigurationError, Settings, load_settings
from charmelio.stages import PoolName

_log = logging.getLogger("charmelio.worker")
_activity_log = logging.getLogger("charmelio.activity")


def exit_process(code: int) -> NoReturn:
    """End a process that has used a Temporal client: exit handlers, flushed output, then exit
    without the interpreter's final teardown.

    The SDK's native runtime threads may still call into Python while the interpreter finalises
    and abort it ("PyGILState_Release: thread state ... must be current", temporalio/sdk-python
    issue 300): seen as a command that had printed its answer dying with SIGSEGV or SIGABRT.
    Exit handlers (the parse engines' cleanup) still run; only the teardown is skipped.
    """
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def client_options(settings: Settings) -> dict[str, Any]:
    """How every Charmelio process reaches Temporal: namespace, payload converter, and TLS or an
    API key (Temporal Cloud). Certificate files are read here, at start, so a wrong path fails the
    start with its name rather than the first call."""
    options: dict[str, Any] = {
        "namespace": settings.temporal_namespace,
        "data_converter": pydantic_data_converter,
    }
    if settings.temporal_api_key is not None:
        options["api_key"] = settings.temporal_api_key.get_secret_value()
    if settings.temporal_uses_tls:
        options["tls"] = TLSConfig(
            server_root_ca_cert=_read(settings.temporal_tls_server_ca_path, "SERVER_CA"),
            client_cert=_read(settings.temporal_tls_client_cert_path, "CLIENT_CERT"),
            client_private_key=_read(settings.temporal_tls_client_key_path, "CLIENT_KEY"),
        )
    return options


def _read(path: Path | None, which: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"CHARMELIO_TEMPORAL_TLS_{which}_PATH={path}: {exc.strerror or exc}"
        ) from None


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """Connect to Temporal, waiting for it to come up (start-up order in a stack is not ours).

    ``runtime`` carries the process's metrics (`charmelio.metrics.telemetry_runtime`); without it
    the SDK's default runtime reports nothing.
    """
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(RuntimeError),
        wait=wait_exponential(multiplier=0.2, max=5),
        stop=stop_after_delay(settings.temporal_connect_timeout_seconds),
        before_sleep=before_sleep_log(_log, logging.INFO),
        reraise=True,
    ):
        with attempt:
            return await Client.connect(
                settings.temporal_address, runtime=runtime, **client_options(settings)
            )
    raise AssertionError("unreachable")  # pragma: no cover


class _ActivityObserver(Interceptor):
    def __init__(self, metrics: StageMetrics) -> None:
        self._metrics = metrics

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityObservation(next, self._metrics)


def _milliseconds(delta: timedelta) -> float:
    return round(delta.total_seconds() * 1000, 1)


class _ActivityObservation(ActivityInboundInterceptor):
    """One structured line and the stage metrics per activity attempt.

    The line says what ran, for which workflow, how long it waited in the queue
    (``schedule_to_start_ms``: from this attempt's scheduling to its start, both server times), how
    long it ran and the outcome; `charmelio loadtest` reads these lines for its per-queue figures.
    """

    def __init__(self, next: ActivityInboundInterceptor, metrics: StageMetrics) -> None:
        super().__init__(next)
        self._metrics = metrics

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        line: dict[str, Any] = {
            "activity": info.activity_type,
            "task_queue": info.task_queue,
            "workflow_id": info.workflow_id,
            "attempt": info.attempt,
            "schedule_to_start_ms": _milliseconds(
                info.started_time - info.current_attempt_scheduled_time
            ),
        }
        started = time.monotonic()
        try:
            result = await self.next.execute_activity(input)
        except BaseException as exc:
            duration = timedelta(seconds=time.monotonic() - started)
            error_type = (
                exc.type if isinstance(exc, ApplicationError) and exc.type else type(exc).__name__
            )
            line.update(
                outcome="failed",
                error_type=error_type,
                error=str(exc)[:500],
                duration_ms=_milliseconds(duration),
            )
            _activity_log.warning("activity failed", extra=line)
            self._metrics.activity_failed(info.activity_type, info.task_queue, error_type, duration)
            raise
        duration = timedelta(seconds=time.monotonic() - started)
        line.update(outcome="completed", duration_ms=_milliseconds(duration))
        _activity_log.info("activity completed", extra=line)
        self._metrics.activity_completed(info.activity_type, info.task_queue, result, duration)
        return result


@dataclass(frozen=True)
class PoolSpec:
    """What one pool polls and how much it takes on at once."""

    name: str
    task_queue: str
    concurrency: int
    activities: Sequence[Callable[..., Any]] = ()
    workflows: Sequence[type] = ()
    queue_rate_limit: float | None = None
    on_start: Sequence[Callable[[], None]] = field(default_factory=tuple)


def build_worker(
    client: Client, spec: PoolSpec, settings: Settings, metrics: StageMetrics | None = None
) -> Worker:
    """The pool's worker. ``metrics`` defaults to instruments on the client's runtime."""
    if spec.activities:
        if metrics is None:
            runtime = client.service_client.config.runtime or Runtime.default()
            metrics = StageMetrics(runtime.metric_meter)
        # Slots equal threads: with more slots than threads, accepted tasks would wait inside the
        # executor while their start-to-close clock runs.
        return Worker(
            client,
            task_queue=spec.task_queue,
            activities=spec.activities,
            activity_executor=ThreadPoolExecutor(
                max_workers=spec.concurrency, thread_name_prefix=f"{spec.name}-activity"
            ),
            max_concurrent_activities=spec.concurrency,
            max_task_queue_activities_per_second=spec.queue_rate_limit,
            graceful_shutdown_timeout=timedelta(seconds=settings.shutdown_grace_seconds),
            interceptors=[_ActivityObserver(metrics)],
        )
    return Worker(
        client,
        task_queue=spec.task_queue,
        workflows=spec.workflows,
        max_concurrent_workflow_tasks=spec.concurrency,
        graceful_shutdown_timeout=timedelta(seconds=settings.shutdown_grace_seconds),
    )


def run_pool(pool: PoolName, build: Callable[[Settings], PoolSpec]) -> int:
    """A pool process's main (``python -m parse_worker``, ``charmelio worker parse``): settings,
    logging, the pool's own spec, then `run_worker` until a signal.

    A configuration error is one line on stderr and exit status 2, never a traceback: it is the
    operator's to fix, and a supervisor restarting the process would only print it again.
    """
    from charmelio.logs import configure_logging

    try:
        settings = load_settings()
        configure_logging(settings.log_level, pool=pool.value)
        spec = build(settings)
        asyncio.run(run_worker(spec, settings))
    except ConfigurationError as exc:
        print(f"charmelio {pool.value} worker: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


async def run_worker(spec: PoolSpec, settings: Settings) -> None:
    """Run one pool's worker until SIGTERM or SIGINT, then finish in-flight work and exit."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    for prepare in spec.on_start:
        await asyncio.to_thread(prepare)
    runtime = telemetry_runtime(settings, component=spec.name)
    client = await connect(settings, runtime=runtime)
    worker = build_worker(client, spec, settings)
    _log.info(
        "worker started",
        extra={
            "task_queue": spec.task_queue,
            "concurrency": spec.concurrency,
            "queue_rate_limit": spec.queue_rate_limit,
            "temporal": settings.temporal_address,
            "metrics_port": settings.metrics_port or None,
        },
    )
    async with worker:
        await stop.wait()
        _log.info(
            "stopping: finishing in-flight work",
            extra={"grace_seconds": settings.shutdown_grace_seconds},
        )
    _log.info("worker stopped", extra={"task_queue": spec.task_queue})
