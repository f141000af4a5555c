"""Hostile PDFs through the real workflow and the real parse pool, with memory watched.

Same harness as tests/parse/test_parse_workflow.py (ExtractionWorkflow and the production parse pool
on a real Temporal dev server; llm and store are recording fakes under the real names). Each file
must end with exactly one parse attempt: parsed as text, or refused with its reason recorded; the
pool must parse a good contract afterwards; and the worker with its engine processes must stay
under a fixed memory bound throughout.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from charmelio.contract import ObjectKeys, ParsedPages
from charmelio.settings import Settings
from charmelio.storage.objects import LocalObjectStore
from operator_tools.fakes.stages import Calls
from tests.parse.pdfs import SMALL_CONTRACT, cuad
from tests.parse.test_parse_workflow import parse_attempts, pipeline, start
from tests.security.hostile_pdfs import (
    ATTACHMENT,
    INJECTED_SCRIPT,
    VISIBLE_LINE,
    deeply_nested,
    javascript_and_attachment,
    many_pages,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The test process hosts the workflow worker and the parse pool; the engine runs in children. The
# test process already holds whatever earlier tests loaded, so for it the bound is on its growth.
RSS_BOUND_BYTES = 400 * 1024 * 1024
ENGINE_MODULE = "parse_worker._engine_main"
GROWTH_BOUND_BYTES = 150 * 1024 * 1024

# name: (the file, the expected outcome: None when it must parse, else (error type, reason))
HOSTILE: dict[str, tuple[Callable[[], bytes], tuple[str, str] | None]] = {
    "javascript-and-attachment": (javascript_and_attachment, None),
    "nested-100k-deep": (deeply_nested, None),
    # PDFium refuses the garbled trailer, so pypdf's recursive parser meets the nesting.
    "nested-100k-deep-pypdf": (
        lambda: deeply_nested().replace(b"/Root", b"/Roox"),
        ("PDFParseError", "unreadable"),
    ),
    "5000-pages": (lambda: many_pages(5000), ("PDFValidationError", "too_many_pages")),
}


class PeakMemory:
    """Samples the RSS of this process and of its parse-engine children."""

    def __init__(self) -> None:
        self.own_start = psutil.Process().memory_info().rss
        self.own_peak = 0
        self.child_peak = 0
        self._stop = threading.Event()

    def sample(self) -> None:
        me = psutil.Process()
        self.own_peak = max(self.own_peak, me.memory_info().rss)
        for child in me.children(recursive=True):
            try:
                # Only the parse engines: session fixtures (the S3 server, fake providers) are
                # children too, and their memory grows with what earlier tests stored.
                if ENGINE_MODULE not in " ".join(child.cmdline()):
                    continue
                self.child_peak = max(self.child_peak, child.memory_info().rss)
            except psutil.Error:
                continue

    @contextmanager
    def watching(self, interval: float = 0.05) -> Iterator[PeakMemory]:
        def loop() -> None:
            while not self._stop.wait(interval):
                self.sample()

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()
            self.sample()


async def test_hostile_pdfs_end_after_one_attempt_and_the_pool_keeps_serving(
    temporal_client: Client, tmp_path: Path
) -> None:
    settings = Settings(
        storage_backend="local", storage_dir=tmp_path / "objects", parse_concurrency=2
    )
    store = LocalObjectStore(settings.storage_dir)
    run = uuid.uuid4().hex[:8]
    document_ids = {name: f"doc_{run}_{name}" for name in HOSTILE}
    for name, (make, _) in HOSTILE.items():
        store.put_bytes(ObjectKeys.document_pdf(document_ids[name]), make())
    good_id = f"doc_{run}_good"
    store.put_bytes(ObjectKeys.document_pdf(good_id), cuad(SMALL_CONTRACT))

    calls = Calls()
    seconds: dict[str, float] = {}
    with PeakMemory().watching() as memory:
        async with pipeline(temporal_client, settings, calls):
            for name, (_, expected) in HOSTILE.items():
                began = time.monotonic()
                handle = await start(temporal_client, document_ids[name])
                if expected is None:
                    result = await asyncio.wait_for(handle.result(), timeout=60)
                    assert result["status"] == "completed", name
                else:
                    with pytest.raises(WorkflowFailureError) as failure:
                        await asyncio.wait_for(handle.result(), timeout=60)
                    cause = failure.value.cause
                    assert isinstance(cause, ApplicationError), name
                    assert cause.type == expected[0], name
                seconds[name] = time.monotonic() - began
                assert await parse_attempts(handle) == [1], name

            good = await start(temporal_client, good_id)
            assert (await asyncio.wait_for(good.result(), timeout=60))["status"] == "completed"

    print(
        f"\nhostile PDFs: seconds per workflow { ({k: round(v, 2) for k, v in seconds.items()}) }, "
        f"worker RSS grew {(memory.own_peak - memory.own_start) >> 20} MB, "
        f"peak engine RSS {memory.child_peak >> 20} MB"
    )
    assert memory.own_peak - memory.own_start < GROWTH_BOUND_BYTES
    assert memory.child_peak < RSS_BOUND_BYTES

    reports = {report.document_id: report for report in calls.failures}
    stored = {request.document_id: request for request in calls.store}
    for name, (_, expected) in HOSTILE.items():
        document_id = document_ids[name]
        if expected is None:
            assert document_id not in reports, name
            parsed = stored[document_id].parsed
            pages = ParsedPages.model_validate_json(store.get_bytes(parsed.pages_key))
            text = pages.full_text()
            # The page's words, and nothing of the scripts or the attachment.
            assert VISIBLE_LINE in text, name
            assert "app.alert" not in text, name
            assert "launchURL" not in text, name
            assert INJECTED_SCRIPT.decode() not in text, name
            assert ATTACHMENT.decode("latin-1")[4:] not in text, name
            assert parsed.page_count == 1, name
            # Scripts and attached files are counted in what parse_pdf returns, never run or read.
            active = (1, 1) if name == "javascript-and-attachment" else (0, 0)
            assert (parsed.javascript_actions, parsed.attachments) == active, name
        else:
            error_type, reason = expected
            report = reports[document_id]
            assert report.error_type == error_type, name
            assert f"(reason: {reason})" in report.message, name
    assert stored[good_id].parsed.page_count == 4
    # Nothing the PDF carried was written out next to it: only the PDF and its page texts.
    scripted = document_ids["javascript-and-attachment"]
    assert {key for key in store.list_keys("") if scripted in key} == {
        ObjectKeys.document_pdf(scripted),
        ObjectKeys.parsed_pages(scripted),
    }
