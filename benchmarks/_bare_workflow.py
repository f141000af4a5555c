"""The baseline of the orchestration benchmark: the least a three-queue Temporal workflow can be.

Three no-op activities on three queues, plain strings in and out, no retry policy of our own, no
query, no data model: what Temporal itself costs for the shape of Charmelio's pipeline. Its own
module because the workflow sandbox re-imports the module a workflow is defined in.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

BARE_QUEUES = ("bare-parse", "bare-llm", "bare-store")
_TIMEOUT = timedelta(seconds=30)


@activity.defn(name="bare_step")
async def bare_step(value: str) -> str:
    return value


@workflow.defn(name="BareThreeQueueWorkflow")
class BareThreeQueueWorkflow:
    @workflow.run
    async def run(self, value: str) -> str:
        for queue in BARE_QUEUES:
            value = await workflow.execute_activity(
                bare_step, value, task_queue=queue, start_to_close_timeout=_TIMEOUT
            )
        return value
