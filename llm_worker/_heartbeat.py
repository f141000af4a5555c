"""Heartbeat while a blocking provider call runs, so a dead worker is noticed in seconds.

temporalio ties `activity.heartbeat` to the activity's own thread, so the call itself runs in a
helper thread and the activity thread heartbeats for it: each progress message as it arrives (one
per chunk, as before), and the latest one again every few seconds while a call blocks. That lets
the workflow's heartbeat timeout be far shorter than one provider call may take.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

_T = TypeVar("_T")

HEARTBEAT_INTERVAL_SECONDS = 5.0


def call_heartbeating(
    work: Callable[[Callable[[str], None]], _T],
    heartbeat: Callable[..., None],
    interval: float = HEARTBEAT_INTERVAL_SECONDS,
) -> _T:
    """Run ``work(on_progress)`` in a helper thread and heartbeat from this one until it ends.

    ``on_progress`` is called in the helper thread; it only hands the message over, and this
    thread sends it.
    """
    progress: queue.Queue[str | None] = queue.Queue()
    done: Future[_T] = Future()

    def run() -> None:
        try:
            done.set_result(work(progress.put))
        except BaseException as exc:  # handed to the caller, who re-raises it
            done.set_exception(exc)
        finally:
            progress.put(None)

    threading.Thread(target=run, name="provider-call", daemon=True).start()
    latest = "calling provider"
    while True:
        try:
            message = progress.get(timeout=interval)
        except queue.Empty:
            heartbeat(latest)
            continue
        if message is None:
            return done.result()
        latest = message
        heartbeat(message)


__all__ = ["HEARTBEAT_INTERVAL_SECONDS", "call_heartbeating"]
