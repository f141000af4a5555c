"""Starting and following extraction workflows: what the CLI (and later the API) call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from charmelio.contract import (
    WORKFLOW_TYPE,
    ExtractionCompleted,
    QueryName,
    Stage,
    TaskQueue,
    workflow_id_for,
)


async def start_extraction(
    client: Client, document_id: str
) -> WorkflowHandle[object, ExtractionCompleted]:
    """Start the document's workflow, or attach to it when one is already running.

    The workflow id is derived from the document, and USE_EXISTING makes a second start while the
    first runs return the running one instead of extracting twice. Once it has finished, a new start
    runs a fresh extraction (ALLOW_DUPLICATE), which supersedes the previous one when it is stored.
    """
    return await client.start_workflow(
        WORKFLOW_TYPE,
        document_id,
        id=workflow_id_for(document_id),
        task_queue=TaskQueue.WORKFLOW.value,
        result_type=ExtractionCompleted,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def follow(
    handle: WorkflowHandle[object, ExtractionCompleted],
    on_stage: Callable[[str], Awaitable[None] | None],
    *,
    interval: float = 0.5,
) -> ExtractionCompleted:
    """Wait for the result, reporting each stage change seen through the `current_stage` query."""
    result = asyncio.ensure_future(handle.result())
    last = ""
    try:
        while not result.done():
            try:
                stage = await handle.query(QueryName.CURRENT_STAGE, result_type=str)
            except RPCError:
                stage = last  # no workflow worker has picked it up yet
            if stage and stage != last:
                last = stage
                maybe = on_stage(stage)
                if maybe is not None:
                    await maybe
            await asyncio.wait({result}, timeout=interval)
        completed = result.result()
        if last != Stage.COMPLETED.value:
            maybe = on_stage(Stage.COMPLETED.value)
            if maybe is not None:
                await maybe
        return completed
    finally:
        result.cancel()
