"""The parse stage: turns a stored contract PDF into page texts for the extraction stage.

Runs on its own task queue and worker pool so CPU-heavy PDF parsing scales (and fails) apart from
LLM calls and database writes. Workers register `activities_for(settings)`.
"""

from parse_worker.activities import ParseActivities, activities_for

__all__ = ["ParseActivities", "activities_for"]
