"""Charmelio: contract PDFs to evidence-backed clause data, durably, on Temporal.

This package is the kernel every process stands on: settings, the contract and the stage table,
typed errors, storage clients, the worker runtime and starting a workflow. It imports no pool and
no app. The pools are `workflows`, `parse_worker`, `llm_worker` and `store_worker`; the apps around
them are `api_server`, `cli` and `operator_tools`.
"""

__version__ = "0.1.0"
