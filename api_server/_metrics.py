"""Request metrics of the API process, on the same Prometheus endpoint as its Temporal client's.

The API's runtime is built like a worker's (`charmelio.metrics.telemetry_runtime`, component
``api``), so one scrape of ``CHARMELIO_METRICS_PORT`` returns the SDK's client series
(``temporal_request``, ``temporal_long_request``...) and these. Routes are labelled by their
template (``/api/extractions/{job_id}``), never by the path a client sent: ids in labels would
grow the series without bound and put document ids in the metrics.
"""

from __future__ import annotations

import time
from datetime import timedelta

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.common import MetricMeter

REQUESTS = "charmelio_api_requests"
REQUEST_DURATION = "charmelio_api_request_duration_seconds"
# What a request that matched no route (a 404 for an unknown path) is labelled.
UNMATCHED_ROUTE = "unmatched"


class RequestMetrics:
    """ASGI middleware: count every HTTP request and time it, by method, route and status."""

    def __init__(self, app: ASGIApp, meter: MetricMeter) -> None:
        self.app = app
        self._requests = meter.create_counter(
            REQUESTS, "HTTP requests the API answered, by method, route template and status."
        )
        self._duration = meter.create_histogram_timedelta(
            REQUEST_DURATION, "How long the API took to answer, by method and route template.", "s"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server sends when the app raises before starting a response

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            # The router records the matched route in the scope it was given: this one.
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            labels = {"method": str(scope["method"]), "route": route}
            self._requests.add(1, {**labels, "status": str(status)})
            self._duration.record(timedelta(seconds=time.perf_counter() - started), labels)
