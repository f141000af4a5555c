"""The engine process: a long-lived child of a parse worker that turns PDF bytes into page events.

Started by `parse_worker._engine_process` as ``python -m parse_worker._engine_main READ_FD
WRITE_FD PARENT_PID``. It parses one document at a time, streaming one JSON frame per page, so the
worker can heartbeat, enforce its time limits and kill this process at any moment: the only way to
stop a C call in PDFium. Each document runs under kernel limits (address space and CPU time), and
the process dies with its worker, so neither a hostile file nor a dead worker leaves it running.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import gc
import os
import resource
import signal
import sys
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from parse_worker._engines import PDFIUM_ENGINE, OcrSetup, Refusal, extract_document
from parse_worker._ocr import OcrFailed, OcrUnavailable, Tesseract, find_tesseract
from parse_worker._protocol import (
    EngineJob,
    Event,
    Failed,
    Finished,
    ProtocolError,
    Ready,
    Refused,
    encode_event,
)

_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    read_fd, write_fd, parent_pid = (int(value) for value in argv[1:4])
    _die_with_parent(parent_pid)
    inbox: Connection[Any, Any] = Connection(read_fd, writable=False)
    outbox: Connection[Any, Any] = Connection(write_fd, readable=False)
    outbox.send_bytes(encode_event(Ready(pid=os.getpid(), engine=PDFIUM_ENGINE)))
    tesseracts: dict[tuple[str, str], Tesseract | OcrUnavailable] = {}
    while True:
        try:
            job = EngineJob.decode(inbox.recv_bytes())
            data = inbox.recv_bytes()
        except EOFError:
            return 0  # the worker closed the pipe: it is done with us
        except ProtocolError as exc:  # a worker of another version: let it start a new engine
            _send_final(outbox, Failed(message=f"the parse engine could not read its job: {exc}"))
            return 1
        _limit_resources(job)
        _reset_peak_rss()
        try:
            ocr = _ocr_setup(job, tesseracts)
            for event in extract_document(data, job, ocr):
                if isinstance(event, Finished):
                    event = dataclasses.replace(event, peak_rss_bytes=_peak_rss_bytes())
                outbox.send_bytes(encode_event(event))
        except Refusal as refusal:
            outbox.send_bytes(encode_event(refusal.event()))
        except MemoryError:
            del data
            _send_final(outbox, _out_of_memory(job))
            return 0  # a process that ran out of memory is not trusted with the next document
        except (OcrUnavailable, OcrFailed) as exc:
            outbox.send_bytes(encode_event(Failed(message=str(exc))))
        except Exception as exc:  # reported to the worker, which fails the attempt
            _send_final(outbox, Failed(message=_describe(exc)))
            return 1
        del data
        gc.collect()


def _ocr_setup(
    job: EngineJob, cache: dict[tuple[str, str], Tesseract | OcrUnavailable]
) -> OcrSetup:
    if job.ocr == "off":
        return OcrSetup(tesseract=None, why_not="OCR is switched off (CHARMELIO_PARSE_OCR=off)")
    key = (job.tesseract_command, job.ocr_language)
    if key not in cache:
        try:
            cache[key] = find_tesseract(*key)
        except OcrUnavailable as exc:
            cache[key] = exc
    found = cache[key]
    if isinstance(found, OcrUnavailable):
        if job.ocr == "on":
            raise found
        return OcrSetup(tesseract=None, why_not=f"OCR is not available on this worker ({found})")
    return OcrSetup(
        tesseract=found, dpi=job.ocr_dpi, page_timeout_seconds=job.ocr_page_timeout_seconds
    )


def _limit_resources(job: EngineJob) -> None:
    """Kernel limits for this document. Only soft limits: the next document may need more."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = (
        job.memory_limit_bytes
        if hard == resource.RLIM_INFINITY
        else min(job.memory_limit_bytes, hard)
    )
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_limit = int(used.ru_utime + used.ru_stime + job.cpu_seconds) + 1
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    if cpu_hard != resource.RLIM_INFINITY:
        cpu_limit = min(cpu_limit, cpu_hard)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit, cpu_hard))


def _reset_peak_rss() -> None:
    """Start this document's peak memory from the current size (Linux: clear_refs value 5)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_bytes() -> int:
    """Peak resident memory since `_reset_peak_rss`, or of the process's life elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _out_of_memory(job: EngineJob) -> Refused:
    limit_mb = job.memory_limit_bytes // (1024 * 1024)
    return Refused(
        kind="parse",
        reason="memory_limit",
        message=(
            f"Parsing the PDF needed more than the {limit_mb} MB memory limit (for example a "
            "compressed stream that expands enormously); re-save or print it to a new PDF, or "
            "raise CHARMELIO_PARSE_MEMORY_LIMIT_MB."
        ),
        details={"memory_limit_mb": limit_mb},
    )


def _send_final(outbox: Connection[Any, Any], event: Event) -> None:
    with contextlib.suppress(OSError):  # the worker may be gone already
        outbox.send_bytes(encode_event(event))


def _describe(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    place = f" at {os.path.basename(where.filename)}:{where.lineno}" if where else ""
    return f"the parse engine failed with {type(exc).__name__}: {exc}{place}"[:2000]


def _die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to kill us when the worker dies, even in the middle of a PDFium call."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the worker died before the line above took effect
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
