"""A workflow that runs one stage activity on its real queue: how a load test drives a queue alone.

The activity is called by name on the queue the pool polls, with the same timeouts and retry
policy as in `ExtractionWorkflow`, so the pool under test does exactly the work it does in
production; only the orchestration around it is thinner.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from charmelio.stages import stage_of_activity

PROBE_WORKFLOW = "LoadTestStage"


class StageCall(BaseModel):
    """One stage activity call: its name and its (JSON) argument. The options come from the stage
    table, and so does the queue unless ``task_queue`` names another (a test's fresh queue)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    activity: str
    task_queue: str | None = None
    argument: dict[str, Any]


@workflow.defn(name=PROBE_WORKFLOW)
class StageProbeWorkflow:
    @workflow.run
    async def run(self, call: StageCall) -> Any:
        spec = stage_of_activity(call.activity)
        if spec is None:
            raise ValueError(f"{call.activity!r} is not a stage activity")
        return await workflow.execute_activity(
            spec.activity.value,
            call.argument,
            task_queue=call.task_queue or spec.queue.value,
            start_to_close_timeout=spec.start_to_close,
            heartbeat_timeout=spec.heartbeat,
            retry_policy=spec.retry,
        )
