"""ExtractionWorkflow: parse → extract → store, each stage on its own task queue.

The workflow is pure orchestration. It imports no I/O library and never sees a page of text: the
stages exchange object-storage keys (the claim-check pattern), so history stays a few KiB whatever
the size of the contract.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from charmelio.contract import (
        ActivityName,
        ErrorType,
        ExtractionCompleted,
        ExtractionSummary,
        ExtractRequest,
        FailureReport,
        ParsedDocument,
        ParseRequest,
        Stage,
        StoredExtraction,
        StoreRequest,
        TaskQueue,
        validate_document_id,
    )

_Result = TypeVar("_Result", bound=BaseModel)


class StagePolicy:
    """Timeouts and retries per stage, and why each timeout is what it is."""

    # The parse engine runs at hundreds of pages per second and refuses a document that overruns
    # its own 8-minute budget with a typed error; 10 minutes leaves room for that answer to arrive.
    # The stage heartbeats every second, so a dead worker is noticed in 10 s, not 10 minutes.
    PARSE_TIMEOUT = timedelta(minutes=10)
    PARSE_HEARTBEAT = timedelta(seconds=10)
    PARSE_RETRY = RetryPolicy(
        maximum_attempts=2,
        non_retryable_error_types=[ErrorType.PDF_PARSE.value, ErrorType.PDF_VALIDATION.value],
    )

    # One provider call is capped by the client timeout (120 s by default); long contracts make a
    # few calls. The activity heartbeats every 5 s while a call runs, so a worker killed mid-call
    # is noticed in 30 s rather than minutes.
    LLM_TIMEOUT = timedelta(minutes=10)
    LLM_HEARTBEAT = timedelta(seconds=30)
    LLM_RETRY = RetryPolicy(
        maximum_attempts=3,
        initial_interval=timedelta(seconds=2),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
    )

    # One artifact write and one short transaction take well under a second. 30 s absorbs a slow
    # database, and bounds how long a document waits after its store worker dies mid-attempt.
    STORE_TIMEOUT = timedelta(seconds=30)
    STORE_RETRY = RetryPolicy(maximum_attempts=3)

    # Recording a failure is the last word on a document: retry it harder than a normal store.
    RECORD_FAILURE_TIMEOUT = timedelta(minutes=1)
    RECORD_FAILURE_RETRY = RetryPolicy(maximum_attempts=10, maximum_interval=timedelta(seconds=30))


class StageFailed(Exception):
    def __init__(self, stage: Stage, error: ActivityError) -> None:
        super().__init__(str(error))
        self.stage = stage
        cause = error.cause
        self.error_type = ErrorType.INVALID_INPUT.value
        self.message = str(cause or error)
        if isinstance(cause, ApplicationError):
            self.error_type = cause.type or "ApplicationError"
            reason = _reason(cause)
            self.message = f"{cause.message} (reason: {reason})" if reason else cause.message
        elif cause is not None:
            self.error_type = type(cause).__name__


def _reason(error: ApplicationError) -> str | None:
    details = error.details
    if details and isinstance(details[0], dict):
        reason = details[0].get("reason")
        return str(reason) if reason else None
    return None


@workflow.defn(name="ExtractionWorkflow")
class ExtractionWorkflow:
    def __init__(self) -> None:
        self._stage = Stage.STARTING

    @workflow.query(name="current_stage")
    def current_stage(self) -> str:
        return self._stage.value

    @workflow.run
    async def run(self, document_id: str) -> ExtractionCompleted:
        try:
            validate_document_id(document_id)
        except ValueError as exc:
            raise ApplicationError(
                str(exc), type=ErrorType.INVALID_INPUT.value, non_retryable=True
            ) from None
        # Generated once and recorded in history: every replay and every retry sees the same id,
        # which is what makes store_results idempotent.
        extraction_id = str(workflow.uuid4())
        workflow_id = workflow.info().workflow_id
        try:
            parsed = await self._call(
                Stage.PARSING,
                ActivityName.PARSE_PDF,
                ParseRequest(document_id=document_id),
                ParsedDocument,
                task_queue=TaskQueue.PARSE,
                start_to_close=StagePolicy.PARSE_TIMEOUT,
                heartbeat=StagePolicy.PARSE_HEARTBEAT,
                retry=StagePolicy.PARSE_RETRY,
            )
            summary = await self._call(
                Stage.EXTRACTING,
                ActivityName.LLM_EXTRACT,
                ExtractRequest(document_id=document_id, extraction_id=extraction_id, parsed=parsed),
                ExtractionSummary,
                task_queue=TaskQueue.LLM,
                start_to_close=StagePolicy.LLM_TIMEOUT,
                heartbeat=StagePolicy.LLM_HEARTBEAT,
                retry=StagePolicy.LLM_RETRY,
            )
            await self._call(
                Stage.STORING,
                ActivityName.STORE_RESULTS,
                StoreRequest(
                    extraction_id=extraction_id,
                    document_id=document_id,
                    workflow_id=workflow_id,
                    parsed=parsed,
                    extraction=summary,
                ),
                StoredExtraction,
                task_queue=TaskQueue.STORE,
                start_to_close=StagePolicy.STORE_TIMEOUT,
                heartbeat=None,
                retry=StagePolicy.STORE_RETRY,
            )
        except StageFailed as failed:
            await self._record_failure(document_id, extraction_id, workflow_id, failed)
            self._stage = Stage.FAILED
            raise ApplicationError(
                f"{failed.stage.value} failed for document {document_id}: {failed.message}",
                {"stage": failed.stage.value, "error_type": failed.error_type},
                type=failed.error_type,
                non_retryable=True,
            ) from None
        self._stage = Stage.COMPLETED
        return ExtractionCompleted(document_id=document_id, extraction_id=extraction_id)

    async def _call(
        self,
        stage: Stage,
        activity: ActivityName,
        request: BaseModel,
        result_type: type[_Result],
        *,
        task_queue: TaskQueue,
        start_to_close: timedelta,
        heartbeat: timedelta | None,
        retry: RetryPolicy,
    ) -> _Result:
        self._stage = stage
        try:
            result: Any = await workflow.execute_activity(
                activity.value,
                request,
                task_queue=task_queue.value,
                result_type=result_type,
                start_to_close_timeout=start_to_close,
                heartbeat_timeout=heartbeat,
                retry_policy=retry,
            )
        except ActivityError as error:
            raise StageFailed(stage, error) from error
        assert isinstance(result, result_type)
        return result

    async def _record_failure(
        self, document_id: str, extraction_id: str, workflow_id: str, failed: StageFailed
    ) -> None:
        self._stage = Stage.RECORDING_FAILURE
        report = FailureReport(
            extraction_id=extraction_id,
            document_id=document_id,
            workflow_id=workflow_id,
            stage=failed.stage,
            error_type=failed.error_type,
            message=failed.message[:4000],
        )
        try:
            await workflow.execute_activity(
                ActivityName.RECORD_FAILURE.value,
                report,
                task_queue=TaskQueue.STORE.value,
                start_to_close_timeout=StagePolicy.RECORD_FAILURE_TIMEOUT,
                retry_policy=StagePolicy.RECORD_FAILURE_RETRY,
            )
        except ActivityError as error:
            # The workflow still fails with the stage's error; its history keeps both failures.
            workflow.logger.error("could not record the failure of %s: %s", workflow_id, error)
