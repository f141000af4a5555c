"""Where a run's CPU went: cores used by the Temporal server, Postgres, each pool and the driver.

On a machine where all of them share a few cores, a pool's scaling is bounded by what the rest
takes: two parse processes cannot double one process's throughput when the server and the other
pools need a fifth of a core of the same two. The report puts these figures beside the
throughput so a ratio can be read against that bound.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

import psutil

DRIVER = "driver"


@dataclass(frozen=True)
class CpuSnapshot:
    at: float
    # (group, pid) -> CPU seconds (user + system) of that process so far.
    seconds: Mapping[tuple[str, int], float]


def _group(name: str) -> str:
    """``parse-1`` -> ``parse``; ``temporal`` and ``postgres`` stay as they are."""
    return name.rsplit("-", 1)[0] if name[-1:].isdigit() else name


def _cpu_seconds(process: psutil.Process, *, with_reaped_children: bool) -> float | None:
    """User + system seconds; with the children it has reaped, which is where short-lived
    processes (a Postgres backend per connection) end up once they exit."""
    try:
        times = process.cpu_times()
    except psutil.Error:
        return None
    used = times.user + times.system
    if with_reaped_children:
        used += times.children_user + times.children_system
    return float(used)


def snapshot(process_ids: Mapping[str, int]) -> CpuSnapshot:
    """CPU seconds so far of each stack process and its children (a parse engine, Postgres
    backends), and of this process alone (the driver: load generator, probe worker, fake
    provider; its children are the stack's own processes, counted under their names)."""
    seconds: dict[tuple[str, int], float] = {}
    roots = [(name, pid, True) for name, pid in process_ids.items()]
    for name, pid, with_children in [*roots, (DRIVER, os.getpid(), False)]:
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)] if with_children else [root]
        except psutil.Error:
            continue
        for process in tree:
            used = _cpu_seconds(process, with_reaped_children=with_children)
            if used is not None:
                seconds[(_group(name), process.pid)] = used
    return CpuSnapshot(time.monotonic(), seconds)


def cores_used(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """Average cores each group used between the snapshots, busiest first.

    A process that started in between counts from zero. One that exited in between counts through
    the parent that reaped it when that parent is in the tree (Postgres backends, a restarted
    parse engine); otherwise its last seconds are lost, so the figures are, if anything, low.
    """
    elapsed = after.at - before.at
    if elapsed <= 0:
        return {}
    totals: dict[str, float] = {}
    for (group, pid), seconds in after.seconds.items():
        used = seconds - before.seconds.get((group, pid), 0.0)
        totals[group] = totals.get(group, 0.0) + max(used, 0.0)
    busiest_first = sorted(totals.items(), key=lambda item: -item[1])
    return {group: round(seconds / elapsed, 3) for group, seconds in busiest_first}
