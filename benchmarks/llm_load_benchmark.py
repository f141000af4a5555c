"""The llm pool at the provider's limits: 4 llm worker processes, a provider that refuses excess.

In one run: the embedded stack (Temporal dev server, Postgres, local objects) with real worker
processes, 4 of them in the llm pool, and the fake OpenAI-compatible provider on real HTTP,
enforcing R requests/min and T tokens/min (token buckets holding a minute, as providers do, and a
429 with Retry-After beyond them). The llm workers are configured with the same limits, shared
through Postgres; the llm-queue's dispatch rate in Temporal is a coarse guard at twice R/60 per
second (Temporal's queue limit alone delivered about 0.75 of its setting here, so it cannot be the
precise one).
N documents (copies of the CUAD dev PDFs made distinct by a trailing comment) go through the whole
pipeline.

It prints the achieved requests/min and tokens/min beside the limits and the ratio to the binding
one, the 429s the provider sent, the activity attempts that failed, and how many documents
completed. Rates are measured between the first and the last request the provider accepted, over
the whole run and past the pool's initial 10-second burst allowance (the steady rate).

    .venv/bin/python -m benchmarks.llm_load_benchmark [--documents 100] [--rpm 120] [--tpm 400000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowFailureError

from charmelio.contract import ActivityName
from charmelio.documents import upload_pdf
from charmelio.settings import Settings
from charmelio.stages import PoolName
from charmelio.starter import start_extraction
from charmelio.storage.objects import open_object_store
from charmelio.worker_runtime import connect
from operator_tools.devstack import DevStack, free_port
from operator_tools.fakes.openai_server import Accepted, FakeOpenAIServer

ROOT = Path(__file__).resolve().parent.parent
PDFS = ROOT / "tests" / "fixtures" / "cuad" / "pdfs"


def _documents(count: int) -> list[tuple[str, bytes]]:
    """`count` distinct PDFs: the dev contracts in turn, each copy with its own trailing comment
    (after %%EOF, which readers ignore), so each copy is a document of its own."""
    sources = sorted(PDFS.glob("*.pdf"))
    return [
        (
            f"copy{i:03d}-{sources[i % len(sources)].name}",
            sources[i % len(sources)].read_bytes() + f"\n% benchmark copy {i}\n".encode(),
        )
        for i in range(count)
    ]


STEADY_AFTER_SECONDS = 15.0


def _rates(accepted: list[Accepted]) -> tuple[float, float, float]:
    """(requests/min, tokens/min, seconds) between the first and the last accepted request,
    counting every arrival but the last (which ends the window)."""
    if len(accepted) < 2:
        return 0.0, 0.0, 0.0
    window = accepted[-1].at - accepted[0].at
    return (
        (len(accepted) - 1) / window * 60,
        sum(a.tokens for a in accepted[:-1]) / window * 60,
        window,
    )


def _attempt_failures(log_dir: Path) -> dict[str, int]:
    failures: dict[str, int] = {}
    for log in log_dir.glob("llm-*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if (
                    record.get("activity") == ActivityName.LLM_EXTRACT
                    and record.get("outcome") == "failed"
                ):
                    kind = str(record.get("error_type"))
                    failures[kind] = failures.get(kind, 0) + 1
    return failures


async def _run(args: argparse.Namespace, fake: FakeOpenAIServer, data_dir: Path) -> dict[str, Any]:
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        storage_dir=data_dir / "objects",
        database_url=os.environ.get("CHARMELIO_DATABASE_URL") or None,
        shutdown_grace_seconds=5,
    )
    env = {
        "CHARMELIO_LLM_PROVIDER": "openai",
        "CHARMELIO_OPENAI_BASE_URL": fake.base_url,
        "CHARMELIO_OPENAI_API_KEY": "sk-benchmark-not-a-secret",
        "CHARMELIO_OPENAI_MODEL": "fake-contract-model",
        "CHARMELIO_OPENAI_TIMEOUT_SECONDS": "60",
        "CHARMELIO_LLM_CONCURRENCY": str(args.llm_concurrency),
        "CHARMELIO_LLM_REQUESTS_PER_MINUTE": str(args.rpm),
        "CHARMELIO_LLM_TOKENS_PER_MINUTE": str(args.tpm),
    }
    if args.queue_rps:
        env["CHARMELIO_LLM_RATE_LIMIT_PER_SECOND"] = str(args.queue_rps)
    pools: dict[str, int] = {
        PoolName.WORKFLOW: 1,
        PoolName.PARSE: 2,
        PoolName.LLM: args.llm_workers,
        PoolName.STORE: 1,
    }
    stack = DevStack(settings, processes_per_pool=pools, temporal_port=free_port(), extra_env=env)
    print(f"starting the stack: {pools} ...", file=sys.stderr)
    await asyncio.to_thread(stack.start)
    try:
        database_url = stack.database_url
        client = await connect(
            settings.model_copy(update={"temporal_address": stack.temporal_address})
        )
        store = open_object_store(settings)
        ids = [
            upload_pdf(
                data, name, store=store, database_url=database_url, max_bytes=50 << 20
            ).document_id
            for name, data in _documents(args.documents)
        ]
        assert len(set(ids)) == len(ids), "documents must be distinct"
        print(f"extracting {len(ids)} documents ...", file=sys.stderr)
        started = time.monotonic()
        handles = [await start_extraction(client, doc) for doc in ids]

        async def outcome(handle: Any) -> str:
            try:
                await handle.result()
            except WorkflowFailureError as exc:
                return f"failed: {exc.cause or exc}"
            return "completed"

        outcomes = await asyncio.wait_for(
            asyncio.gather(*(outcome(h) for h in handles)), args.timeout
        )
        elapsed = time.monotonic() - started
        return {
            "outcomes": outcomes,
            "elapsed": elapsed,
            "attempt_failures": _attempt_failures(stack.log_dir),
        }
    finally:
        await asyncio.to_thread(stack.stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100)
    parser.add_argument("--rpm", type=float, default=120, help="provider requests per minute")
    parser.add_argument("--tpm", type=float, default=400_000, help="provider tokens per minute")
    parser.add_argument("--llm-workers", type=int, default=4)
    parser.add_argument("--llm-concurrency", type=int, default=4)
    parser.add_argument("--latency", type=float, default=1.0, help="provider seconds per reply")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument(
        "--queue-rps",
        type=float,
        help="llm-queue dispatches per second in Temporal, a coarse guard above the provider's "
        "rate (default: 2 x rpm/60; 0: none)",
    )
    args = parser.parse_args(argv)
    if args.queue_rps is None:
        args.queue_rps = 2 * args.rpm / 60
    with (
        FakeOpenAIServer(
            latency_seconds=args.latency,
            requests_per_minute=args.rpm,
            tokens_per_minute=args.tpm,
        ) as fake,
        tempfile.TemporaryDirectory(prefix="charmelio-llm-load-") as tmp,
    ):
        run = asyncio.run(_run(args, fake, Path(tmp)))
        accepted = fake.accepted
        refused = fake.refused
    completed = run["outcomes"].count("completed")
    failed = [o for o in run["outcomes"] if o != "completed"]
    if len(accepted) < 2:
        print("too few accepted requests to measure a rate", file=sys.stderr)
        return 1
    mean_tokens = statistics.fmean(a.tokens for a in accepted)
    binding_rpm = min(args.rpm, args.tpm / mean_tokens)
    binding = "tokens/min" if args.tpm / mean_tokens < args.rpm else "requests/min"
    whole = _rates(accepted)
    # The pool starts with a full 10-second bucket; past it, the rate is the steady one.
    steady = _rates([a for a in accepted if a.at >= accepted[0].at + STEADY_AFTER_SECONDS])

    def ratio(rates: tuple[float, float, float]) -> float:
        rpm, tpm, _ = rates
        return float(tpm / args.tpm if binding == "tokens/min" else rpm / args.rpm)

    queue = f"{args.queue_rps:g}/s" if args.queue_rps else "none"
    lines = [
        f"llm load: {args.documents} documents, {args.llm_workers} llm worker processes x "
        f"{args.llm_concurrency} slots, provider latency {args.latency:g} s, "
        f"llm-queue dispatch limit {queue}",
        f"provider limits      {args.rpm:>10,.0f} requests/min  {args.tpm:>12,.0f} tokens/min",
        f"achieved, whole run  {whole[0]:>10,.1f} requests/min  {whole[1]:>12,.0f} tokens/min "
        f"({whole[2]:.0f} s from the first to the last accepted request)",
        f"achieved, steady     {steady[0]:>10,.1f} requests/min  {steady[1]:>12,.0f} tokens/min "
        f"(after the first {STEADY_AFTER_SECONDS:g} s, the pool's burst allowance)",
        f"mean tokens/request  {mean_tokens:>10,.0f}   -> binding limit: {binding} "
        f"({binding_rpm:,.1f} requests/min)",
        f"achieved / binding   {ratio(whole):>10.3f} whole run, {ratio(steady):.3f} steady",
        f"429s from provider   {refused:>10}",
        f"failed llm attempts  {sum(run['attempt_failures'].values()):>10}  "
        f"{run['attempt_failures'] or ''}",
        f"documents completed  {completed:>10} / {args.documents}  (failed: {len(failed)})",
        f"wall time            {run['elapsed']:>10.0f} s",
    ]
    print("\n".join(lines))
    for failure in failed[:5]:
        print(f"  {failure}")
    return 0 if completed == args.documents and not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
