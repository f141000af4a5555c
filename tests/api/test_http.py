"""The API through real HTTP against the real stack: worker processes, Postgres, object storage."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from charmelio.contract import ExtractionResult, ObjectKeys
from tests.api.conftest import ApiStack, assert_problem
from tests.conftest import AWKWARD_PDFS, CUAD_PDFS

pytestmark = pytest.mark.integration

SUPPLY = CUAD_PDFS / "FLOTEKINDUSTRIESINCCN_05_09_2019_EX_10_1_SUPPLY_AGREEMENT.pdf"
CONSULTING = CUAD_PDFS / "MEDALISTDIVERSIFIEDREIT_INC_05_18_2020_EX_10_1_CONSULTING_AGREEMENT.pdf"
AGENCY = CUAD_PDFS / "AMERICANPHYSICIANSCAPITALINC_03_31_2003_EX_10_26_AGENCY_AGREEMENT.pdf"
ENCRYPTED = AWKWARD_PDFS / "sf_encrypted_userpw_libreoffice.pdf"
UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LIMIT = 25 * 1024 * 1024


def upload(api: ApiStack, path: Path, *, extract: bool = False) -> requests.Response:
    with path.open("rb") as handle:
        return api.post(
            "/api/documents",
            params={"extract": "true"} if extract else None,
            files={"file": (path.name, handle, "application/pdf")},
        )


def multipart_body(filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
        "\r\nContent-Type: application/pdf\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), boundary


def test_upload_extract_then_read_the_completed_result(api_stack: ApiStack) -> None:
    api = api_stack
    response = upload(api, SUPPLY, extract=True)
    assert response.status_code == 201, response.text
    uploaded = response.json()
    document_id = uploaded["document"]["document_id"]
    assert uploaded["created"] is True
    assert response.headers["location"] == f"/api/documents/{document_id}"
    assert uploaded["document"]["filename"] == SUPPLY.name
    assert uploaded["document"]["size_bytes"] == SUPPLY.stat().st_size
    started = uploaded["extraction"]
    assert started["status"] in ("pending", "running")
    assert started["job_id"].startswith(f"{document_id}.")
    assert started["extraction_id"] is None
    assert started["links"]["self"] == f"/api/extractions/{started['job_id']}"

    done = api.wait_until_finished(started["links"]["self"])
    assert done["status"] == "completed", done
    assert done["stage"] == "completed"
    assert done["job_id"] == started["job_id"]
    assert done["error"] is None
    extraction_id = done["extraction_id"]
    assert UUID_PATTERN.fullmatch(extraction_id)
    result = ExtractionResult.model_validate(done["result"])
    assert result.document_id == document_id
    assert result.governing_law
    assert done["clauses"], "a CUAD supply agreement has clauses"
    assert done["clause_count"] == len(done["clauses"]) == len(result.findings)
    assert all(clause["quote"] and clause["page"] >= 1 for clause in done["clauses"])
    assert sorted((c["quote"], c["page"]) for c in done["clauses"]) == sorted(
        (f.quote, f.page) for f in result.findings
    )

    # The same extraction by its extraction id, and its artifact exactly as stored.
    by_id = api.get(f"/api/extractions/{extraction_id}").json()
    assert {k: v for k, v in by_id.items() if k not in ("job_id", "started_at")} == {
        k: v for k, v in done.items() if k not in ("job_id", "started_at")
    }
    artifact = api.get(done["links"]["artifact"])
    assert artifact.status_code == 200
    assert artifact.headers["content-type"] == "application/json"
    key = ObjectKeys.extraction_artifact(document_id, extraction_id)
    assert artifact.content == api.store.get_bytes(key)
    assert api.get(f"/api/extractions/{done['job_id']}/artifact").content == artifact.content

    document = api.get(f"/api/documents/{document_id}").json()
    assert document["current_extraction"]["extraction_id"] == extraction_id
    assert document["page_count"] == result.page_count > 0

    listed = api.get("/api/extractions", params={"document_id": document_id}).json()
    assert [item["extraction_id"] for item in listed["items"]] == [extraction_id]
    assert listed["items"][0]["filename"] == SUPPLY.name
    assert listed["next_cursor"] is None


def test_a_duplicate_upload_returns_the_same_document_and_stores_it_once(
    api_stack: ApiStack,
) -> None:
    api = api_stack
    first = upload(api, CONSULTING)
    again = upload(api, CONSULTING)
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json()["created"] is False
    assert again.json()["extraction"] is None
    document_id = first.json()["document"]["document_id"]
    assert again.json()["document"]["document_id"] == document_id
    assert api.rows("SELECT count(*) FROM documents WHERE id = %s", document_id) == [(1,)]
    assert list(api.store.list_keys("documents/")).count(ObjectKeys.document_pdf(document_id)) == 1


def _documents(api: ApiStack) -> int:
    return int(api.rows("SELECT count(*) FROM documents")[0][0])


def test_an_oversize_upload_is_refused_with_413_whether_its_length_is_declared_or_not(
    api_stack: ApiStack,
) -> None:
    api = api_stack
    before = _documents(api)
    too_big = b"%PDF-1.7\n" + b"0" * LIMIT
    declared = api.post("/api/documents", files={"file": ("big.pdf", too_big, "application/pdf")})
    assert_problem(declared, 413, "too_large")

    body, boundary = multipart_body("big.pdf", too_big)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count as it reads
        for start in range(0, len(body), 1 << 20):
            yield body[start : start + (1 << 20)]

    streamed = api.post(
        "/api/documents",
        data=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert "content-length" not in streamed.request.headers
    assert_problem(streamed, 413, "too_large")

    # Exactly the limit is accepted (and then judged by its content).
    at_limit = b"%PDF-1.7\n" + b"0" * (LIMIT - 9)
    accepted = api.post("/api/documents", files={"file": ("edge.pdf", at_limit)})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["document"]["size_bytes"] == LIMIT
    assert _documents(api) == before + 1


def test_what_is_not_a_pdf_is_refused_by_its_content(api_stack: ApiStack) -> None:
    api = api_stack
    before = _documents(api)
    html = b"<html><body>invoice</body></html>"
    refused = api.post("/api/documents", files={"file": ("invoice.pdf", html, "application/pdf")})
    body = assert_problem(refused, 415, "not_a_pdf")
    assert body["instance"] == "/api/documents"
    assert_problem(api.post("/api/documents", files={"file": ("empty.pdf", b"")}), 400, "empty")
    assert_problem(
        api.post("/api/documents", files={"other": ("x.pdf", b"%PDF-1.4")}), 400, "invalid_upload"
    )
    assert_problem(
        api.post(
            "/api/documents", data=SUPPLY.read_bytes(), headers={"Content-Type": "application/pdf"}
        ),
        415,
        "unsupported_media_type",
    )
    assert_problem(
        api.post(
            "/api/documents",
            data=b"--x\r\nnot really multipart",
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        ),
        400,
        "invalid_upload",
    )
    assert _documents(api) == before


def test_unknown_ids_are_404_problems(api_stack: ApiStack) -> None:
    api = api_stack
    assert_problem(
        api.get("/api/documents/doc_000000000000000000000000"), 404, "document_not_found"
    )
    assert_problem(api.get("/api/documents/not%20an%20id!"), 404, "document_not_found")
    assert_problem(api.get(f"/api/extractions/{uuid.uuid4()}"), 404, "extraction_not_found")
    unknown_run = f"doc_000000000000000000000000.{uuid.uuid4()}"
    assert_problem(api.get(f"/api/extractions/{unknown_run}"), 404, "extraction_not_found")
    assert_problem(api.get(f"/api/extractions/{unknown_run}/artifact"), 404, "extraction_not_found")
    assert_problem(api.get("/api/extractions/not-an-id"), 404, "extraction_not_found")
    assert_problem(
        api.get(f"/api/extractions/{uuid.uuid4()}/artifact"), 404, "extraction_not_found"
    )
    assert_problem(
        api.post("/api/extractions", json={"document_id": "doc_000000000000000000000000"}),
        404,
        "document_not_found",
    )
    assert_problem(api.get("/api/nothing-here"), 404, "not_found")
    invalid = assert_problem(
        api.post("/api/extractions", json={"document_id": "../x"}), 422, "invalid_request"
    )
    errors = invalid["errors"]
    assert isinstance(errors, list)
    assert [(e["location"], e["type"]) for e in errors] == [
        (["body", "document_id"], "string_pattern_mismatch")
    ]
    assert_problem(
        api.get("/api/extractions", params={"status": "running"}), 422, "invalid_request"
    )
    assert_problem(
        api.get("/api/extractions", params={"cursor": "bm90IGEgY3Vyc29y"}), 400, "invalid_cursor"
    )
    method = api_stack.get("/api/documents", allow_redirects=False)
    assert_problem(method, 405, "method_not_allowed")


def test_a_failed_extraction_reports_its_stage_and_reason(api_stack: ApiStack) -> None:
    api = api_stack
    started = upload(api, ENCRYPTED, extract=True).json()["extraction"]
    failed = api.wait_until_finished(started["links"]["self"])
    assert failed["status"] == "failed"
    assert failed["result"] is None
    assert failed["clauses"] == []
    error = failed["error"]
    assert error["stage"] == "parsing"
    assert error["error_type"] == "PDFValidationError"
    assert "encrypted" in error["message"]
    # The run's failure was recorded in Postgres under the id the run generated.
    assert UUID_PATTERN.fullmatch(failed["extraction_id"])
    stored = api.get(f"/api/extractions/{failed['extraction_id']}").json()
    assert stored["status"] == "failed"
    assert stored["error"]["stage"] == "parsing"
    assert stored["error"]["error_type"] == "PDFValidationError"
    assert_problem(
        api.get(f"/api/extractions/{failed['job_id']}/artifact"), 404, "artifact_not_found"
    )
    listed = api.get("/api/extractions", params={"status": "failed"}).json()["items"]
    assert failed["extraction_id"] in [item["extraction_id"] for item in listed]


def test_starting_again_while_one_runs_attaches_and_a_new_run_supersedes(
    api_stack: ApiStack,
) -> None:
    api = api_stack
    document_id = upload(api, SUPPLY).json()["document"]["document_id"]
    [workflow] = list(api.stack.workers("workflow"))
    api.stack.stop_worker(workflow)
    try:
        first = api.post("/api/extractions", json={"document_id": document_id})
        second = api.post("/api/extractions", json={"document_id": document_id})
        assert first.status_code == second.status_code == 202
        assert first.json()["job_id"] == second.json()["job_id"]
        assert first.json()["status"] == "pending"
        assert first.headers["location"] == first.json()["links"]["self"]
    finally:
        api.stack.start_worker("workflow", 1)
    done = api.wait_until_finished(first.json()["links"]["self"])
    assert done["status"] == "completed"
    current = api.get(f"/api/documents/{document_id}").json()["current_extraction"]
    assert current["extraction_id"] == done["extraction_id"]
    statuses = api.rows(
        "SELECT status, count(*) FROM extractions WHERE document_id = %s GROUP BY 1 ORDER BY 1",
        document_id,
    )
    assert ("completed", 1) in statuses
    assert all(status in ("completed", "superseded") for status, _ in statuses)


def test_states_follow_the_pools_pending_then_running_at_a_stage(api_stack: ApiStack) -> None:
    """No workflow worker: `pending`, answered without hanging. No llm worker: `running` at
    `extracting`, told by the query, and by the pending activity once the workflow worker is gone
    too. With every pool back, it completes."""
    api = api_stack
    document_id = upload(api, AGENCY).json()["document"]["document_id"]
    stack = api.stack
    [workflow] = list(stack.workers("workflow"))
    [llm] = list(stack.workers("llm"))
    stack.stop_worker(llm)
    stack.stop_worker(workflow)
    try:
        started = api.post("/api/extractions", json={"document_id": document_id}).json()
        path = started["links"]["self"]
        pending = api.get(path).json()
        assert (pending["status"], pending["stage"]) == ("pending", "starting")

        stack.start_worker("workflow", 2)
        running = api.wait_for(path, lambda body: body["stage"] == "extracting")
        assert running["status"] == "running"
        assert running["extraction_id"] is None
        assert running["result"] is None

        [workflow] = list(stack.workers("workflow"))
        stack.stop_worker(workflow)
        without_workflow_worker = api.get(path).json()
        assert without_workflow_worker["status"] == "running"
        assert without_workflow_worker["stage"] == "extracting"
        assert_problem(api.get(f"{path}/artifact"), 409, "extraction_not_finished")
    finally:
        if not list(stack.workers("workflow")):
            stack.start_worker("workflow", 3)
        stack.start_worker("llm", 1)
    assert api.wait_until_finished(path)["status"] == "completed"


def test_listing_walks_every_row_exactly_once_while_rows_change(api_stack: ApiStack) -> None:
    api = api_stack
    # Many rows share one finished_at: the id must break the ties.
    with_ties = [(f"doc_paging_{n % 4}", "completed" if n % 3 else "failed") for n in range(53)]
    api.rows(
        "INSERT INTO extractions (id, document_id, workflow_id, status, error_type, finished_at)"
        " SELECT gen_random_uuid(), d, 'extraction-' || d, s,"
        " CASE WHEN s = 'failed' THEN 'PDFParseError' END,"
        " timestamptz '2020-01-01' + (i / 10) * interval '1 second'"
        " FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS t(d, s, i) RETURNING id",
        [d for d, _ in with_ties],
        [s for _, s in with_ties],
    )
    expected = [
        str(row[0])
        for row in api.rows("SELECT id FROM extractions ORDER BY finished_at DESC, id DESC")
    ]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/api/extractions", params=params).json()
        seen += [item["extraction_id"] for item in page["items"]]
        pages += 1
        if pages == 2:
            # A newer row arrives and an older one is superseded while the client pages.
            api.rows(
                "INSERT INTO extractions (id, document_id, workflow_id, status)"
                " VALUES (gen_random_uuid(), 'doc_paging_new', 'x', 'completed') RETURNING id"
            )
            api.rows(
                "UPDATE extractions SET status = 'superseded' WHERE id = %s RETURNING id",
                expected[-1],
            )
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert pages == -(-len(expected) // 7)

    def walk(**filters: str) -> list[str]:
        ids: list[str] = []
        cursor = None
        while True:
            params: dict[str, str | int] = {"limit": 5, **filters}
            if cursor:
                params["cursor"] = cursor
            page = api.get("/api/extractions", params=params).json()
            ids += [item["extraction_id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return ids

    failed_doc_2 = walk(status="failed", document_id="doc_paging_2")
    assert failed_doc_2 == [
        str(row[0])
        for row in api.rows(
            "SELECT id FROM extractions WHERE status = 'failed' AND document_id = 'doc_paging_2'"
            " ORDER BY finished_at DESC, id DESC"
        )
    ]
    assert failed_doc_2


def test_the_openapi_schema_describes_problems_and_the_upload(api_stack: ApiStack) -> None:
    schema = api_stack.get("/openapi.json").json()
    assert schema["components"]["schemas"]["Problem"]["properties"]["code"]
    upload_op = schema["paths"]["/api/documents"]["post"]
    assert "multipart/form-data" in upload_op["requestBody"]["content"]
    for status in ("413", "415"):
        assert "application/problem+json" in upload_op["responses"][status]["content"]
    assert "securitySchemes" not in schema.get("components", {})
    viewer = api_stack.get("/")
    assert viewer.status_code == 200
    assert "text/html" in viewer.headers["content-type"]
    assert "default-src 'self'" in viewer.headers["content-security-policy"]
    assert api_stack.get("/static/viewer.js").status_code == 200
    assert json.loads(api_stack.get("/health").text) == {"status": "ok"}
