"""Per-queue load tests against the embedded stack: ``charmelio loadtest``.

A load test runs a scenario (see `SCENARIOS`) once per pool size, each time on a fresh local stack
with the fake LLM provider, and reports per queue: throughput, schedule-to-start p50/p95, activity
run time p50/p95, errors, and the backlog over time. It writes ``<scenario>.json`` and
``<scenario>.png`` (backlog and throughput over time) into the output directory.

Drives: ``each`` (default) gives every stage queue its own stream at once; ``pipeline`` starts
whole `ExtractionWorkflow` runs; ``parse``, ``llm`` or ``store`` drives that queue alone.

This package imports only the scenario definitions; `operator_tools.loadtest.runner` brings the
stack, the database client and matplotlib, so `charmelio --help` stays light.
"""

from __future__ import annotations

from operator_tools.loadtest._documents import variant
from operator_tools.loadtest._scenarios import DRIVES, SCENARIOS, Load, Scenario

__all__ = ["DRIVES", "SCENARIOS", "Load", "Scenario", "variant"]
