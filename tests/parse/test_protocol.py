"""The JSON frames between worker and engine: round trips, and refusal of anything else.

The engine process parses hostile files, so the worker believes none of its frames unchecked.
"""

from __future__ import annotations

import json

import pytest

from parse_worker._engine_process import EngineFailure, EngineOutcome, _Document
from parse_worker._protocol import (
    EngineJob,
    Event,
    Failed,
    Finished,
    Opened,
    Page,
    ProtocolError,
    Ready,
    Refused,
    decode_event,
    encode_event,
)

EVENTS: list[Event] = [
    Ready(pid=12, engine="pdfium 1"),
    Opened(engine="pdfium 1", page_count=3),
    Opened(engine="pypdf 7", page_count=3, fallback_from="PDFium could not read page 2"),
    Page(number=1, text="Clause 1\nTerm", ocr=False),
    Page(number=2, text="scanned", ocr=True),
    Finished(engine_warnings=2, ocr_engine="tesseract 5.3.0", peak_rss_bytes=10),
    Refused(kind="validation", reason="encrypted", message="locked", details={"page": 2}),
    Failed(message="tesseract is missing"),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: type(event).__name__)
def test_events_round_trip(event: Event) -> None:
    assert decode_event(encode_event(event)) == event


def test_job_round_trips() -> None:
    job = EngineJob(
        max_pages=2000,
        ocr="auto",
        ocr_language="eng",
        ocr_dpi=300,
        tesseract_command="tesseract",
        ocr_page_timeout_seconds=35.0,
        memory_limit_bytes=512 << 20,
        cpu_seconds=510.0,
    )
    assert EngineJob.decode(job.encode()) == job


@pytest.mark.parametrize(
    "frame",
    [
        b"\x80\x04pickle",
        b"[1, 2]",
        b'{"event": "Exec", "code": "import os"}',
        b'{"page_count": 3, "engine": "x"}',
        b'{"event": "Page", "number": "1", "text": "x"}',
        b'{"event": "Page", "number": true, "text": "x"}',
        b'{"event": "Page", "number": 1, "text": "x", "extra": 1}',
        b'{"event": "Opened", "engine": "x"}',
        b'{"event": "Refused", "kind": "other", "reason": "r", "message": "m"}',
    ],
)
def test_anything_else_is_a_protocol_error(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_event(frame)


def test_a_job_with_an_unknown_ocr_mode_is_refused() -> None:
    values = json.loads(EngineJob(1, "off", "eng", 300, "tesseract", 1.0, 1 << 20, 1.0).encode())
    values["ocr"] = "sometimes"
    with pytest.raises(ProtocolError):
        EngineJob.decode(json.dumps(values).encode())


# --- the worker's view of one document ---------------------------------------------------------


def test_a_fallback_engine_starts_the_document_over() -> None:
    document = _Document(started=0.0)
    assert document.take(Opened(engine="pdfium", page_count=9)) is None
    assert document.take(Page(number=1, text="first try")) is None
    assert document.take(Opened(engine="pypdf", page_count=1, fallback_from="why")) is None
    assert document.take(Page(number=1, text="again")) is None
    outcome = document.take(Finished(engine_warnings=0, ocr_engine=None, peak_rss_bytes=1))
    assert isinstance(outcome, EngineOutcome)
    assert outcome.pages == [Page(number=1, text="again")]
    assert outcome.opened.engine == "pypdf"
    assert outcome.fallbacks == ["why"]


@pytest.mark.parametrize(
    "events",
    [
        [Page(number=1, text="before opening")],
        [Opened(engine="pdfium", page_count=2), Page(number=2, text="skipped one")],
        [Opened(engine="pdfium", page_count=1), Page(number=1, text=""), Page(number=2, text="")],
        [
            Opened(engine="pdfium", page_count=2),
            Page(number=1, text=""),
            Finished(engine_warnings=0, ocr_engine=None, peak_rss_bytes=1),
        ],
        [Ready(pid=1, engine="pdfium")],
        [Failed(message="tesseract exited with status 1")],
    ],
    ids=["page-first", "gap", "extra-page", "early-finish", "second-ready", "failed"],
)
def test_frames_out_of_order_are_an_engine_failure(events: list[Event]) -> None:
    document = _Document(started=0.0)
    *accepted, last = events
    for event in accepted:
        assert document.take(event) is None
    with pytest.raises(EngineFailure):
        document.take(last)
