"""Calling a stage's activity exactly as the stage table says: one place for both workflows."""

from __future__ import annotations

from typing import TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from charmelio.stages import StageSpec

_Result = TypeVar("_Result")


async def execute_stage(spec: StageSpec, request: object, result_type: type[_Result]) -> _Result:
    """Run ``spec``'s activity on its queue with its timeouts, heartbeat and retry policy."""
    result: _Result = await workflow.execute_activity(
        spec.activity.value,
        request,
        task_queue=spec.queue.value,
        result_type=result_type,
        start_to_close_timeout=spec.start_to_close,
        heartbeat_timeout=spec.heartbeat,
        retry_policy=spec.retry,
    )
    return result
