"""Charmelio: contract PDFs to evidence-backed clause data, durably, on Temporal.

This shared package holds what every process needs: settings, the stage contract, storage clients,
the worker runtime and the CLI. The stages live in `parse_worker`, `llm_worker` and `store_worker`;
the workflow in `workflows`.
"""

__version__ = "0.1.0"
