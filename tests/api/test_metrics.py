"""The API process serves Prometheus metrics: its Temporal client's and its own requests'."""

from __future__ import annotations

import re
import time
import uuid

from api_server._metrics import REQUEST_DURATION, REQUESTS, UNMATCHED_ROUTE
from charmelio.metrics import scrape
from tests.api.conftest import ApiStack, unique_pdf_bytes


def series(text: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """Every sample of ``name``, by its label set."""
    found = {}
    for line in text.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if match and match.group(1) == name:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
            found[labels] = float(match.group(3))
    return found


def value(text: str, name: str, **labels: str) -> float:
    """The sum of ``name`` over the series whose labels include ``labels`` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for key, v in series(text, name).items() if wanted <= key)


def api_metrics(api: ApiStack) -> str:
    """The API's request counts once they have settled.

    A request is counted when its response has been sent, so a client can read its answer a
    moment before the count moves (seen on a busy machine): scrape until two scrapes agree.
    """
    [process] = api.stack.workers("api")
    assert process.metrics_port is not None
    port = process.metrics_port
    previous = value(scrape(port), f"{REQUESTS}_total")
    for _ in range(50):
        time.sleep(0.1)
        text = scrape(port)
        if (current := value(text, f"{REQUESTS}_total")) == previous:
            return text
        previous = current
    raise AssertionError("the API's request counts never settled")


def test_requests_are_counted_and_timed_by_route_template_and_status(api_stack: ApiStack) -> None:
    api = api_stack
    before = api_metrics(api)
    missing = f"doc_{uuid.uuid4().hex}"
    for _ in range(2):
        assert api.get(f"/api/documents/{missing}").status_code == 404
    assert api.get("/health").status_code == 200
    assert api.get(f"/no-such-page-{missing}").status_code == 404
    uploaded = api.post(
        "/api/documents",
        files={"file": ("m.pdf", unique_pdf_bytes(), "application/pdf")},
        params={"extract": "true"},
    )
    assert uploaded.status_code == 201, uploaded.text
    after = api_metrics(api)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests_total = f"{REQUESTS}_total"
    route = "/api/documents/{document_id}"
    assert delta(requests_total, method="GET", route=route, status="404") == 2
    assert delta(requests_total, method="GET", route="/health", status="200") == 1
    assert delta(requests_total, method="GET", route=UNMATCHED_ROUTE, status="404") == 1
    assert delta(requests_total, method="POST", route="/api/documents", status="201") == 1
    assert delta(f"{REQUEST_DURATION}_count", method="GET", route=route) == 2
    assert delta(f"{REQUEST_DURATION}_sum", method="GET", route=route) > 0
    # Ids stay out of the labels: a label per document would grow without bound.
    assert missing not in after
    ours = [line for line in after.splitlines() if line.startswith("charmelio_api_")]
    assert ours
    assert all('component="api"' in line for line in ours)

    # The SDK's client series, from the workflow the upload started.
    assert delta("temporal_request_total", operation="StartWorkflowExecution") >= 1
