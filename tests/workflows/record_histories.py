"""Record workflow histories for the replay test: `python -m tests.workflows.record_histories v2`.

Run it when a change to the workflow is deliberate (and guarded by `workflow.patched`), to add the
new version's histories next to the old ones; never regenerate old files to make a replay pass.
Each scenario runs the real workflow against fake stages on a local dev server.
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

from charmelio.contract import TaskQueue
from charmelio.errors import LLMUnavailableError, PDFValidationError
from operator_tools.devstack import temporal_binary
from operator_tools.fakes.stages import Calls, fakes, new_document_id, pipeline

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


async def record(client: Client, name: str, version: str) -> Path:
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
    path = HISTORIES / f"{version}-{name}.json"
    path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
    return path


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
            print(await record(env.client, name, args.version))
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
