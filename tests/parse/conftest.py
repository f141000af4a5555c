"""Shared parse-test fixtures: a decompression bomb made once, and the Tesseract requirement."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.parse.pdfs import decompression_bomb


@pytest.fixture(scope="session")
def bomb() -> bytes:
    """300 MB of content stream in about a megabyte (built once: it takes half a second)."""
    return decompression_bomb(300)


def tesseract_or_skip() -> None:
    """OCR tests need Tesseract. Locally they are skipped without it; in CI they must run, so
    `.ci/run` installs it and a missing Tesseract fails the test instead."""
    if shutil.which("tesseract"):
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true but tesseract is not installed (.ci/run installs tesseract-ocr)")
    pytest.skip("tesseract is not installed (apt-get install tesseract-ocr)")


@pytest.fixture
def tesseract() -> None:
    tesseract_or_skip()
