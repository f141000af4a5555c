"""The parse stage: turns a stored contract PDF into page texts for the extraction stage.

Runs on its own task queue and worker pool so CPU-heavy PDF parsing scales (and fails) apart from
LLM calls and database writes. Workers register `activities_for(settings)`.

The exports load lazily: the engine process (``python -m parse_worker._engine_main``) imports
this package too, and must not pay for Temporal, pydantic and the storage clients it never uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parse_worker.activities import ParseActivities, activities_for

__all__ = ["ParseActivities", "activities_for"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from parse_worker import activities

        return getattr(activities, name)
    raise AttributeError(f"module 'parse_worker' has no attribute {name!r}")
