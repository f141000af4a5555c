"""OCR for pages without a text layer: PDFium renders the page, Tesseract reads it.

Tesseract runs as its own program (Debian package ``tesseract-ocr``) through `subprocess` rather
than through pytesseract: pytesseract is the same subprocess call plus temporary files and an
image library, and we need control it does not give (a kill when the engine process dies, one
OpenMP thread, the resolution we rendered at).
"""

from __future__ import annotations

import ctypes
import math
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pypdfium2.raw as pdfium_c

__all__ = ["OcrFailed", "OcrUnavailable", "Tesseract", "find_tesseract"]

MAX_RENDER_PIXELS = 40_000_000
"""A page is rendered at the configured resolution unless that exceeds 40 megapixels (an A4 page
at 300 dpi is 8.7); posters and misdeclared page sizes are scaled down instead of filling memory."""


class OcrUnavailable(RuntimeError):
    """Tesseract (or its language data) is not installed where this engine runs."""


class OcrFailed(RuntimeError):
    """Tesseract ran but did not finish a page."""


@dataclass(frozen=True)
class Tesseract:
    command: str
    version: str
    language: str

    @property
    def engine(self) -> str:
        return f"tesseract {self.version}"

    def read_page(self, page: Any, *, dpi: int, timeout: float) -> str:
        """The text Tesseract reads on ``page`` (a ``pypdfium2.PdfPage``) rendered at ``dpi``."""
        image, effective_dpi = _render_grey(page, dpi)
        try:
            done = subprocess.run(
                [
                    self.command,
                    "stdin",
                    "stdout",
                    "-l",
                    self.language,
                    "--dpi",
                    str(effective_dpi),
                ],
                input=image,
                capture_output=True,
                timeout=timeout,
                env={**os.environ, "OMP_THREAD_LIMIT": "1"},
                # Safe here: the engine process that runs this has a single thread.
                preexec_fn=_die_with_parent,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise OcrFailed(f"Tesseract took longer than {timeout:.0f} s on one page") from None
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip()[-500:]
            raise OcrFailed(f"Tesseract exited with status {done.returncode}: {detail}")
        return done.stdout.decode("utf-8", errors="replace")


def find_tesseract(command: str, language: str) -> Tesseract:
    """The installed Tesseract, or `OcrUnavailable` saying what is missing."""
    path = shutil.which(command)
    if path is None:
        raise OcrUnavailable(
            f"Tesseract ({command!r}) is not installed; install the Debian package tesseract-ocr "
            "or set CHARMELIO_PARSE_OCR=off"
        )
    try:
        version = subprocess.run(
            [path, "--version"], capture_output=True, timeout=30, check=True
        ).stdout.decode(errors="replace")
        languages = subprocess.run(
            [path, "--list-langs"], capture_output=True, timeout=30, check=True
        ).stdout.decode(errors="replace")
    except (OSError, subprocess.SubprocessError) as exc:
        raise OcrUnavailable(f"Tesseract at {path} does not run: {exc}") from None
    installed = {line.strip() for line in languages.splitlines()[1:]}
    missing = [part for part in language.split("+") if part not in installed]
    if missing:
        raise OcrUnavailable(
            f"Tesseract has no language data for {', '.join(missing)} "
            f"(installed: {', '.join(sorted(installed)) or 'none'}); install "
            f"tesseract-ocr-{missing[0]} or change CHARMELIO_PARSE_OCR_LANGUAGE"
        )
    first_line = version.splitlines()[0] if version else "tesseract unknown"
    return Tesseract(command=path, version=first_line.split()[-1], language=language)


def _render_grey(page: Any, dpi: int) -> tuple[bytes, int]:
    """The page as an 8-bit greyscale PGM image, and the resolution it was rendered at."""
    width, height = page.get_size()
    scale = dpi / 72
    if width * height * scale * scale > MAX_RENDER_PIXELS:
        scale = math.sqrt(MAX_RENDER_PIXELS / max(width * height, 1.0))
    bitmap = page.render(scale=scale, grayscale=True, force_bitmap_format=pdfium_c.FPDFBitmap_Gray)
    try:
        columns, rows, stride = bitmap.width, bitmap.height, bitmap.stride
        pixels = memoryview(bitmap.buffer).cast("B")
        if stride == columns:
            body = bytes(pixels[: rows * columns])
        else:
            body = b"".join(
                bytes(pixels[row * stride : row * stride + columns]) for row in range(rows)
            )
    finally:
        bitmap.close()
    return b"P5\n%d %d\n255\n" % (columns, rows) + body, max(round(scale * 72), 1)


def _die_with_parent() -> None:
    """Runs in Tesseract's process before exec: go when the engine process goes."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
