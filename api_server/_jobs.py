"""Extractions before they are stored: the workflow run, named by a job id.

An extraction's UUID is made inside the workflow and its row exists only once the workflow has
finished, so a client that has just started one follows the *run* instead. The job id names it:
``<document_id>.<run_id>`` (a document id never contains a dot; Temporal run ids are UUIDs). Unlike
the workflow id, which every extraction of a document shares, a job id names exactly one run.

Where a run stands comes from Temporal alone, bounded in time: `describe` (status, pending
activities), the workflow's `current_stage` query with a short RPC timeout, and for a finished run
its result or failure. A query needs a workflow worker; without one, the pending activities still
tell the stage, and a run no activity has started is `pending`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api_server._models import ExtractionError, ExtractionStatus
from charmelio import stages
from charmelio.contract import (
    WORKFLOW_TYPE,
    ExtractionCompleted,
    FailureReport,
    QueryName,
    Stage,
    workflow_id_for,
)
from charmelio.stages import stage_of_activity

JOB_SEPARATOR = "."
_JOB_ID = re.compile(
    r"^(?P<document>[A-Za-z0-9][A-Za-z0-9_-]{0,127})\."
    r"(?P<run>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)
# Events before the first workflow task completes: started, task scheduled, task started.
_EVENTS_BEFORE_FIRST_DECISION = 3

_NOT_ANSWERING = (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError)

Handle = WorkflowHandle[object, ExtractionCompleted]


def job_id_for(document_id: str, run_id: str) -> str:
    return f"{document_id}{JOB_SEPARATOR}{run_id}"


def parse_job_id(value: str) -> tuple[str, str] | None:
    """(document_id, run_id), or None when `value` is not a job id."""
    match = _JOB_ID.fullmatch(value)
    return (match["document"], match["run"]) if match else None


@dataclass(frozen=True)
class JobState:
    document_id: str
    run_id: str
    status: ExtractionStatus
    stage: str | None
    started_at: datetime | None
    finished_at: datetime | None
    extraction_id: str | None = None
    error: ExtractionError | None = None

    @property
    def job_id(self) -> str:
        return job_id_for(self.document_id, self.run_id)


async def job_state(
    client: Client, document_id: str, run_id: str, *, query_timeout: float
) -> JobState | None:
    """Where the run stands now, or None when Temporal knows no such run (or no longer does)."""
    handle: Handle = client.get_workflow_handle(
        workflow_id_for(document_id), run_id=run_id, result_type=ExtractionCompleted
    )
    for _ in range(2):
        try:
            description = await handle.describe()
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                return None
            raise
        if description.workflow_type != WORKFLOW_TYPE:
            return None
        state = await _state_of(client, handle, description, document_id, run_id, query_timeout)
        # The query saw the workflow finish between `describe` and the query: look again.
        if state.stage not in (Stage.COMPLETED.value, Stage.FAILED.value) or (
            state.status is not ExtractionStatus.RUNNING
        ):
            return state
    return state


async def _state_of(
    client: Client,
    handle: Handle,
    description: WorkflowExecutionDescription,
    document_id: str,
    run_id: str,
    query_timeout: float,
) -> JobState:
    started_at, finished_at = description.start_time, description.close_time
    status = description.status
    if status is WorkflowExecutionStatus.RUNNING:
        stage = await _current_stage(handle, description, query_timeout)
        pending = stage in (None, Stage.STARTING.value)
        return JobState(
            document_id,
            run_id,
            ExtractionStatus.PENDING if pending else ExtractionStatus.RUNNING,
            stage,
            started_at,
            finished_at,
        )
    if status is WorkflowExecutionStatus.COMPLETED:
        completed = await handle.result(follow_runs=False)
        return JobState(
            document_id,
            run_id,
            ExtractionStatus.COMPLETED,
            Stage.COMPLETED.value,
            started_at,
            finished_at,
            extraction_id=completed.extraction_id,
        )
    if status is WorkflowExecutionStatus.FAILED:
        error = ExtractionError(stage=None, error_type="WorkflowFailed", message="failed")
        try:
            await handle.result(follow_runs=False)
        except WorkflowFailureError as failure:
            error = _error_of(failure)
        return JobState(
            document_id,
            run_id,
            ExtractionStatus.FAILED,
            Stage.FAILED.value,
            started_at,
            finished_at,
            extraction_id=await _recorded_failure_id(client, handle),
            error=error,
        )
    # Terminated, cancelled or timed out by an operator or a policy: no stage failed on its own.
    name = status.name.title().replace("_", "") if status else "Unknown"
    return JobState(
        document_id,
        run_id,
        ExtractionStatus.FAILED,
        Stage.FAILED.value,
        started_at,
        finished_at,
        error=ExtractionError(
            stage=None,
            error_type=f"Workflow{name}",
            message=f"the workflow run was {name.lower()} before it finished",
        ),
    )


async def _current_stage(
    handle: Handle, description: WorkflowExecutionDescription, query_timeout: float
) -> str | None:
    pending = [
        activity.activity_type.name for activity in description.raw_description.pending_activities
    ]
    from_activities = next(
        (spec.stage.value for name in pending if (spec := stage_of_activity(name))), None
    )
    if from_activities is None and description.history_length <= _EVENTS_BEFORE_FIRST_DECISION:
        return Stage.STARTING.value  # no workflow task has completed: nothing to ask yet
    try:
        stage = await handle.query(
            QueryName.CURRENT_STAGE, result_type=str, rpc_timeout=timedelta(seconds=query_timeout)
        )
    except _NOT_ANSWERING:
        return from_activities  # no workflow worker answered in time
    return str(stage)


def _error_of(failure: WorkflowFailureError) -> ExtractionError:
    cause = failure.cause
    if isinstance(cause, ApplicationError):
        details = cause.details
        stage = None
        if details and isinstance(details[0], dict) and details[0].get("stage"):
            stage = str(details[0]["stage"])
        return ExtractionError(
            stage=stage, error_type=cause.type or "ApplicationError", message=cause.message
        )
    return ExtractionError(
        stage=None, error_type=type(cause).__name__, message=str(cause or failure)
    )


async def _recorded_failure_id(client: Client, handle: Handle) -> str | None:
    """The extraction id the run recorded its failure under (the record_failure input)."""
    async for event in handle.fetch_history_events():
        if not event.HasField("activity_task_scheduled_event_attributes"):
            continue
        scheduled = event.activity_task_scheduled_event_attributes
        if scheduled.activity_type.name != stages.RECORD_FAILURE.activity:
            continue
        [report] = await client.data_converter.decode(scheduled.input.payloads, [FailureReport])
        if isinstance(report, FailureReport):
            return report.extraction_id
    return None
