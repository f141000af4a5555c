"""The messages between a parse worker and its engine process: JSON frames on a pipe.

JSON rather than pickle on purpose: the engine process feeds untrusted files to a C library. Were a
PDF ever to subvert it, a pickle frame would let it run code in the worker; a JSON frame is data.
Every frame the worker receives is checked field by field before it is believed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "EngineJob",
    "Event",
    "Failed",
    "Finished",
    "OcrMode",
    "Opened",
    "Page",
    "ProtocolError",
    "Ready",
    "Refused",
    "decode_event",
    "encode_event",
]

OcrMode = Literal["auto", "on", "off"]
RefusalKind = Literal["validation", "parse"]


class ProtocolError(RuntimeError):
    """A frame from the engine process that is not one this version of the worker sent for."""


@dataclass(frozen=True)
class EngineJob:
    """What the engine needs besides the PDF bytes, which follow as their own frame."""

    max_pages: int
    ocr: OcrMode
    ocr_language: str
    ocr_dpi: int
    tesseract_command: str
    ocr_page_timeout_seconds: float
    memory_limit_bytes: int
    cpu_seconds: float
    """Kernel CPU limit for this document: a backstop that stops an engine even if its worker is
    gone; the worker's own wall-clock guards normally act first."""

    def encode(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def decode(cls, frame: bytes) -> EngineJob:
        values = _object(frame)
        try:
            job = cls(**values)
        except TypeError as exc:
            raise ProtocolError(f"bad job frame: {exc}") from None
        if job.ocr not in ("auto", "on", "off"):
            raise ProtocolError(f"bad OCR mode {job.ocr!r}")
        return job


@dataclass(frozen=True)
class Ready:
    """Sent once when the engine process has loaded PDFium."""

    pid: int
    engine: str


@dataclass(frozen=True)
class Opened:
    """An engine opened the document. A second one means a fallback engine starts over."""

    engine: str
    page_count: int
    fallback_from: str | None = None
    """Why the previous engine was abandoned, when this is a fallback."""
    javascript_actions: int = 0
    """Document-level JavaScript actions (the /Names /JavaScript tree): never run, only counted."""
    attachments: int = 0
    """Embedded files (the /Names /EmbeddedFiles tree): their contents are not parsed."""


@dataclass(frozen=True)
class Page:
    number: int
    text: str
    ocr: bool = False
    blank: bool = False
    """Nothing is drawn on the page (no text, no ink at a low-resolution check): not OCR'd."""


@dataclass(frozen=True)
class Finished:
    engine_warnings: int
    ocr_engine: str | None
    peak_rss_bytes: int


@dataclass(frozen=True)
class Refused:
    """The document itself is the problem: the worker turns this into a typed, final error."""

    kind: RefusalKind
    reason: str
    message: str
    details: dict[str, int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    """The engine could not do its job for a reason that is not the document's (e.g. OCR set up
    wrong on this machine); another attempt, perhaps on another worker, may succeed."""

    message: str


Event: TypeAlias = Ready | Opened | Page | Finished | Refused | Failed
_EVENTS: dict[str, type[Event]] = {
    cls.__name__: cls for cls in (Ready, Opened, Page, Finished, Refused, Failed)
}
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "pid": (int,),
    "engine": (str,),
    "page_count": (int,),
    "fallback_from": (str, type(None)),
    "number": (int,),
    "text": (str,),
    "ocr": (bool,),
    "blank": (bool,),
    "engine_warnings": (int,),
    "javascript_actions": (int,),
    "attachments": (int,),
    "ocr_engine": (str, type(None)),
    "peak_rss_bytes": (int,),
    "kind": (str,),
    "reason": (str,),
    "message": (str,),
    "details": (dict,),
}


def encode_event(event: Event) -> bytes:
    return json.dumps({"event": type(event).__name__, **asdict(event)}).encode()


def decode_event(frame: bytes) -> Event:
    values = _object(frame)
    cls = _EVENTS.get(str(values.pop("event", "")))
    if cls is None:
        raise ProtocolError("frame without a known event name")
    for name, value in values.items():
        expected = _FIELD_TYPES.get(name)
        if expected is None or not isinstance(value, expected):
            raise ProtocolError(f"{cls.__name__} frame has a bad field {name!r}")
        if isinstance(value, bool) and bool not in expected:
            raise ProtocolError(f"{cls.__name__} frame has a bad field {name!r}")
    if cls is Refused and values.get("kind") not in ("validation", "parse"):
        raise ProtocolError("Refused frame has a bad kind")
    try:
        return cls(**values)
    except TypeError as exc:
        raise ProtocolError(f"bad {cls.__name__} frame: {exc}") from None


def _object(frame: bytes) -> dict[str, Any]:
    try:
        values = json.loads(frame)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"frame is not JSON: {exc}") from None
    if not isinstance(values, dict):
        raise ProtocolError("frame is not a JSON object")
    return values
