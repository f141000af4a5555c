"""The portfolio at scale, through the real API process: search and listing latency per filter,
the XLSX export of every contract (time and the API process's memory growth), and evidence page
images (first time and cached).

    .venv/bin/python -m benchmarks.portfolio_benchmark [--contracts N] [--clauses-per-contract N]
                                                       [--requests N] [--admin-url URL]

Defaults: 10,000 contracts x 50 findings = 500,000 clause rows, bulk-loaded with COPY into a
fresh database (dropped at the end). Baselines measured in the same run, against the same API
process: `GET /health` (the HTTP round trip alone) and `GET /api/extractions` (the existing
listing, read from its index). Each figure is the p50/p95 of sequential requests; the machine's
load is printed with them, since a shared machine moves every number.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil
import psycopg
import requests
from psycopg.types.json import Jsonb

from benchmarks._portfolio_data import seed_portfolio
from charmelio.contract import ObjectKeys, ParsedPages
from charmelio.storage.database import migrate
from charmelio.storage.objects import LocalObjectStore
from operator_tools.devstack import free_port

ROOT = Path(__file__).resolve().parent.parent
EVIDENCE_PDF = (
    ROOT / "tests/fixtures/cuad/pdfs/N2KINC_10_16_1997_EX_10_16_SPONSORSHIP_AGREEMENT.pdf"
)

FILTERS: list[tuple[str, str, dict[str, str]]] = [
    ("contracts", "no filter (newest first)", {}),
    ("contracts", "sort by name", {"sort": "name"}),
    ("contracts", "sort by expiration, desc", {"sort": "expiration_date", "order": "desc"}),
    ("contracts", "governing law ~ new york", {"governing_law": "new york"}),
    ("contracts", "party ~ o'reilly", {"party": "o'reilly"}),
    ("contracts", "effective 2012..2014", {"effective_from": "2012-01-01",
                                                 "effective_to": "2014-12-31"}),
    ("contracts", "expires before 2016", {"expires_to": "2015-12-31"}),
    ("contracts", "has Change of Control", {"has": "Change of Control"}),
    ("contracts", "lacks Non-Compete", {"lacks": "Non-Compete"}),
    ("contracts", "lacks Third Party Beneficiary", {"lacks": "Third Party Beneficiary"}),
    ("contracts", "category Renewal Term", {"category": "Renewal Term"}),
    ("contracts", 'q "change of control"', {"q": '"change of control"'}),
    ("contracts", "document", {"document_id": "doc_000000000000000000001234"}),
    ("clauses", "no filter", {}),
    ("clauses", "category Governing Law", {"category": "Governing Law"}),
    ("clauses", "q change of control", {"q": "change of control"}),
    ("clauses", "q renew -terminate", {"q": "renew -terminate"}),
    ("clauses", "q rare word (merger acquisition)", {"q": "merger acquisition successor"}),
    ("clauses", "q common word (agreement)", {"q": "agreement"}),
    ("clauses", "q + category + law", {"q": "notice", "category": "Renewal Term",
                                         "governing_law": "delaware"}),
    ("clauses", "has + lacks", {"has": "Governing Law", "lacks": "Non-Compete"}),
    ("clauses", "party", {"party": "globex"}),
    ("clauses", "expires 2020..2022", {"expires_from": "2020-01-01", "expires_to": "2022-12-31"}),
]  # fmt: skip


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def timed(call: Callable[[], requests.Response], count: int) -> tuple[float, float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = call()
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text[:300]
    return percentiles(samples)


class MemoryWatch:
    """Peak resident memory of a process, sampled every 20 ms while it runs."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def seed_evidence(database_url: str, store: LocalObjectStore, findings: int) -> list[str]:
    """A real contract with `findings` findings spread over its pages: their image paths."""
    from parse_worker.reading import extract_pages

    data = EVIDENCE_PDF.read_bytes()
    pages, _ = extract_pages(data, max_bytes=50 * 2**20, max_pages=500)
    document_id = "doc_benchmarkevidence00000001"
    parsed = ParsedPages(document_id=document_id, engine="pdfium", pages=pages)
    store.put_bytes(ObjectKeys.document_pdf(document_id), data)
    store.put_bytes(ObjectKeys.parsed_pages(document_id), parsed.model_dump_json().encode())
    full, starts = parsed.full_text(), parsed.page_starts()
    extraction_id = str(uuid.uuid4())
    rows = []
    for ordinal in range(1, findings + 1):
        index = ordinal % len(pages)
        if len(pages[index].text) < 400:
            index = 0
        start = starts[index] + 50 + (ordinal * 37) % max(1, len(pages[index].text) - 350)
        rows.append((extraction_id, ordinal, "Parties", full[start : start + 250], index + 1,
                     0.9, start, start + 250))  # fmt: skip
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO documents (id, sha256, filename, size_bytes, object_key, page_count)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (document_id, "e" * 64, EVIDENCE_PDF.name, len(data),
             ObjectKeys.document_pdf(document_id), len(pages)),
        )  # fmt: skip
        conn.execute(
            "INSERT INTO extractions (id, document_id, workflow_id, status, clause_count, fields,"
            " finished_at) VALUES (%s, %s, 'w', 'completed', %s, %s, '2000-01-01')",
            (extraction_id, document_id, findings, Jsonb({"parties": []})),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO clauses (extraction_id, ordinal, category, quote, page, confidence,"
                " start_offset, end_offset) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
    return [f"/api/clauses/{extraction_id}/{row[1]}/pages/{row[4]}" for row in rows]


def explain(database_url: str) -> None:
    """Which indexes each representative query read (Postgres' own index-scan counters)."""
    from charmelio.portfolio import PortfolioFilter, search_clauses, search_contracts

    filters: dict[str, tuple[Callable[..., Any], PortfolioFilter]] = {
        "clauses, q": (search_clauses, PortfolioFilter(query="change of control")),
        "clauses, category": (search_clauses, PortfolioFilter(categories=("Governing Law",))),
        "contracts, lacks": (search_contracts, PortfolioFilter(lacks=("Non-Compete",))),
        "contracts, q": (search_contracts, PortfolioFilter(query='"change of control"')),
    }

    def index_scans(conn: psycopg.Connection[Any]) -> dict[str, int]:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = conn.execute("SELECT indexrelname, idx_scan FROM pg_stat_user_indexes").fetchall()
        return {str(row[0]): int(row[1]) for row in rows}

    with psycopg.connect(database_url, autocommit=True) as conn:
        for label, (search, found) in filters.items():
            before = index_scans(conn)
            search(conn, found)
            conn.execute("SELECT pg_stat_force_next_flush()")
            conn.execute("SELECT 1")
            after = index_scans(conn)
            used = sorted(name for name, scans in after.items() if scans > before.get(name, 0))
            print(f"  {label:<22} read {', '.join(used) or 'no index (sequential scans)'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--clauses-per-contract", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40, help="per filter (default 40)")
    parser.add_argument("--evidence-findings", type=int, default=30)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    name = f"charmelio_portfolio_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = urlunsplit(urlsplit(args.admin_url)._replace(path=f"/{name}"))
    workdir = Path(tempfile.mkdtemp(prefix="charmelio-portfolio-bench-"))
    api: subprocess.Popen[bytes] | None = None
    try:
        migrate(database_url)
        started = time.perf_counter()
        seeded = seed_portfolio(
            database_url,
            contracts=args.contracts,
            clauses_per_contract=args.clauses_per_contract,
            hostile_every=101,
            long_quote_every=50_000,
        )
        print(f"loaded {args.contracts:,} contracts and {seeded.clause_rows:,} clause rows with"
              f" COPY in {time.perf_counter() - started:.1f} s")  # fmt: skip
        store = LocalObjectStore(workdir / "objects")
        images = seed_evidence(database_url, store, args.evidence_findings)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")

        port = free_port()
        env = {
            **os.environ,
            "CHARMELIO_DATABASE_URL": database_url,
            "CHARMELIO_STORAGE_DIR": str(workdir / "objects"),
            "CHARMELIO_DATA_DIR": str(workdir / "data"),
            "CHARMELIO_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
            "CHARMELIO_LOG_LEVEL": "WARNING",
        }
        api = subprocess.Popen(
            [sys.executable, "-m", "api_server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(workdir / "api.log").open("wb"),
        )
        url = f"http://127.0.0.1:{port}"
        session = requests.Session()
        for _ in range(300):
            try:
                if session.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        load = os.getloadavg()
        print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f}"
              " (1 / 5 min); the API is one process, requests are sequential")  # fmt: skip
        print("\nplans:")
        explain(database_url)

        count = args.requests
        print(f"\n{'request':<50} {'p50 ms':>8} {'p95 ms':>8}")
        for label, call in (
            ("baseline: GET /health", lambda: session.get(f"{url}/health", timeout=30)),
            (
                "baseline: GET /api/extractions (existing listing)",
                lambda: session.get(f"{url}/api/extractions", params={"limit": 50}, timeout=30),
            ),
        ):
            p50, p95 = timed(call, count)
            print(f"{label:<50} {p50:>8.1f} {p95:>8.1f}")
        worst = 0.0
        for path, label, params in FILTERS:
            query = {**params, "limit": "50"}

            def first_page(path: str = path, query: dict[str, str] = query) -> requests.Response:
                return session.get(f"{url}/api/{path}", params=query, timeout=30)

            p50, p95 = timed(first_page, count)
            cursor = first_page().json()["next_cursor"]
            if cursor:
                _, next_p95 = timed(
                    lambda path=path, query=query, cursor=cursor: session.get(  # type: ignore[misc]
                        f"{url}/api/{path}", params={**query, "cursor": cursor}, timeout=30
                    ),
                    max(5, count // 4),
                )
                p95 = max(p95, next_p95)
            worst = max(worst, p95)
            print(f"{path + ': ' + label:<50} {p50:>8.1f} {p95:>8.1f}")
        print(f"worst p95 over the filters (first and next pages): {worst:.1f} ms (goal < 50)")

        print("\nexport of every contract to XLSX through the API:")
        rss_before = psutil.Process(api.pid).memory_info().rss
        with MemoryWatch(api.pid) as watch:
            started = time.perf_counter()
            response = session.get(f"{url}/api/export", params={"format": "xlsx"}, timeout=600)
            seconds = time.perf_counter() - started
        assert response.status_code == 200, response.text[:300]
        print(f"  {args.contracts:,} contracts, {seeded.clause_rows:,} findings:"
              f" {seconds:.1f} s (goal < 60), {len(response.content) / 2**20:.0f} MiB;"
              f" API memory {rss_before / 2**20:.0f} MiB before, peak growth"
              f" {(watch.peak - rss_before) / 2**20:.0f} MiB (goal < 100)")  # fmt: skip
        with MemoryWatch(api.pid) as watch:
            started = time.perf_counter()
            size = 0
            with session.get(f"{url}/api/export", params={"format": "csv"}, stream=True,
                             timeout=600) as streamed:  # fmt: skip
                for chunk in streamed.iter_content(65536):
                    size += len(chunk)
            seconds = time.perf_counter() - started
        print(f"  CSV (streamed), for comparison: {seconds:.1f} s, {size / 2**20:.0f} MiB,"
              f" peak growth {(watch.peak - rss_before) / 2**20:.0f} MiB")  # fmt: skip

        print(f"\nevidence page images ({len(images)} findings of {EVIDENCE_PDF.name[:40]}…):")
        first = [time.perf_counter()]
        firsts, cached = [], []
        for path in images:
            first[0] = time.perf_counter()
            response = session.get(f"{url}{path}", timeout=60)
            firsts.append(time.perf_counter() - first[0])
            assert response.status_code == 200, response.text[:300]
        for _ in range(3):
            for path in images:
                started = time.perf_counter()
                assert session.get(f"{url}{path}", timeout=60).status_code == 200
                cached.append(time.perf_counter() - started)
        p50, p95 = percentiles(firsts)
        print(f"  first time (locate + render + store): p50 {p50:.0f} ms, p95 {p95:.0f} ms"
              " (goal < 300)")  # fmt: skip
        p50, p95 = percentiles(cached)
        print(f"  cached: p50 {p50:.1f} ms, p95 {p95:.1f} ms (goal < 20)")
    finally:
        if api is not None:
            api.terminate()
            api.wait(30)
        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
