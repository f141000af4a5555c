"""A workflow that runs one stage activity on its real queue: how a load test drives a queue alone.

The activity is called by name on the queue the pool polls, with the same timeouts and retry
policy as in `ExtractionWorkflow`, so the pool under test does exactly the work it does in
production; only the orchestration around it is thinner.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from charmelio.contract import ActivityName
    from workflows.extraction import StagePolicy

PROBE_WORKFLOW = "LoadTestStage"

_POLICIES: dict[str, tuple[timedelta, timedelta | None, RetryPolicy]] = {
    ActivityName.PARSE_PDF: (
        StagePolicy.PARSE_TIMEOUT,
        StagePolicy.PARSE_HEARTBEAT,
        StagePolicy.PARSE_RETRY,
    ),
    ActivityName.LLM_EXTRACT: (
        StagePolicy.LLM_TIMEOUT,
        StagePolicy.LLM_HEARTBEAT,
        StagePolicy.LLM_RETRY,
    ),
    ActivityName.STORE_RESULTS: (StagePolicy.STORE_TIMEOUT, None, StagePolicy.STORE_RETRY),
}


class StageCall(BaseModel):
    """One activity call: its name, the queue to send it to, and its (JSON) argument."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    activity: str
    task_queue: str
    argument: dict[str, Any]


@workflow.defn(name=PROBE_WORKFLOW)
class StageProbeWorkflow:
    @workflow.run
    async def run(self, call: StageCall) -> Any:
        start_to_close, heartbeat, retry = _POLICIES[call.activity]
        return await workflow.execute_activity(
            call.activity,
            call.argument,
            task_queue=call.task_queue,
            start_to_close_timeout=start_to_close,
            heartbeat_timeout=heartbeat,
            retry_policy=retry,
        )
