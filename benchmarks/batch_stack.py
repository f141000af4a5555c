"""A batch of real contracts through the embedded stack, against the machine's limit, same run.

1. Starts the embedded stack with its defaults (offline extractor, in-memory Temporal).
2. Baseline: the same stage work run sequentially in this process, with the pools' own activities
   (parse, extract, store) on ``--baseline`` distinct copies of the CUAD dev PDFs; the machine's
   limit is that rate times the cores (perfect parallelism, zero orchestration).
3. Uploads ``--count`` distinct copies and runs them as one batch; prints its documents per
   second and the ratio to the limit.
4. Starts a batch of the same documents again: every one should be reused; prints its time.

    .venv/bin/python -m benchmarks.batch_stack [--count 1000] [--baseline 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from charmelio.batches import new_batch_id, save_batch_list, start_batch
from charmelio.contract import (
    ExtractionSummary,
    ExtractRequest,
    ParsedDocument,
    ParseRequest,
    StoreRequest,
    workflow_id_for,
)
from charmelio.documents import upload_pdf
from charmelio.settings import Settings, load_settings
from charmelio.storage.objects import open_object_store
from charmelio.worker_runtime import connect
from operator_tools.devstack import DevStack
from operator_tools.loadtest import variant

CUAD_PDFS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "cuad" / "pdfs"


def copies(count: int, tag: str) -> list[tuple[str, bytes]]:
    sources = sorted(CUAD_PDFS.glob("*.pdf"))
    return [
        (
            f"{sources[i % len(sources)].stem}-{i}.pdf",
            variant(sources[i % len(sources)].read_bytes(), f"{tag}-{i}"),
        )
        for i in range(count)
    ]


def upload_all(settings: Settings, documents: list[tuple[str, bytes]]) -> list[str]:
    store = open_object_store(settings)
    url = settings.require_database_url()
    return [
        upload_pdf(
            data, name, store=store, database_url=url, max_bytes=settings.max_pdf_bytes
        ).document_id
        for name, data in documents
    ]


def sequential_seconds_per_document(settings: Settings, document_ids: list[str]) -> float:
    """The three stages, one document after another, in this process: pure stage work."""
    import uuid

    from llm_worker import activities_for as llm_activities
    from parse_worker import activities_for as parse_activities
    from store_worker import activities_for as store_activities

    [parse] = parse_activities(settings)
    extract = llm_activities(settings)[0]
    store = store_activities(settings)[0]
    env = ActivityEnvironment()
    started = time.perf_counter()
    for document_id in document_ids:
        extraction_id = str(uuid.uuid4())
        parsed: ParsedDocument = env.run(parse, ParseRequest(document_id=document_id))
        summary: ExtractionSummary = env.run(
            extract,
            ExtractRequest(document_id=document_id, extraction_id=extraction_id, parsed=parsed),
        )
        env.run(
            store,
            StoreRequest(
                extraction_id=extraction_id,
                document_id=document_id,
                workflow_id=workflow_id_for(document_id),
                parsed=parsed,
                extraction=summary,
            ),
        )
    return (time.perf_counter() - started) / len(document_ids)


async def run_batch(settings: Settings, document_ids: list[str]) -> tuple[float, int, int]:
    """(seconds, done, reused) of one batch of these documents, from start to result."""
    from charmelio.contract import BatchInput

    batch_id = new_batch_id(f"bench-{secrets.token_hex(4)}")
    key = save_batch_list(open_object_store(settings), batch_id, document_ids)
    client = await connect(settings)
    started = time.perf_counter()
    handle = await start_batch(
        client,
        batch_id,
        BatchInput(
            list_key=key,
            max_in_flight=settings.batch_max_in_flight,
            documents_per_run=settings.batch_documents_per_run,
        ),
    )
    result = await handle.result()
    return time.perf_counter() - started, result.done, result.reused


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--baseline", type=int, default=15)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="charmelio-batch-bench-") as tmp:
        base = load_settings(data_dir=Path(tmp) / "stack", stack_env=False)
        stack = DevStack(base, api=False, temporal_on_disk=False)
        # start() runs its own event loop to wait for Temporal: not on this one.
        await asyncio.to_thread(stack.start)
        try:
            settings = load_settings(
                stack_env=False,
                **{
                    k.removeprefix("CHARMELIO_").lower(): v
                    for k, v in stack.stack_settings().items()
                },
            )
            baseline_ids = upload_all(settings, copies(args.baseline, "baseline"))
            per_document = sequential_seconds_per_document(settings, baseline_ids)
            limit = cores / per_document
            print(
                f"sequential stage work: {per_document:.3f} s/document over {args.baseline}"
                f" documents; limit on {cores} cores: {limit:.2f} docs/s",
                flush=True,
            )
            document_ids = upload_all(settings, copies(args.count, "batch"))
            seconds, done, _ = await run_batch(settings, document_ids)
            rate = args.count / seconds
            print(
                f"batch of {args.count}: {seconds:.1f} s, {done} extracted, {rate:.2f} docs/s"
                f" = {rate / limit:.2f} of the limit (goal: >= 0.75)",
                flush=True,
            )
            again, done_again, reused = await run_batch(settings, document_ids)
            print(f"the same batch again: {again:.1f} s, {reused} reused, {done_again} extracted")
            print(f"stack notices: {stack.notices or 'none'}")
        finally:
            await asyncio.to_thread(stack.stop)


if __name__ == "__main__":
    asyncio.run(main())
