"""API-key auth on and off, readiness with dependencies down, and uploads to S3 object storage:
each against its own extra API process beside the shared stack."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import pytest
import requests

from charmelio.contract import ObjectKeys
from charmelio.storage.objects import S3ObjectStore
from operator_tools.devstack import free_port
from tests.api.conftest import ApiStack, assert_problem, unique_pdf_bytes
from tests.conftest import s3_settings

pytestmark = pytest.mark.integration

API_KEY = "test-key-0123456789abcdef"


@contextlib.contextmanager
def extra_api(api: ApiStack, index: int, env: Mapping[str, str]) -> Iterator[str]:
    process = api.stack.start_api(index, port=free_port(), extra_env=env)
    try:
        assert process.url is not None
        yield process.url
    finally:
        api.stack.stop_worker(process)


def test_with_a_key_every_api_route_requires_it_and_probes_do_not(api_stack: ApiStack) -> None:
    with extra_api(api_stack, 1, {"CHARMELIO_API_KEY": API_KEY}) as url:

        def get(path: str, **headers: str) -> requests.Response:
            return requests.get(f"{url}{path}", headers=headers, timeout=30)

        missing = assert_problem(get("/api/extractions"), 401, "unauthorized")
        assert "required" in str(missing["detail"])
        wrong = get("/api/extractions", **{"X-API-Key": "not-the-key"})
        assert_problem(wrong, 401, "unauthorized")
        assert wrong.headers["www-authenticate"].startswith("Bearer")
        assert_problem(get("/api/extractions", Authorization="Bearer nope"), 401, "unauthorized")
        assert_problem(get("/api/documents/doc_x"), 401, "unauthorized")
        assert get("/api/extractions", **{"X-API-Key": API_KEY}).status_code == 200
        assert get("/api/extractions", Authorization=f"Bearer {API_KEY}").status_code == 200

        before = api_stack.rows("SELECT count(*) FROM documents")
        refused = requests.post(
            f"{url}/api/documents", files={"file": ("a.pdf", unique_pdf_bytes())}, timeout=30
        )
        assert_problem(refused, 401, "unauthorized")
        assert api_stack.rows("SELECT count(*) FROM documents") == before

        # Probes, the viewer and the schema stay open: they hold no contract data.
        assert get("/health").status_code == 200
        assert get("/ready").status_code == 200
        assert get("/").status_code == 200
        schema = get("/openapi.json").json()
        assert set(schema["components"]["securitySchemes"]) == {"ApiKey", "Bearer"}
        operation = schema["paths"]["/api/extractions"]["get"]
        assert {"ApiKey": []} in operation["security"]
        assert "401" in operation["responses"]

    log = (api_stack.stack.log_dir / "api-1.log").read_text()
    assert "/api/extractions" in log, "the access log records requests"
    assert API_KEY not in log

    # The stack's own API has no key: the same route answers without one.
    assert api_stack.get("/api/extractions").status_code == 200


def test_a_key_set_but_empty_is_refused_at_start(api_stack: ApiStack) -> None:
    from operator_tools.devstack import StackError

    with pytest.raises(StackError, match="exited at start"):
        api_stack.stack.start_api(2, port=free_port(), extra_env={"CHARMELIO_API_KEY": " "})
    [process] = [p for p in api_stack.stack.workers("api") if p.name == "api-2"]
    api_stack.stack.stop_worker(process)
    assert "CHARMELIO_API_KEY is empty" in (api_stack.stack.log_dir / "api-2.log").read_text()


def test_ready_names_the_dependencies_that_are_down(api_stack: ApiStack) -> None:
    closed = free_port()
    env = {
        "CHARMELIO_TEMPORAL_ADDRESS": f"127.0.0.1:{closed}",
        "CHARMELIO_DATABASE_URL": f"postgresql://nobody@127.0.0.1:{closed}/nothing",
    }
    with extra_api(api_stack, 3, env) as url:
        assert requests.get(f"{url}/health", timeout=30).json() == {"status": "ok"}
        ready = requests.get(f"{url}/ready", timeout=30)
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert ready.json()["status"] == "not_ready"
        assert not checks["temporal"]["ok"]
        assert not checks["database"]["ok"]
        assert checks["object_storage"]["ok"]
        assert "nobody" not in ready.text

        assert_problem(
            requests.get(f"{url}/api/extractions", timeout=30), 503, "database_unavailable"
        )
        job = f"doc_0123.{'0' * 8}-0000-4000-8000-{'0' * 12}"
        assert_problem(
            requests.get(f"{url}/api/extractions/{job}", timeout=30), 503, "temporal_unavailable"
        )
        assert_problem(
            requests.post(
                f"{url}/api/documents", files={"file": ("a.pdf", unique_pdf_bytes())}, timeout=30
            ),
            503,
            "database_unavailable",
        )
    assert api_stack.get("/ready").json()["status"] == "ready"


def test_uploads_go_to_s3_object_storage(api_stack: ApiStack, s3_endpoint: str) -> None:
    settings = s3_settings(s3_endpoint)
    assert settings.s3_access_key is not None
    assert settings.s3_secret_key is not None
    env = {
        "CHARMELIO_STORAGE_BACKEND": "s3",
        "CHARMELIO_S3_ENDPOINT": s3_endpoint,
        "CHARMELIO_S3_ACCESS_KEY": settings.s3_access_key.get_secret_value(),
        "CHARMELIO_S3_SECRET_KEY": settings.s3_secret_key.get_secret_value(),
        "CHARMELIO_S3_BUCKET": settings.s3_bucket,
        "CHARMELIO_S3_REGION": "us-east-1",
    }
    with extra_api(api_stack, 4, env) as url:
        assert requests.get(f"{url}/ready", timeout=30).json()["checks"]["object_storage"]["ok"]
        content = unique_pdf_bytes()
        uploaded = requests.post(
            f"{url}/api/documents", files={"file": ("s3.pdf", content)}, timeout=60
        )
        assert uploaded.status_code == 201, uploaded.text
        document_id = uploaded.json()["document"]["document_id"]
    bucket = S3ObjectStore.from_settings(settings)
    assert bucket.get_bytes(ObjectKeys.document_pdf(document_id)) == content
    assert not api_stack.store.exists(ObjectKeys.document_pdf(document_id))
