"""ExtractionWorkflow: parse → extract → store, each stage on its own task queue.

The workflow is pure orchestration. It imports no I/O library and never sees a page of text: the
stages exchange object-storage keys (the claim-check pattern), so history stays a few KiB whatever
the size of the contract.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows._stage_calls import execute_stage

with workflow.unsafe.imports_passed_through():
    from charmelio import stages
    from charmelio.contract import (
        ErrorType,
        ExtractionCompleted,
        ExtractionSummary,
        ExtractRequest,
        FailureReport,
        ParsedDocument,
        ParseRequest,
        QueryName,
        Stage,
        StoredExtraction,
        StoreRequest,
        WorkflowType,
        validate_document_id,
    )
    from charmelio.stages import StageSpec

_Result = TypeVar("_Result", bound=BaseModel)


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


@workflow.defn(name=WorkflowType.EXTRACTION)
class ExtractionWorkflow:
    def __init__(self) -> None:
        self._stage = Stage.STARTING

    @workflow.query(name=QueryName.CURRENT_STAGE)
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
                stages.PARSE, ParseRequest(document_id=document_id), ParsedDocument
            )
            summary = await self._call(
                stages.EXTRACT,
                ExtractRequest(document_id=document_id, extraction_id=extraction_id, parsed=parsed),
                ExtractionSummary,
            )
            await self._call(
                stages.STORE,
                StoreRequest(
                    extraction_id=extraction_id,
                    document_id=document_id,
                    workflow_id=workflow_id,
                    parsed=parsed,
                    extraction=summary,
                ),
                StoredExtraction,
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
        self, spec: StageSpec, request: BaseModel, result_type: type[_Result]
    ) -> _Result:
        self._stage = spec.stage
        try:
            result = await execute_stage(spec, request, result_type)
        except ActivityError as error:
            raise StageFailed(spec.stage, error) from error
        assert isinstance(result, result_type)
        return result

    async def _record_failure(
        self, document_id: str, extraction_id: str, workflow_id: str, failed: StageFailed
    ) -> None:
        spec = stages.RECORD_FAILURE
        self._stage = spec.stage
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
                spec.activity.value,
                report,
                task_queue=spec.queue.value,
                start_to_close_timeout=spec.start_to_close,
                retry_policy=spec.retry,
            )
        except ActivityError as error:
            # The workflow still fails with the stage's error; its history keeps both failures.
            workflow.logger.error("could not record the failure of %s: %s", workflow_id, error)
