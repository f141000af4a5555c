"""Parse-stage speed and memory, side by side with plain pypdf and plain PDFium in the same run.

    .venv/bin/python -m benchmarks.parse_benchmark [FOLDER] [--rounds N] [--repeat N]
                                                   [--no-rss] [--ocr]

FOLDER defaults to the CUAD contracts in tests/fixtures/cuad/pdfs. Every engine parses the same
files; in each round plain pypdf parses each file once and the faster rows each file ``--repeat``
times (a longer batch measures better on a shared machine). Times are medians over ``--rounds``
rounds; speed-up ratios are taken within a round, whose rows run back to back. Rows:

- plain pypdf / plain PDFium: the libraries alone, in this process, no checks, no isolation;
- stage, 1 process: `parse_worker._pdf_text.extract_pages`, the code the ``parse_pdf`` activity
  runs (byte checks, the engine process, guards, normalisation), OCR off like the baselines;
- stage, 2 processes: the same in two worker processes (a pool of two parse workers);
- stage, 1 process x 2 threads: two activity threads of one worker, each with its engine process;
- with ``--ocr``: the stage with OCR on (Tesseract), one round.

Then: what starting an engine process costs, the share of CUAD's labelled clauses each engine's
text contains (when the folder has CUAD labels next to it), and peak resident memory measured in
a fresh process per engine for the 117-page awkward PDF and a generated 1,000-page PDF.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import multiprocessing
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.pool import Pool
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parse_worker.reading import OcrMode

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = ROOT / "tests" / "fixtures" / "cuad" / "pdfs"
LARGE_117 = ROOT / "tests" / "fixtures" / "pdfs" / "sf_large_117pages_objstreams.pdf"
THOUSAND_SOURCE = DEFAULT_FOLDER / (
    "ZogenixInc_20190509_10_Q_EX_10_2_11663313_EX_10_2_Distributor_Agreement.pdf"
)
MAX_BYTES = 50 * 1024 * 1024
MAX_PAGES = 2000

FileResult = tuple[str, int, float, str]
"""(file name, pages, seconds, text) for one file."""


@dataclass(frozen=True)
class Run:
    label: str
    pages: int
    seconds: float
    slowest: tuple[float, str]
    texts: dict[str, str]

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


# --- the engines -------------------------------------------------------------------------------


def plain_pypdf(path: Path) -> FileResult:
    from pypdf import PdfReader

    started = time.perf_counter()
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    texts = [page.extract_text() for page in reader.pages]
    return path.name, len(texts), time.perf_counter() - started, "\n".join(texts)


def plain_pdfium(path: Path) -> FileResult:
    import pypdfium2 as pdfium

    started = time.perf_counter()
    document = pdfium.PdfDocument(path.read_bytes())
    texts = []
    for index in range(len(document)):
        page = document[index]
        text_page = page.get_textpage()
        texts.append(text_page.get_text_range())
        text_page.close()
        page.close()
    document.close()
    return path.name, len(texts), time.perf_counter() - started, "\n".join(texts)


def stage(path: Path, ocr: OcrMode = "off") -> FileResult:
    from parse_worker.reading import ParseOptions, extract_pages

    started = time.perf_counter()
    pages, _ = extract_pages(
        path.read_bytes(),
        max_bytes=MAX_BYTES,
        max_pages=MAX_PAGES,
        options=ParseOptions(ocr=ocr),
    )
    return (
        path.name,
        len(pages),
        time.perf_counter() - started,
        "\n".join(page.text for page in pages),
    )


def stage_with_ocr(path: Path) -> FileResult:
    return stage(path, ocr="on")


def busy_loop(iterations: int) -> float:
    """Pure CPU work, the yardstick for how much parallelism the machine gives right now."""
    started = time.perf_counter()
    total = 0
    for number in range(iterations):
        total += number * number
    return time.perf_counter() - started


def machine_parallelism(pool: Pool, iterations: int = 3_000_000) -> float:
    """How much faster two busy loops run in two processes than one after the other."""
    alone = busy_loop(iterations)
    started = time.perf_counter()
    pool.map(busy_loop, [iterations, iterations], chunksize=1)
    return 2 * alone / (time.perf_counter() - started)


def warm_engine() -> None:
    """Start this process's (or thread's) engine before the clock runs, as a worker would be."""
    stage(LARGE_117)


# --- runs --------------------------------------------------------------------------------------


def run_serial(label: str, parse: Callable[[Path], FileResult], files: Sequence[Path]) -> Run:
    started = time.perf_counter()
    results = [parse(path) for path in files]
    return _run(label, results, time.perf_counter() - started)


def run_threads(label: str, files: Sequence[Path], threads: int) -> Run:
    everyone_warm = threading.Barrier(threads)

    def warm_this_thread(_: int) -> None:
        warm_engine()
        everyone_warm.wait()  # so that each thread of the pool warms its own engine

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(warm_this_thread, range(threads)))
        started = time.perf_counter()
        results = list(pool.map(stage, files))
        return _run(label, results, time.perf_counter() - started)


def run_processes(label: str, pool: Pool, files: Sequence[Path]) -> Run:
    started = time.perf_counter()
    results = list(pool.imap_unordered(stage, files, chunksize=1))
    return _run(label, results, time.perf_counter() - started)


def _run(label: str, results: list[FileResult], seconds: float) -> Run:
    slowest = max((result[2], result[0]) for result in results)
    return Run(
        label=label,
        pages=sum(result[1] for result in results),
        seconds=seconds,
        slowest=slowest,
        texts={result[0]: result[3] for result in results},
    )


def page_count(path: Path) -> int:
    import pypdfium2 as pdfium

    return len(pdfium.PdfDocument(path.read_bytes()))


def median_run(runs: list[Run]) -> Run:
    ordered = sorted(runs, key=lambda run: run.seconds)
    return ordered[len(ordered) // 2]


# --- what an engine process costs --------------------------------------------------------------


def engine_startup_seconds(times: int = 5) -> float:
    from parse_worker.reading import EngineProcess

    samples = []
    for _ in range(times):
        engine = EngineProcess()
        engine.start()
        assert engine.startup_seconds is not None
        samples.append(engine.startup_seconds)
        engine.close()
    return statistics.median(samples)


# --- text quality against CUAD's labels --------------------------------------------------------


def label_coverage(run: Run, labels_folder: Path) -> tuple[float, float] | None:
    """Share of labelled spans found after collapsing whitespace, and after keeping only letters
    and digits (CUAD's text and a PDF's differ in line breaks and spacing)."""
    spans_total = found_spaces = found_letters = 0
    for name, text in run.texts.items():
        label_file = labels_folder / f"{Path(name).stem}.json"
        if not label_file.exists():
            continue
        labels = json.loads(label_file.read_text())["labels"]
        spaced, letters = _collapse(text), _letters(text)
        for span in (span for spans in labels.values() for span in spans):
            spans_total += 1
            found_spaces += _collapse(span) in spaced
            found_letters += _letters(span) in letters
    if not spans_total:
        return None
    return found_spaces / spans_total, found_letters / spans_total


def _collapse(text: str) -> str:
    text = text.replace("\ufffe", "-")
    return re.sub(r"\s+", " ", text).strip()


def _letters(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


# --- peak memory, each in a fresh process ------------------------------------------------------


def measure_rss(engine: str, path: Path) -> dict[str, Any]:
    """Runs in a fresh process: parse ``path`` once and report time and peak memory."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    started = time.perf_counter()
    engine_peak = 0
    if engine == "stage":
        from parse_worker.reading import ParseOptions, extract_pages

        pages, stats = extract_pages(
            path.read_bytes(),
            max_bytes=MAX_BYTES,
            max_pages=MAX_PAGES,
            options=ParseOptions(ocr="off"),
        )
        count, engine_peak = len(pages), stats.engine_peak_rss_bytes
    else:
        _, count, _, _ = (plain_pypdf if engine == "pypdf" else plain_pdfium)(path)
    return {
        "pages": count,
        "seconds": time.perf_counter() - started,
        "peak_rss_bytes": _peak_rss_bytes(),
        "engine_peak_rss_bytes": engine_peak,
    }


def _peak_rss_bytes() -> int:
    """VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_in_fresh_process(engine: str, path: Path) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, "-m", "benchmarks.parse_benchmark", "--measure-rss", engine, str(path)],
        capture_output=True,
        check=True,
        cwd=ROOT,
    ).stdout
    result: dict[str, Any] = json.loads(output.decode().strip().splitlines()[-1])
    return result


def thousand_page_pdf(target: Path) -> Path:
    import pypdfium2 as pdfium

    source = pdfium.PdfDocument(THOUSAND_SOURCE.read_bytes())
    document = pdfium.PdfDocument.new()
    while len(document) < 1000:
        document.import_pages(source, list(range(min(len(source), 1000 - len(document)))))
    document.save(str(target))
    return target


# --- report ------------------------------------------------------------------------------------


def _mb(value: float) -> str:
    return f"{value / 2**20:,.0f}"


def print_runs(runs: list[Run], rounds: int) -> None:
    print(f"{'engine':34} {'pages':>6} {'seconds':>8} {'pages/s':>8}  slowest file")
    for run in runs:
        seconds, name = run.slowest
        print(
            f"{run.label:34} {run.pages:>6} {run.seconds:>8.3f} {run.pages_per_second:>8.0f}"
            f"  {seconds:.3f} s {name[:48]}"
        )
    print(f"(seconds: median of {rounds} round(s); slowest file: within that round)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=4, help="times each file is parsed a round")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-memory runs")
    parser.add_argument("--ocr", action="store_true", help="also run the stage with OCR on")
    parser.add_argument(
        "--measure-rss", nargs=2, metavar=("ENGINE", "FILE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.measure_rss:
        engine, path = args.measure_rss
        print(json.dumps(measure_rss(engine, Path(path))))
        return 0

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    files = sorted(args.folder.glob("*.pdf"), key=page_count, reverse=True)
    if not files:
        parser.error(f"no PDFs in {args.folder}")
    import pypdf
    import pypdfium2.version as pdfium_version

    rounds, repeat = max(args.rounds, 1), max(args.repeat, 1)
    # Longest first, so that two workers finish together (the batch is fixed; a queue is not).
    batch = [path for path in files for _ in range(repeat)]
    print(
        f"{len(files)} PDFs in {args.folder}; {os.cpu_count()} CPUs; load average "
        f"{os.getloadavg()[0]:.2f}; pypdf {pypdf.__version__}, "
        f"PDFium {pdfium_version.PDFIUM_INFO.tag}, Python {sys.version.split()[0]}"
    )
    print(
        f"each round: plain pypdf parses every file once, the other rows every file {repeat} "
        "times (pages/s is what compares)\n"
    )
    warm_engine()
    context = multiprocessing.get_context("spawn")
    series: dict[str, list[Run]] = {}
    yardstick: list[float] = []
    with context.Pool(2, initializer=warm_engine) as pool:
        pool.map(time.sleep, [0.5, 0.5])  # both workers up and warm before the clock runs
        for _ in range(rounds):
            yardstick.append(machine_parallelism(pool))
            # The rows of one round run back to back, so their ratios share the machine's load.
            for run in (
                run_serial("plain pypdf", plain_pypdf, files),
                run_serial("plain PDFium", plain_pdfium, batch),
                run_serial("stage, 1 process", stage, batch),
                run_processes("stage, 2 processes", pool, batch),
                run_threads("stage, 1 process x 2 threads", batch, 2),
            ):
                series.setdefault(run.label, []).append(run)
    runs = [median_run(group) for group in series.values()]
    if args.ocr:
        runs.append(run_serial("stage, OCR on (1 round, once)", stage_with_ocr, files))
    print_runs(runs, rounds)

    by_label = {run.label: run for run in runs}
    one = by_label["stage, 1 process"].pages_per_second
    pdfium = by_label["plain PDFium"].pages_per_second
    pypdf_rate = by_label["plain pypdf"].pages_per_second
    print()
    for label in ("stage, 2 processes", "stage, 1 process x 2 threads"):
        ratios = sorted(
            alone.seconds / together.seconds
            for alone, together in zip(series["stage, 1 process"], series[label], strict=True)
        )
        print(
            f"{label} / stage, 1 process: {statistics.median(ratios):.2f}x "
            f"(median of {rounds} rounds; range {ratios[0]:.2f} to {ratios[-1]:.2f})"
        )
    print(
        f"baseline, two busy loops in two processes / one after the other: "
        f"{statistics.median(yardstick):.2f}x (range {min(yardstick):.2f} to {max(yardstick):.2f}:"
        " what the machine gave in these rounds)"
    )
    print(
        f"stage 1 process / plain PDFium: {one / pdfium:.2f};  "
        f"stage 1 process / plain pypdf: {one / pypdf_rate:.1f}x"
    )
    startup = engine_startup_seconds()
    per_document = by_label["stage, 1 process"].seconds / len(batch)
    print(
        f"starting an engine process: {startup * 1000:.0f} ms (median of 5); "
        f"a document with a running engine: {per_document * 1000:.0f} ms on average"
    )

    labels = args.folder.parent / "contracts"
    if labels.is_dir():
        print("\nCUAD labelled spans found in the text (whitespace collapsed / letters+digits):")
        for label in ("plain pypdf", "plain PDFium", "stage, 1 process"):
            coverage = label_coverage(by_label[label], labels)
            if coverage:
                print(f"  {label:34} {coverage[0]:6.1%} / {coverage[1]:6.1%}")

    if not args.no_rss:
        print("\npeak resident memory, each engine in a fresh process:")
        print(f"{'file':28} {'engine':12} {'pages':>6} {'seconds':>8} {'peak RSS MB':>12}")
        with tempfile.TemporaryDirectory() as scratch:
            thousand = thousand_page_pdf(Path(scratch) / "generated_1000_pages.pdf")
            for path in (LARGE_117, thousand):
                for engine in ("pypdf", "pdfium", "stage"):
                    result = rss_in_fresh_process(engine, path)
                    peak = _mb(result["peak_rss_bytes"])
                    if engine == "stage":
                        peak = f"{peak} + {_mb(result['engine_peak_rss_bytes'])}"
                    print(
                        f"{path.name[:28]:28} {engine:12} {result['pages']:>6} "
                        f"{result['seconds']:>8.2f} {peak:>12}"
                    )
        print("(stage: the worker process + its engine process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
