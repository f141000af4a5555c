"""/api/batches on the embedded stack: start a batch, follow it, list its documents, reuse."""

from __future__ import annotations

from charmelio.documents import upload_pdf
from operator_tools.loadtest import variant
from tests.api.conftest import ApiStack, assert_problem
from tests.conftest import CUAD_PDFS


def _upload(api_stack: ApiStack, count: int, tag: str) -> list[str]:
    sources = sorted(CUAD_PDFS.glob("*.pdf"))[:count]
    return [
        upload_pdf(
            variant(path.read_bytes(), tag),
            path.name,
            store=api_stack.store,
            database_url=api_stack.database_url,
            max_bytes=50 << 20,
        ).document_id
        for path in sources
    ]


def test_a_batch_is_started_followed_and_listed_then_reused(api_stack: ApiStack) -> None:
    documents = [*_upload(api_stack, 3, "api-batch"), "doc_neveruploaded0000"]
    started = api_stack.post("/api/batches", json={"document_ids": documents})
    assert started.status_code == 202, started.text
    batch_id = started.json()["batch_id"]
    assert batch_id.startswith("batch-")

    done = api_stack.wait_for(
        f"/api/batches/{batch_id}", lambda body: body["status"] != "running", timeout=240
    )
    assert (done["status"], done["total"], done["done"], done["failed"]) == ("completed", 4, 3, 1)
    [failure] = done["failures"]
    assert failure["document_id"] == "doc_neveruploaded0000"
    assert failure["error_type"] == "DocumentNotFoundError"

    listing = api_stack.get(f"/api/batches/{batch_id}/documents", params={"limit": 3})
    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert [member["document_id"] for member in body["documents"]] == documents[:3]
    assert {member["status"] for member in body["documents"]} == {"completed"}
    assert all(member["clause_count"] > 0 for member in body["documents"])
    assert body["next_offset"] == 3

    again = api_stack.post("/api/batches", json={"document_ids": documents[:3]}).json()
    reused = api_stack.wait_for(
        f"/api/batches/{again['batch_id']}", lambda body: body["status"] != "running"
    )
    assert (reused["done"], reused["reused"]) == (0, 3)


def test_unknown_and_malformed_batches_are_404(api_stack: ApiStack) -> None:
    assert_problem(api_stack.get("/api/batches/batch-nosuchbatch"), 404, "not_found")
    assert_problem(api_stack.get("/api/batches/not-a-batch"), 404, "not_found")
    assert_problem(
        api_stack.post("/api/batches", json={"document_ids": []}), 422, "invalid_request"
    )
