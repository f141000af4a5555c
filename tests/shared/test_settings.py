"""One settings class: defaults that run the embedded stack, and fail-fast checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from charmelio.settings import ConfigurationError, Settings
from llm_worker.worker import pool_spec as llm_pool
from parse_worker.worker import pool_spec as parse_pool


def test_defaults_need_no_configuration() -> None:
    settings = Settings(_env_file=None)
    assert settings.storage_backend == "local"
    assert settings.effective_llm_provider == "rules"


def test_environment_variables_use_one_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARMELIO_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("CHARMELIO_LLM_RATE_LIMIT_PER_SECOND", "2.5")
    settings = Settings(_env_file=None)
    assert settings.effective_llm_provider == "openai"
    assert settings.llm_rate_limit_per_second == 2.5


def test_s3_without_credentials_fails_at_start() -> None:
    with pytest.raises(ValidationError, match="CHARMELIO_S3_ACCESS_KEY"):
        Settings(_env_file=None, storage_backend="s3", s3_endpoint="http://minio:9000")


def test_openai_without_endpoint_fails_at_start() -> None:
    with pytest.raises(ValidationError, match="CHARMELIO_OPENAI_BASE_URL"):
        Settings(_env_file=None, llm_provider="openai")


def test_missing_database_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="CHARMELIO_DATABASE_URL"):
        Settings(_env_file=None).require_database_url()


def test_secrets_do_not_show_in_reprs() -> None:
    settings = Settings(
        _env_file=None, openai_api_key="sk-live-123", database_url="postgresql://u:pw@h/db"
    )
    assert "sk-live-123" not in repr(settings)
    assert "pw@" not in repr(settings)


def test_pool_specs_carry_their_queue_concurrency_and_rate_limit(tmp_path: object) -> None:
    settings = Settings(
        _env_file=None,
        storage_dir=f"{tmp_path}/objects",
        parse_concurrency=3,
        llm_concurrency=5,
        llm_rate_limit_per_second=2.0,
    )
    parse = parse_pool(settings)
    llm = llm_pool(settings)
    assert (parse.task_queue, parse.concurrency, parse.queue_rate_limit) == ("parse-queue", 3, None)
    assert (llm.task_queue, llm.concurrency, llm.queue_rate_limit) == ("llm-queue", 5, 2.0)
    assert [a.__name__ for a in parse.activities] == ["parse_pdf"]
    assert [a.__name__ for a in llm.activities] == ["llm_extract", "describe_extractor"]
