"""Entry point of the parse pool: polls parse-queue for parse_pdf."""

from __future__ import annotations

from charmelio.settings import ConfigurationError, Settings
from charmelio.stages import QUEUE_OF_POOL, PoolName
from charmelio.worker_runtime import PoolSpec
from parse_worker._ocr import OcrUnavailable, find_tesseract
from parse_worker.activities import activities_for

__all__ = ["check_ocr", "pool_spec"]


def check_ocr(settings: Settings) -> None:
    """With ``CHARMELIO_PARSE_OCR=on`` a worker without Tesseract refuses to start, rather than
    fail every scanned document it is given."""
    if settings.parse_ocr != "on":
        return
    try:
        find_tesseract(settings.parse_tesseract_command, settings.parse_ocr_language)
    except OcrUnavailable as exc:
        raise ConfigurationError(f"CHARMELIO_PARSE_OCR=on, but {exc}") from None


def pool_spec(settings: Settings) -> PoolSpec:
    return PoolSpec(
        name=PoolName.PARSE,
        task_queue=QUEUE_OF_POOL[PoolName.PARSE].value,
        concurrency=settings.parse_concurrency,
        activities=activities_for(settings),
        on_start=[lambda: check_ocr(settings)],
    )
