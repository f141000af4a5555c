"""Every setting of every Charmelio process, read once from ``CHARMELIO_*`` environment variables.

One class on purpose: each pool reads the same names, so an operator configures a deployment in one
place and a typo fails at start-up rather than in the middle of a document.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigurationError(RuntimeError):
    """A setting a process needs is missing or contradicts another one."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CHARMELIO_",
        # stack.env is written by a running `charmelio dev`, so other commands find that stack.
        env_file=(".charmelio/stack.env", ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # Temporal
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_connect_timeout_seconds: float = Field(default=60.0, gt=0)

    # Postgres. Unset means: `charmelio dev` starts an embedded Postgres; any other process refuses
    # to start (see `require_database_url`).
    database_url: SecretStr | None = None

    # Object storage
    storage_backend: Literal["local", "s3"] = "local"
    storage_dir: Path = Path(".charmelio/objects")
    s3_endpoint: str | None = None
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    s3_bucket: str = "charmelio"
    s3_region: str | None = None
    s3_secure: bool = True

    # Extraction provider. "auto" picks openai when a base URL is set, the offline rules otherwise.
    llm_provider: Literal["auto", "rules", "openai"] = "auto"
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_model: str = "gpt-4.1-mini"
    openai_timeout_seconds: float = Field(default=120.0, gt=0)

    # Worker pools
    # Parsing is CPU-bound and holds the GIL: scale the parse pool with processes, not threads.
    parse_concurrency: int = Field(default=1, ge=1)
    llm_concurrency: int = Field(default=4, ge=1)
    store_concurrency: int = Field(default=4, ge=1)
    workflow_concurrency: int = Field(default=50, ge=1)
    llm_rate_limit_per_second: float | None = Field(default=None, gt=0)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    migrate_on_start: bool = True

    # Parse limits
    max_pdf_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_pdf_pages: int = Field(default=2000, gt=0)

    # The embedded stack (`charmelio dev`)
    data_dir: Path = Path(".charmelio")
    temporal_ui_port: int = 8233

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _s3_needs_endpoint_and_keys(self) -> Settings:
        if self.storage_backend == "s3":
            missing = [
                name
                for name, value in (
                    ("CHARMELIO_S3_ENDPOINT", self.s3_endpoint),
                    ("CHARMELIO_S3_ACCESS_KEY", self.s3_access_key),
                    ("CHARMELIO_S3_SECRET_KEY", self.s3_secret_key),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"storage_backend=s3 needs {', '.join(missing)}")
        if self.llm_provider == "openai" and not self.openai_base_url:
            raise ValueError("llm_provider=openai needs CHARMELIO_OPENAI_BASE_URL")
        return self

    @property
    def effective_llm_provider(self) -> Literal["rules", "openai"]:
        if self.llm_provider == "auto":
            return "openai" if self.openai_base_url else "rules"
        return self.llm_provider

    def require_database_url(self) -> str:
        """The Postgres URL, or a clear start-up error for processes that cannot run without one."""
        if self.database_url is None:
            raise ConfigurationError(
                "CHARMELIO_DATABASE_URL is not set "
                "(e.g. postgresql://user@127.0.0.1:5432/charmelio); "
                "`charmelio dev` sets it for the processes it starts"
            )
        return self.database_url.get_secret_value()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
