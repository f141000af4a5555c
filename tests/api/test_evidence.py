"""Each finding on its page, through the real API on a real extraction of a CUAD contract: the
boxes lie inside the page and PDFium's own text inside them is the quote; images are cached in
object storage; offsets that no longer fit fall back to a text search and say so."""

from __future__ import annotations

import io
from typing import Any

import psycopg
import pypdfium2 as pdfium
import pytest
from PIL import Image

from charmelio.contract import ObjectKeys
from tests.api._portfolio_support import EVIDENCE_CONTRACT, extracted
from tests.api.conftest import ApiStack, assert_problem

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def extraction(api_stack: ApiStack) -> dict[str, Any]:
    return extracted(api_stack)


def words(text: str) -> str:
    return " ".join(text.replace("\ufffe", "-").split())


def test_every_finding_is_highlighted_where_pdfium_reads_its_quote(
    api_stack: ApiStack, extraction: dict[str, Any]
) -> None:
    document = pdfium.PdfDocument(EVIDENCE_CONTRACT.read_bytes())
    clauses = extraction["clauses"]
    assert clauses
    for clause in clauses:
        path = f"/api/clauses/{extraction['extraction_id']}/{clause['ordinal']}/evidence"
        response = api_stack.get(path)
        assert response.status_code == 200, response.text
        evidence = response.json()
        assert evidence["located_by"] == "offsets", evidence["note"]
        assert evidence["page"] == clause["page"]
        assert evidence["pages"], "a located quote has boxes"
        inside: list[str] = []
        for page in evidence["pages"]:
            assert page["boxes"]
            text_page = document[page["page"] - 1].get_textpage()
            for box in page["boxes"]:
                assert 0 <= box["left"] < box["right"] <= page["width"]
                assert 0 <= box["top"] < box["bottom"] <= page["height"]
                inside.append(text_page.get_text_bounded(*box["pdf"]))
        # Boxes of whole lines may take in a neighbouring character at either end, no more.
        shown, quote = words(" ".join(inside)), words(clause["quote"])
        assert all(word in shown for word in quote.split()), (shown, quote)
        assert len(shown) <= len(quote) + 6 * sum(len(p["boxes"]) for p in evidence["pages"])


def test_page_images_are_highlighted_cached_and_bounded(
    api_stack: ApiStack, extraction: dict[str, Any]
) -> None:
    clause = extraction["clauses"][0]
    base = f"/api/clauses/{extraction['extraction_id']}/{clause['ordinal']}"
    evidence = api_stack.get(f"{base}/evidence").json()
    cited = evidence["pages"][0]
    first = api_stack.get(cited["image"])
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(first.content)).convert("RGB")
    assert image.size == (cited["width"], cited["height"])
    box = cited["boxes"][0]
    middle = image.getpixel(((box["left"] + box["right"]) // 2, box["top"] + 1))
    assert isinstance(middle, tuple)
    assert middle[2] < middle[0] - 40, "the highlight is yellow, not the white page"
    key = ObjectKeys.evidence_page(
        extraction["document_id"], extraction["extraction_id"], clause["ordinal"], cited["page"]
    )
    assert api_stack.store.get_bytes(key) == first.content
    assert api_stack.get(cited["image"]).content == first.content

    # Previous and next pages come plain; past the end there is none.
    if evidence["page_count"] > cited["page"]:
        plain = api_stack.get(f"{base}/pages/{cited['page'] + 1}")
        assert plain.status_code == 200
        assert api_stack.store.exists(
            ObjectKeys.page_image(extraction["document_id"], cited["page"] + 1)
        )
    assert_problem(
        api_stack.get(f"{base}/pages/{evidence['page_count'] + 1}"), 404, "page_not_found"
    )
    assert_problem(
        api_stack.get(f"/api/clauses/{extraction['extraction_id']}/99999/evidence"),
        404,
        "clause_not_found",
    )


def test_offsets_that_no_longer_fit_fall_back_to_a_search_and_say_so(
    api_stack: ApiStack, extraction: dict[str, Any]
) -> None:
    clause = max(extraction["clauses"], key=lambda c: len(c["quote"]))
    with psycopg.connect(api_stack.database_url) as conn:
        # A row as an older extraction could have left it: offsets into another text.
        conn.execute(
            "UPDATE clauses SET start_offset = start_offset + 7, end_offset = end_offset + 7"
            " WHERE extraction_id = %s AND ordinal = %s",
            (extraction["extraction_id"], clause["ordinal"]),
        )
    api_stack.store.delete(
        ObjectKeys.evidence_location(
            extraction["document_id"], extraction["extraction_id"], clause["ordinal"]
        )
    )
    path = f"/api/clauses/{extraction['extraction_id']}/{clause['ordinal']}/evidence"
    evidence = api_stack.get(path).json()
    assert evidence["located_by"] == "text_search"
    assert "no longer match" in evidence["note"]
    assert evidence["pages"][0]["page"] == clause["page"]
    assert evidence["pages"][0]["boxes"]
