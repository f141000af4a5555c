"""The stage table: each stage's activity, queue, pool, types, timeouts and retry policy, once.

Everything that needs one of these facts reads it from here: the workflow schedules activities
with these options, each pool polls its queue under its pool name, the dev stack starts one process
per pool, the CLI offers the pool names, the API maps pending activities to stages, the load test
drives a queue with the same options as production, and a test checks the README's retry table
against this module. Changing a timeout here changes it everywhere, and nowhere else.

Imports only the contract, pydantic and ``temporalio.common``, so the workflow worker loads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType

from pydantic import BaseModel
from temporalio.common import RetryPolicy

from charmelio.contract import (
    ActivityName,
    BatchListRef,
    BatchPage,
    BatchPageRequest,
    DescribeExtractorRequest,
    ErrorType,
    ExtractionSummary,
    ExtractorIdentity,
    ExtractRequest,
    FailureReport,
    ParsedDocument,
    ParseRequest,
    SaveBatchListRequest,
    Stage,
    StoredExtraction,
    StoreRequest,
    TaskQueue,
)

__all__ = [
    "ACTIVITY_POOLS",
    "BATCH_STAGES",
    "DESCRIBE_EXTRACTOR",
    "EXTRACT",
    "PACKAGE_OF_POOL",
    "PARSE",
    "POOLS",
    "QUEUE_OF_POOL",
    "READ_BATCH_PAGE",
    "RECORD_FAILURE",
    "SAVE_BATCH_LIST",
    "STAGES",
    "STORE",
    "PoolName",
    "StageSpec",
    "activities_of_pool",
    "pool_of_queue",
    "stage_of_activity",
]


class PoolName(StrEnum):
    """A pool of worker processes: what ops scale, what `charmelio worker POOL` runs."""

    WORKFLOW = "workflow"
    PARSE = "parse"
    LLM = "llm"
    STORE = "store"


@dataclass(frozen=True)
class StageSpec:
    """One activity as the workflow calls it, and where it runs."""

    activity: ActivityName
    queue: TaskQueue
    pool: PoolName
    # What the workflow's `current_stage` query answers while this activity runs.
    stage: Stage
    request_type: type[BaseModel]
    result_type: type[BaseModel]
    start_to_close: timedelta
    heartbeat: timedelta | None
    retry: RetryPolicy
    # Why the timeout is what it is: shown in the README's retry table.
    why: str


PARSE = StageSpec(
    activity=ActivityName.PARSE_PDF,
    queue=TaskQueue.PARSE,
    pool=PoolName.PARSE,
    stage=Stage.PARSING,
    request_type=ParseRequest,
    result_type=ParsedDocument,
    start_to_close=timedelta(minutes=10),
    heartbeat=timedelta(seconds=10),
    retry=RetryPolicy(
        maximum_attempts=2,
        non_retryable_error_types=[ErrorType.PDF_PARSE.value, ErrorType.PDF_VALIDATION.value],
    ),
    why=(
        "the engine refuses a document over its own 8-minute budget with a typed error, and 10"
        " minutes leaves room for that answer; it heartbeats every second, so a dead worker is"
        " noticed in 10 s"
    ),
)

EXTRACT = StageSpec(
    activity=ActivityName.LLM_EXTRACT,
    queue=TaskQueue.LLM,
    pool=PoolName.LLM,
    stage=Stage.EXTRACTING,
    request_type=ExtractRequest,
    result_type=ExtractionSummary,
    start_to_close=timedelta(minutes=10),
    heartbeat=timedelta(seconds=30),
    retry=RetryPolicy(
        maximum_attempts=3,
        initial_interval=timedelta(seconds=2),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
    ),
    why=(
        "one provider call is capped by its client timeout (120 s) and long contracts make a few;"
        " the activity heartbeats every 5 s while a call runs, so a worker killed mid-call is"
        " noticed in 30 s"
    ),
)

STORE = StageSpec(
    activity=ActivityName.STORE_RESULTS,
    queue=TaskQueue.STORE,
    pool=PoolName.STORE,
    stage=Stage.STORING,
    request_type=StoreRequest,
    result_type=StoredExtraction,
    start_to_close=timedelta(seconds=30),
    heartbeat=None,
    retry=RetryPolicy(maximum_attempts=3),
    why=(
        "one artifact write and one short transaction take well under a second; 30 s absorbs a"
        " slow database and bounds the wait after a store worker dies mid-attempt"
    ),
)

RECORD_FAILURE = StageSpec(
    activity=ActivityName.RECORD_FAILURE,
    queue=TaskQueue.STORE,
    pool=PoolName.STORE,
    stage=Stage.RECORDING_FAILURE,
    request_type=FailureReport,
    result_type=StoredExtraction,
    start_to_close=timedelta(minutes=1),
    heartbeat=None,
    retry=RetryPolicy(maximum_attempts=10, maximum_interval=timedelta(seconds=30)),
    why="the last word on a document: retried harder than a normal store",
)

# The batch workflow's own stages: where its list lives and which documents need no extraction.

DESCRIBE_EXTRACTOR = StageSpec(
    activity=ActivityName.DESCRIBE_EXTRACTOR,
    queue=TaskQueue.LLM,
    pool=PoolName.LLM,
    stage=Stage.PLANNING_BATCH,
    request_type=DescribeExtractorRequest,
    result_type=ExtractorIdentity,
    start_to_close=timedelta(seconds=30),
    heartbeat=None,
    retry=RetryPolicy(maximum_interval=timedelta(seconds=30)),
    why=(
        "answers from the worker's configuration in microseconds; retried without end (every 30 s"
        " at most) because a batch cannot decide what to reuse before an llm worker answers"
    ),
)

SAVE_BATCH_LIST = StageSpec(
    activity=ActivityName.SAVE_BATCH_LIST,
    queue=TaskQueue.STORE,
    pool=PoolName.STORE,
    stage=Stage.PLANNING_BATCH,
    request_type=SaveBatchListRequest,
    result_type=BatchListRef,
    start_to_close=timedelta(seconds=30),
    heartbeat=None,
    retry=RetryPolicy(maximum_interval=timedelta(seconds=30)),
    why="one object write of a few KiB; retried until storage answers, like every batch step",
)

READ_BATCH_PAGE = StageSpec(
    activity=ActivityName.READ_BATCH_PAGE,
    queue=TaskQueue.STORE,
    pool=PoolName.STORE,
    stage=Stage.PLANNING_BATCH,
    request_type=BatchPageRequest,
    result_type=BatchPage,
    start_to_close=timedelta(minutes=1),
    heartbeat=None,
    retry=RetryPolicy(
        maximum_interval=timedelta(seconds=30),
        non_retryable_error_types=[ErrorType.INVALID_INPUT.value],
    ),
    why=(
        "reads the list (a few MiB at most), records the page's members and looks their current"
        " extractions up in one query; a missing or malformed list is final"
    ),
)

BATCH_STAGES: tuple[StageSpec, ...] = (DESCRIBE_EXTRACTOR, SAVE_BATCH_LIST, READ_BATCH_PAGE)

STAGES: tuple[StageSpec, ...] = (PARSE, EXTRACT, STORE, RECORD_FAILURE, *BATCH_STAGES)

# Every pool and the queue it polls. The workflow pool polls for workflow tasks only; the others
# for the activities of their stages.
QUEUE_OF_POOL: Mapping[PoolName, TaskQueue] = MappingProxyType(
    {
        PoolName.WORKFLOW: TaskQueue.WORKFLOW,
        **{spec.pool: spec.queue for spec in STAGES},
    }
)
POOLS: tuple[PoolName, ...] = tuple(QUEUE_OF_POOL)
# The package whose `worker.pool_spec(settings)` builds each pool (`python -m PACKAGE` runs it).
PACKAGE_OF_POOL: Mapping[PoolName, str] = MappingProxyType(
    {
        PoolName.WORKFLOW: "workflows",
        PoolName.PARSE: "parse_worker",
        PoolName.LLM: "llm_worker",
        PoolName.STORE: "store_worker",
    }
)
ACTIVITY_POOLS: tuple[PoolName, ...] = tuple(pool for pool in POOLS if pool != PoolName.WORKFLOW)


def stage_of_activity(activity: str) -> StageSpec | None:
    """The stage an activity name belongs to, or None for a name that is not ours."""
    return next((spec for spec in STAGES if spec.activity == activity), None)


def pool_of_queue(queue: str) -> PoolName:
    for pool, polled in QUEUE_OF_POOL.items():
        if polled == queue:
            return pool
    raise ValueError(f"no pool polls {queue!r}")


def activities_of_pool(pool: PoolName) -> tuple[ActivityName, ...]:
    return tuple(spec.activity for spec in STAGES if spec.pool == pool)
