"""What OCR ``auto`` costs on born-digital contracts: the parse stage, OCR off and auto, one run.

    .venv/bin/python -m benchmarks.ocr_benchmark [FOLDER] [--rounds N] [--blank-pages N]

FOLDER defaults to the 15 CUAD dev PDFs (tests/fixtures/cuad/pdfs), which all have a text layer;
to them the benchmark adds a generated contract with many blank pages between its pages (a filed
contract's separator pages, which OCR ``auto`` must recognise as blank without rendering them for
Tesseract). Each round parses every file with OCR off, then with OCR auto, back to back, through
`parse_worker.reading.extract_pages` (the code the ``parse_pdf`` activity runs). It prints, per
file and for all files, the median over the rounds of each mode's seconds and their ratio, and the
pages OCR'd and counted blank. The issue's bar: auto at most 1.2x off on born-digital contracts,
so the sum over the files where auto OCR'd no page is printed beside the sum over all files.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pypdfium2 as pdfium

if TYPE_CHECKING:
    from parse_worker.reading import OcrMode

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = ROOT / "tests" / "fixtures" / "cuad" / "pdfs"
BLANK_SOURCE = "FLOTEKINDUSTRIESINCCN_05_09_2019_EX_10_1_SUPPLY_AGREEMENT.pdf"
MAX_BYTES = 50 * 1024 * 1024
MAX_PAGES = 2000


def with_blank_pages(data: bytes, blank_pages: int) -> bytes:
    """The contract with ``blank_pages`` empty pages spread between its own pages."""
    source = pdfium.PdfDocument(data)
    document = pdfium.PdfDocument.new()
    pages = len(source)
    per_gap = max(1, blank_pages // pages)
    added = 0
    for index in range(pages):
        document.import_pages(source, [index])
        for _ in range(min(per_gap, blank_pages - added)):
            width, height = source[index].get_size()
            document.new_page(width, height)
            added += 1
    while added < blank_pages:
        document.new_page(612, 792)
        added += 1
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def parse_once(data: bytes, mode: OcrMode) -> tuple[float, int, int]:
    """(seconds, pages OCR'd, pages counted blank) for one parse in ``mode``."""
    from parse_worker.reading import ParseOptions, extract_pages

    started = time.perf_counter()
    _, stats = extract_pages(
        data, max_bytes=MAX_BYTES, max_pages=MAX_PAGES, options=ParseOptions(ocr=mode)
    )
    return time.perf_counter() - started, len(stats.ocr_pages), len(stats.blank_pages)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--blank-pages", type=int, default=100)
    args = parser.parse_args(argv)
    files = sorted(args.folder.glob("*.pdf"))
    if not files:
        print(f"no PDFs in {args.folder}", file=sys.stderr)
        return 2
    documents = [(path.stem, path.read_bytes()) for path in files]
    blank_source = args.folder / BLANK_SOURCE
    if blank_source.is_file():
        with_blanks = with_blank_pages(blank_source.read_bytes(), args.blank_pages)
        documents.append((f"{blank_source.stem} + {args.blank_pages} blank pages", with_blanks))
    seconds: dict[str, dict[str, list[float]]] = {
        name: {"off": [], "auto": []} for name, _ in documents
    }
    totals: dict[str, list[float]] = {"off": [], "auto": []}
    ocr_counts: dict[str, tuple[int, int]] = {}
    for _ in range(args.rounds):
        round_total = {"off": 0.0, "auto": 0.0}
        for name, data in documents:
            for mode in ("off", "auto"):
                elapsed, ocr_pages, blank = parse_once(data, mode)
                seconds[name][mode].append(elapsed)
                round_total[mode] += elapsed
                if mode == "auto":
                    ocr_counts[name] = (ocr_pages, blank)
        for mode in totals:
            totals[mode].append(round_total[mode])
    print(f"OCR off against OCR auto, median of {args.rounds} rounds (seconds)")
    print(f"{'file':72s} {'off':>7s} {'auto':>7s} {'ratio':>6s} {'OCR':>4s} {'blank':>5s}")
    for name, _ in documents:
        off = statistics.median(seconds[name]["off"])
        auto = statistics.median(seconds[name]["auto"])
        ocr_pages, blank = ocr_counts[name]
        print(f"{name[:72]:72s} {off:7.3f} {auto:7.3f} {auto / off:6.2f} {ocr_pages:4d} {blank:5d}")
    # A file with image-only pages is not born-digital throughout: OCR is the point there.
    digital = [name for name, _ in documents if ocr_counts[name][0] == 0]
    digital_off = sum(statistics.median(seconds[name]["off"]) for name in digital)
    digital_auto = sum(statistics.median(seconds[name]["auto"]) for name in digital)
    label = f"born-digital files ({len(digital)}, no page OCR'd)"
    print(
        f"{label:72s} {digital_off:7.3f}"
        f" {digital_auto:7.3f} {digital_auto / digital_off:6.2f}   (bar: 1.20)"
    )
    off_total = statistics.median(totals["off"])
    auto_total = statistics.median(totals["auto"])
    ratios = [a / o for a, o in zip(totals["auto"], totals["off"], strict=True)]
    print(
        f"{'all files':72s} {off_total:7.3f} {auto_total:7.3f} {auto_total / off_total:6.2f}"
        f"   (per-round ratios {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
