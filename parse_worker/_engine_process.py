"""The worker's side of the engine process: start it, feed it one document, enforce the guards.

Why a separate process (measured, see docs/parsing.md):

- PDFium is not thread-safe and its C calls cannot be interrupted from Python. A pathological page
  can only be stopped by killing the process it runs in, and only a process gives each activity
  thread of the pool its own PDFium.
- Kernel limits (address space, CPU time) apply per process, so a decompression bomb ends as a
  refused document instead of a worker killed by the out-of-memory killer.

Why one long-lived process per activity thread rather than one per document: starting Python and
PDFium costs about 0.1 s, more than PDFium needs for a typical 20-page contract. The process is
replaced after any failure, timeout or cancellation, and when its memory has grown.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

from parse_worker._protocol import (
    EngineJob,
    Failed,
    Finished,
    Opened,
    Page,
    ProtocolError,
    Ready,
    Refused,
    decode_event,
)

__all__ = [
    "EngineDied",
    "EngineFailure",
    "EngineOutcome",
    "EngineProcess",
    "EngineRefused",
    "GuardTripped",
    "Guards",
    "close_all_engines",
    "engine_for_this_thread",
    "live_engine_pids",
]

ProgressCallback = Callable[[int, int], None]

START_TIMEOUT_SECONDS = 60.0
"""Python plus PDFium start in about 0.1 s; a minute covers a machine under heavy load."""
POLL_SECONDS = 0.25
"""How long the worker thread blocks at a time: a cancellation raised into the thread by the
Temporal SDK takes effect only once the thread runs Python again."""
RECYCLE_RSS_BYTES = 256 * 1024 * 1024
"""An engine process that grew past this after a document is replaced before the next one."""
_CLOSE_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class Guards:
    time_budget_seconds: float
    page_timeout_seconds: float
    progress_interval_seconds: float = 1.0


@dataclass
class EngineOutcome:
    opened: Opened
    pages: list[Page]
    finished: Finished
    seconds: float
    fallbacks: list[str] = field(default_factory=list)


class EngineRefused(Exception):
    def __init__(self, refused: Refused) -> None:
        super().__init__(refused.message)
        self.refused = refused


class GuardTripped(Exception):
    def __init__(
        self, guard: Literal["page_timeout", "time_budget"], page: int, page_count: int
    ) -> None:
        super().__init__(f"{guard} on page {page}")
        self.guard = guard
        self.page = page
        self.page_count = page_count


class EngineDied(Exception):
    def __init__(self, returncode: int, page: int, page_count: int) -> None:
        super().__init__(f"engine process exited with {returncode} on page {page}")
        self.returncode = returncode
        self.page = page
        self.page_count = page_count


class EngineFailure(RuntimeError):
    """The engine could not do its job for a reason that is not the document's (it would not
    start, OCR is set up wrong on this machine, a bug). Retryable: the next attempt may run on a
    healthy worker."""


class EngineProcess:
    """One engine child process, used by one thread at a time."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._inbox: Connection[Any, Any] | None = None
        self._outbox: Connection[Any, Any] | None = None
        self.startup_seconds: float | None = None

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def run(
        self,
        data: bytes,
        job: EngineJob,
        guards: Guards,
        on_progress: ProgressCallback | None = None,
    ) -> EngineOutcome:
        """Parse one document; raise `EngineRefused`, `GuardTripped`, `EngineDied` or
        `EngineFailure`. Whatever interrupts it (a cancellation, a guard) kills the process."""
        in_step = False
        try:
            if self.pid is None:
                self.kill()
                self.start()  # before the clock starts: start-up is not the document's time
            started = time.monotonic()
            self._send(job, data)
            result = self._collect(guards, started, on_progress)
            in_step = True
        finally:
            if not in_step:
                self.kill()
        if isinstance(result, Refused):
            if result.reason == "memory_limit":
                self.kill()  # it quits after running out of memory; do not race its exit
            raise EngineRefused(result)
        self._recycle_if_grown()
        return result

    def _send(self, job: EngineJob, data: bytes) -> None:
        for attempt in (1, 2):
            if self.pid is None:
                self.kill()
                self.start()
            assert self._outbox is not None
            try:
                self._outbox.send_bytes(job.encode())
                self._outbox.send_bytes(data)
                return
            except OSError:
                # The idle engine died since its last document (killed from outside, or it
                # quit after running out of memory): start a fresh one once.
                self.kill()
                if attempt == 2:
                    raise

    def _collect(
        self,
        guards: Guards,
        started: float,
        on_progress: ProgressCallback | None,
    ) -> EngineOutcome | Refused:
        inbox = self._inbox
        assert inbox is not None
        deadline = started + guards.time_budget_seconds
        page_deadline = started + guards.page_timeout_seconds
        document = _Document(started)
        last_progress = float("-inf")
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise GuardTripped("time_budget", document.next_page, document.page_count)
            if now >= page_deadline:
                raise GuardTripped("page_timeout", document.next_page, document.page_count)
            if inbox.poll(min(POLL_SECONDS, deadline - now, page_deadline - now)):
                while True:  # take every frame that is waiting before checking the clocks
                    event = self._receive(document.next_page, document.page_count)
                    outcome = document.take(event)
                    if outcome is not None:
                        if on_progress is not None and isinstance(outcome, EngineOutcome):
                            on_progress(len(outcome.pages), outcome.opened.page_count)
                        return outcome
                    page_deadline = time.monotonic() + guards.page_timeout_seconds
                    if not inbox.poll(0):
                        break
            now = time.monotonic()
            if on_progress is not None and now - last_progress >= guards.progress_interval_seconds:
                on_progress(len(document.pages), document.page_count)
                last_progress = now

    def _receive(self, page: int, page_count: int) -> Any:
        assert self._inbox is not None
        assert self._process is not None
        try:
            frame = self._inbox.recv_bytes()
        except (EOFError, OSError):
            try:
                returncode = self._process.wait(timeout=_CLOSE_WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                raise EngineFailure("the engine closed its pipe but did not exit") from None
            raise EngineDied(returncode, page, page_count) from None
        try:
            return decode_event(frame)
        except ProtocolError as exc:
            raise EngineFailure(str(exc)) from None

    def start(self) -> None:
        """Start the engine process and wait until PDFium is loaded."""
        started = time.monotonic()
        to_engine_read, to_engine_write = os.pipe()
        from_engine_read, from_engine_write = os.pipe()
        try:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "parse_worker._engine_main",
                    str(to_engine_read),
                    str(from_engine_write),
                    str(os.getpid()),
                ],
                pass_fds=(to_engine_read, from_engine_write),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=_engine_environment(),
            )
        except OSError as exc:
            for fd in (to_engine_write, from_engine_read):
                os.close(fd)
            raise EngineFailure(f"could not start the parse engine: {exc}") from exc
        finally:
            os.close(to_engine_read)
            os.close(from_engine_write)
        self._process = process
        self._outbox = Connection(to_engine_write, readable=False)
        self._inbox = Connection(from_engine_read, writable=False)
        if not self._inbox.poll(START_TIMEOUT_SECONDS):
            self.kill()
            raise EngineFailure(f"the parse engine did not start within {START_TIMEOUT_SECONDS} s")
        try:
            ready = decode_event(self._inbox.recv_bytes())
        except (EOFError, OSError, ProtocolError) as exc:
            self.kill()
            raise EngineFailure(f"the parse engine failed to start ({exc!r})") from None
        if not isinstance(ready, Ready):
            self.kill()
            raise EngineFailure("the parse engine did not introduce itself")
        self.startup_seconds = time.monotonic() - started

    def _recycle_if_grown(self) -> None:
        process = self._process
        if process is None or sys.platform != "linux":
            return
        try:
            resident_pages = int(Path(f"/proc/{process.pid}/statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            return
        if resident_pages * os.sysconf("SC_PAGE_SIZE") > RECYCLE_RSS_BYTES:
            self.close()

    def close(self) -> None:
        """Let the engine finish and exit (it does when its input pipe closes)."""
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=_CLOSE_WAIT_SECONDS)
        self.kill()

    def kill(self) -> None:
        """Stop the engine now, whatever it is doing."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        for connection in (self._inbox, self._outbox):
            if connection is not None:
                connection.close()
        self._inbox = self._outbox = None


class _Document:
    """What the engine has said about the document so far; checks the order of its frames."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.opened: Opened | None = None
        self.pages: list[Page] = []
        self.fallbacks: list[str] = []

    @property
    def page_count(self) -> int:
        return self.opened.page_count if self.opened else 0

    @property
    def next_page(self) -> int:
        return len(self.pages) + 1

    def take(self, event: object) -> EngineOutcome | Refused | None:
        """Record ``event``; the outcome once the document is finished or refused."""
        if isinstance(event, Opened):
            # A second Opened is a fallback engine starting the document over.
            self.opened, self.pages = event, []
            if event.fallback_from:
                self.fallbacks.append(event.fallback_from)
        elif isinstance(event, Page):
            in_order = event.number == self.next_page <= self.page_count
            if self.opened is None or not in_order:
                raise EngineFailure(f"the engine sent page {event.number} out of order")
            self.pages.append(event)
        elif isinstance(event, Finished):
            if self.opened is None or len(self.pages) != self.page_count:
                raise EngineFailure("the engine finished before sending every page")
            seconds = time.monotonic() - self.started
            return EngineOutcome(self.opened, self.pages, event, seconds, self.fallbacks)
        elif isinstance(event, Refused):
            return event
        elif isinstance(event, Failed):
            raise EngineFailure(event.message)
        else:
            raise EngineFailure(f"unexpected {type(event).__name__} from the engine")
        return None


_local = threading.local()
_engines: weakref.WeakSet[EngineProcess] = weakref.WeakSet()
_engines_lock = threading.Lock()


def engine_for_this_thread() -> EngineProcess:
    """The calling thread's engine. One per thread because the kernel kills an engine when the
    thread that started it ends (that is how it dies with its worker), and because PDFium must
    not serve two documents at once."""
    engine: EngineProcess | None = getattr(_local, "engine", None)
    if engine is None:
        engine = EngineProcess()
        _local.engine = engine
        with _engines_lock:
            _engines.add(engine)
    return engine


def live_engine_pids() -> list[int]:
    with _engines_lock:
        engines = list(_engines)
    return sorted(pid for pid in (engine.pid for engine in engines) if pid is not None)


@atexit.register
def close_all_engines() -> None:
    with _engines_lock:
        engines = list(_engines)
    for engine in engines:
        engine.kill()


def _engine_environment() -> dict[str, str]:
    """The worker's environment, with this package importable even from an uninstalled tree."""
    root = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{path}" if path else root}
