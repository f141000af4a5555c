"""BatchExtractionWorkflow: thousands of documents, each through its own ExtractionWorkflow.

A sliding window: at most ``max_in_flight`` children run at once, each under the document's usual
workflow id (``extraction-<document_id>``), so a batch never extracts a document that another
start is extracting, and a document started twice is deduplicated by Temporal itself.

History stays bounded whatever the size of the batch. The list lives in object storage and is read
one page per run; a run starts at most ``documents_per_run`` children, waits for them, and
continues as new carrying only its position, counts and the newest failures (`BatchState`). Every
failure is also in the extractions table; the batch keeps a bounded summary.

Each document is extracted once: a document whose current extraction was made by the extractor
the llm pool runs now (`ExtractorIdentity.key`) is counted as reused and not started, unless the
batch is forced. A failed document is recorded and never fails the batch.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import timedelta
from typing import Literal

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    WorkflowAlreadyStartedError,
)
from temporalio.workflow import ParentClosePolicy

from workflows._stage_calls import execute_stage

with workflow.unsafe.imports_passed_through():
    from charmelio import stages
    from charmelio.contract import (
        BATCH_FAILURES_KEPT,
        BatchFailure,
        BatchInput,
        BatchListRef,
        BatchPage,
        BatchPageRequest,
        BatchProgress,
        BatchState,
        DescribeExtractorRequest,
        ErrorType,
        ExtractionCompleted,
        ExtractorIdentity,
        QueryName,
        SaveBatchListRequest,
        SignalName,
        TaskQueue,
        WorkflowType,
        validate_batch_id,
        workflow_id_for,
    )

# How often a document whose extraction was started elsewhere is looked at again.
_ELSEWHERE_RECHECK = timedelta(seconds=10)
# Stop starting children past this many events even if the page is not done (a retried page, a
# flood of already-running documents): the run drains and continues as new.
_HISTORY_SOFT_LIMIT = 8_000
_MESSAGE_LIMIT = 500


@workflow.defn(name=WorkflowType.BATCH)
class BatchExtractionWorkflow:
    def __init__(self) -> None:
        self._state = BatchState(list_key="")
        self._in_flight: set[str] = set()
        self._cancel_requested = False
        self._finished = False

    @workflow.query(name=QueryName.BATCH_PROGRESS)
    def progress(self) -> BatchProgress:
        return self._progress()

    @workflow.signal(name=SignalName.CANCEL_BATCH)
    def cancel(self) -> None:
        """Start no new document; those in flight finish. Calling it again changes nothing."""
        self._cancel_requested = True

    @workflow.run
    async def run(self, batch: BatchInput) -> BatchProgress:
        batch_id = workflow.info().workflow_id
        try:
            validate_batch_id(batch_id)
        except ValueError as exc:
            raise ApplicationError(
                str(exc), type=ErrorType.INVALID_INPUT.value, non_retryable=True
            ) from None
        # A Temporal cancel (`temporal workflow cancel`, the UI's button, `handle.cancel()`) means
        # what the cancel signal means. Cancellation reaches only this, the run's own task: the
        # work runs in another task behind a shield, so no child and no activity in flight is
        # cancelled; the page's loop sees the flag, starts nothing new and waits for the children.
        work = asyncio.create_task(self._work(batch_id, batch))
        while True:
            try:
                await asyncio.shield(work)
                break
            except asyncio.CancelledError:
                if work.done():
                    raise
                self._cancel_requested = True
        self._state = self._state.model_copy(update={"cancelled": self._cancel_requested})
        if not self._cancel_requested and self._state.offset < self._state.counts.total:
            next_state = self._state.model_copy(update={"runs": self._state.runs + 1})
            workflow.continue_as_new(batch.model_copy(update={"resume": next_state}))
        counts = self._state.counts
        skipped = counts.total - (counts.done + counts.failed + counts.reused)
        self._state = self._state.model_copy(
            update={"counts": counts.model_copy(update={"skipped": skipped})}
        )
        self._finished = True
        return self._progress()

    async def _work(self, batch_id: str, batch: BatchInput) -> None:
        self._state = batch.resume or await self._first_state(batch_id, batch)
        # A cancel that came before the state was known (or in an earlier run) still holds.
        self._cancel_requested = self._cancel_requested or self._state.cancelled
        if not self._cancel_requested and self._state.offset < self._state.counts.total:
            await self._run_page(batch_id, batch)

    async def _first_state(self, batch_id: str, batch: BatchInput) -> BatchState:
        started_at = workflow.now().isoformat()
        if batch.list_key is None:
            saved = await execute_stage(
                stages.SAVE_BATCH_LIST,
                SaveBatchListRequest(batch_id=batch_id, document_ids=batch.document_ids),
                BatchListRef,
            )
            list_key, total = saved.list_key, saved.total
        else:
            list_key, total = batch.list_key, -1
        state = BatchState(list_key=list_key, force=batch.force, started_at=started_at)
        if total < 0:  # learnt from the first page
            first = await self._read_page(batch_id, state, 0, 1, None)
            total = first.total
        return state.model_copy(update={"counts": state.counts.model_copy(update={"total": total})})

    async def _run_page(self, batch_id: str, batch: BatchInput) -> None:
        state = self._state
        extractor = None
        if not state.force:
            identity = await execute_stage(
                stages.DESCRIBE_EXTRACTOR, DescribeExtractorRequest(), ExtractorIdentity
            )
            extractor = identity.key
        page = await self._read_page(
            batch_id, state, state.offset, batch.documents_per_run, extractor
        )
        if page.total != state.counts.total:
            workflow.logger.warning(
                "batch list %s changed size: %d, was %d",
                state.list_key,
                page.total,
                state.counts.total,
            )
        reusable = set(page.reusable)
        queue = deque(page.document_ids)
        seen: set[str] = set()
        tasks: list[asyncio.Task[None]] = []
        position = state.offset
        while queue and not self._cancel_requested:
            await workflow.wait_condition(
                lambda: len(self._in_flight) < batch.max_in_flight or self._cancel_requested
            )
            if self._cancel_requested or _history_is_long():
                break
            document_id = queue.popleft()
            if document_id in reusable or document_id in seen:
                self._count(reused=1)  # listed twice: the one extraction serves both
            else:
                self._in_flight.add(document_id)
                tasks.append(asyncio.create_task(self._extract(batch_id, document_id, position)))
            seen.add(document_id)
            position += 1
            self._state = self._state.model_copy(update={"offset": position})
        if tasks:
            await asyncio.gather(*tasks)

    async def _read_page(
        self, batch_id: str, state: BatchState, offset: int, limit: int, extractor: str | None
    ) -> BatchPage:
        request = BatchPageRequest(
            batch_id=batch_id,
            list_key=state.list_key,
            offset=offset,
            limit=limit,
            extractor=extractor,
        )
        try:
            return await execute_stage(stages.READ_BATCH_PAGE, request, BatchPage)
        except ActivityError as error:
            cause = error.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(error)
            raise ApplicationError(
                f"the batch list cannot be read: {message}",
                type=ErrorType.INVALID_INPUT.value,
                non_retryable=True,
            ) from None

    async def _extract(self, batch_id: str, document_id: str, position: int) -> None:
        try:
            while True:
                try:
                    handle = await workflow.start_child_workflow(
                        WorkflowType.EXTRACTION.value,
                        document_id,
                        id=workflow_id_for(document_id),
                        task_queue=TaskQueue.WORKFLOW.value,
                        result_type=ExtractionCompleted,
                        # An extraction outlives a batch that is terminated: it still stores.
                        parent_close_policy=ParentClosePolicy.ABANDON,
                    )
                except WorkflowAlreadyStartedError:
                    # Someone else is extracting it: wait for that run, then reuse its result
                    # or, if it failed, try again.
                    if await self._finished_elsewhere(batch_id, document_id, position):
                        self._count(reused=1)
                        return
                    if self._cancel_requested:
                        return  # not started: counted as skipped
                    continue
                break
            try:
                await handle
            except ChildWorkflowError as error:
                self._fail(document_id, error)
                return
            self._count(done=1)
        finally:
            self._in_flight.discard(document_id)

    async def _finished_elsewhere(self, batch_id: str, document_id: str, position: int) -> bool:
        await workflow.sleep(_ELSEWHERE_RECHECK)
        extractor = None
        if not self._state.force:
            identity = await execute_stage(
                stages.DESCRIBE_EXTRACTOR, DescribeExtractorRequest(), ExtractorIdentity
            )
            extractor = identity.key
        page = await self._read_page(batch_id, self._state, position, 1, extractor)
        return document_id in page.reusable

    def _fail(self, document_id: str, error: ChildWorkflowError) -> None:
        cause = error.cause
        if isinstance(cause, ApplicationError):
            error_type, message = cause.type or "ApplicationError", cause.message
        else:
            error_type, message = type(cause or error).__name__, str(cause or error)
        failure = BatchFailure(
            document_id=document_id, error_type=error_type, message=message[:_MESSAGE_LIMIT]
        )
        state = self._state
        by_type = dict(state.failures_by_type)
        by_type[error_type] = by_type.get(error_type, 0) + 1
        self._state = state.model_copy(
            update={
                "failures": [*state.failures, failure][-BATCH_FAILURES_KEPT:],
                "failures_by_type": by_type,
            }
        )
        self._count(failed=1)

    def _count(self, *, done: int = 0, failed: int = 0, reused: int = 0) -> None:
        counts = self._state.counts
        self._state = self._state.model_copy(
            update={
                "counts": counts.model_copy(
                    update={
                        "done": counts.done + done,
                        "failed": counts.failed + failed,
                        "reused": counts.reused + reused,
                    }
                )
            }
        )

    def _progress(self) -> BatchProgress:
        state, counts = self._state, self._state.counts
        in_flight = len(self._in_flight)
        finished = counts.done + counts.failed + counts.reused
        status: Literal["running", "completed", "cancelled"] = "running"
        if self._finished:
            status = "cancelled" if state.cancelled else "completed"
        return BatchProgress(
            batch_id=workflow.info().workflow_id,
            status=status,
            total=counts.total,
            done=counts.done,
            failed=counts.failed,
            reused=counts.reused,
            in_flight=in_flight,
            waiting=max(counts.total - finished - in_flight - counts.skipped, 0),
            skipped=counts.skipped,
            failures=list(state.failures),
            failures_by_type=dict(state.failures_by_type),
            runs=state.runs,
            started_at=state.started_at,
        )


def _history_is_long() -> bool:
    info = workflow.info()
    return info.get_current_history_length() > _HISTORY_SOFT_LIMIT or (
        info.is_continue_as_new_suggested()
    )
