"""Record workflow histories for the replay test: `python -m tests.workflows.record_histories v2`.

Run it when a change to the workflow is deliberate (and guarded by `workflow.patched`), to add the
new version's histories next to the old ones; never regenerate old files to make a replay pass
(a file that exists is kept: delete it by hand if you really mean to record it again).
Each scenario runs the real workflow against fake stages on a local dev server.

`ExtractionWorkflow` scenarios give one history each. A batch scenario gives one history per run
of the batch (continue-as-new starts a new history), oldest first: ``NAME_run1.json``, ...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from charmelio.batches import new_batch_id, start_batch
from charmelio.contract import BatchInput, ParsedDocument, ParseRequest, TaskQueue
from charmelio.errors import LLMUnavailableError, PDFValidationError
from operator_tools.devstack import temporal_binary
from operator_tools.fakes.stages import Calls, fakes, new_document_id, parsed_for, pipeline

HISTORIES = Path(__file__).resolve().parent.parent / "fixtures" / "histories"


def _fail_parse(_: Calls) -> None:
    raise PDFValidationError("the file is not a PDF", reason="not_a_pdf")


def _llm_fails_twice(calls: Calls) -> None:
    if len(calls.llm) < 3:
        raise LLMUnavailableError("provider returned 503")


def _store_always_fails(_: Calls) -> None:
    raise RuntimeError("database down")


SCENARIOS: dict[str, dict[str, Callable[[Calls], None]]] = {
    "completed": {},
    "failed_parse_not_a_pdf": {"parse": _fail_parse},
    "llm_retried_then_completed": {"llm": _llm_fails_twice},
    "store_failed_and_recorded": {"store": _store_always_fails},
}


# batch_continued_as_new_with_failed_children: five documents in pages of three (so it continues
# as new once), two at a time, the second and fifth refused by parse: each run has a failed child,
# the second run starts from the state the first carried over.
# batch_cancelled_by_temporal: four documents two at a time, cancelled with handle.cancel() while
# the first two are in flight: they finish, the other two never start.
BATCH_SCENARIOS: dict[str, int] = {  # name: runs
    "batch_continued_as_new_with_failed_children": 2,
    "batch_cancelled_by_temporal": 1,
}


def recorded_names() -> set[str]:
    """The name part (after ``VERSION-``) of every history the scenarios record."""
    runs = {
        f"{name}_run{number}"
        for name, count in BATCH_SCENARIOS.items()
        for number in range(1, count + 1)
    }
    return set(SCENARIOS) | runs


def _write(path: Path, history_json: str) -> Path | None:
    if path.exists():
        print(f"kept {path} (exists)")
        return None
    path.write_text(json.dumps(json.loads(history_json), indent=1) + "\n")
    return path


async def record(client: Client, name: str, version: str) -> Path | None:
    if (path := HISTORIES / f"{version}-{name}.json").exists():
        print(f"kept {path} (exists)")
        return None
    behaviour: dict[str, Any] = SCENARIOS[name]
    workflow_id = f"history-{version}-{name}"
    async with pipeline(client, fakes(Calls(), **behaviour)):
        handle = await client.start_workflow(
            "ExtractionWorkflow",
            new_document_id(),
            id=workflow_id,
            task_queue=TaskQueue.WORKFLOW.value,
        )
        with contextlib.suppress(WorkflowFailureError):
            await handle.result()
        history = await handle.fetch_history()
    return _write(path, history.to_json())


async def _continued_as_new_with_failed_children(client: Client, batch_id: str) -> None:
    documents = [new_document_id() for _ in range(5)]
    broken = {documents[1], documents[4]}

    def parse(request: ParseRequest) -> ParsedDocument:
        if request.document_id in broken:
            raise PDFValidationError("the file is not a PDF", reason="not_a_pdf")
        return parsed_for(request)

    batch = BatchInput(document_ids=documents, max_in_flight=2, documents_per_run=3)
    async with pipeline(client, fakes(Calls(), parse_result=parse)):
        progress = await (await start_batch(client, batch_id, batch)).result()
    if (progress.done, progress.failed, progress.runs) != (3, 2, 2):
        raise RuntimeError(f"the batch did not run as the scenario says: {progress}")


async def _cancelled_by_temporal(client: Client, batch_id: str) -> None:
    calls, gate = Calls(), asyncio.Event()
    batch = BatchInput(document_ids=[new_document_id() for _ in range(4)], max_in_flight=2)
    async with pipeline(client, fakes(calls, parse_gate=gate)):
        handle = await start_batch(client, batch_id, batch)
        while len(calls.parse) < 2:
            await asyncio.sleep(0.05)
        await handle.cancel()
        await asyncio.sleep(0.5)
        gate.set()
        progress = await handle.result()
    if (progress.status, progress.done, progress.skipped) != ("cancelled", 2, 2):
        raise RuntimeError(f"the batch did not run as the scenario says: {progress}")


_BATCH_RUNS = {
    "batch_continued_as_new_with_failed_children": _continued_as_new_with_failed_children,
    "batch_cancelled_by_temporal": _cancelled_by_temporal,
}


async def record_batch(client: Client, name: str, version: str) -> list[Path]:
    paths = [
        HISTORIES / f"{version}-{name}_run{number}.json"
        for number in range(1, BATCH_SCENARIOS[name] + 1)
    ]
    if all(path.exists() for path in paths):
        print(f"kept {name} (exists)")
        return []
    batch_id = new_batch_id(f"history-{version}-{name}".replace("_", "-"))
    await _BATCH_RUNS[name](client, batch_id)
    runs: list[tuple[object, str]] = []
    for _ in range(50):  # visibility lags the runs by a moment
        runs = [
            (execution.start_time, execution.run_id)
            async for execution in client.list_workflows(f"WorkflowId = '{batch_id}'")
        ]
        if len(runs) == len(paths):
            break
        await asyncio.sleep(0.1)
    written = []
    for path, (_, run_id) in zip(paths, sorted(runs), strict=True):
        history = await client.get_workflow_handle(batch_id, run_id=run_id).fetch_history()
        if _write(path, history.to_json()) is not None:
            written.append(path)
    return written


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", help="a label for this workflow version, e.g. v1")
    args = parser.parse_args()
    HISTORIES.mkdir(parents=True, exist_ok=True)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(), data_converter=pydantic_data_converter
    )
    try:
        for name in SCENARIOS:
            if (path := await record(env.client, name, args.version)) is not None:
                print(path)
        for name in BATCH_SCENARIOS:
            for path in await record_batch(env.client, name, args.version):
                print(path)
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
