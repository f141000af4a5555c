"""Every setting of every Charmelio process, read once from ``CHARMELIO_*`` environment variables.

One class on purpose: each pool reads the same names, so an operator configures a deployment in one
place and a typo fails at start-up rather than in the middle of a document.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from charmelio.contract import BATCH_DOCUMENTS_PER_RUN, BATCH_MAX_IN_FLIGHT

ENV_PREFIX = "CHARMELIO_"
DEFAULT_DATA_DIR = Path(".charmelio")
# Written by a running embedded stack into its data directory, so other commands find it.
STACK_ENV = "stack.env"
# The smallest model context Charmelio reads contracts with (many local models serve 4k), and
# what a request needs besides the reply: the compact instructions a small context gets plus the
# smallest contract chunk worth a request. The llm pool's planner is checked against this
# (tests/llm/test_small_context.py), so every context these settings accept also starts a worker.
LLM_MIN_CONTEXT_TOKENS = 4_096
LLM_PROMPT_ROOM_TOKENS = 2_048
# The reply budget when none is set: a quarter of the context, at most 16,000 tokens (a full
# extraction of a long contract is rarely more than 4,000).
LLM_DEFAULT_REPLY_TOKENS = 16_000


class ConfigurationError(RuntimeError):
    """A setting a process needs is missing or contradicts another one."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        # stack.env is written by a running `charmelio dev`, so other commands find that stack;
        # `load_settings(data_dir=...)` reads the one of another data directory.
        env_file=(DEFAULT_DATA_DIR / STACK_ENV, ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # Temporal
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_connect_timeout_seconds: float = Field(default=60.0, gt=0)
    # Temporal Cloud or any TLS frontend: an API key (which implies TLS), or mTLS with a client
    # certificate and key; a private CA's certificate when the server's is not publicly trusted.
    temporal_api_key: SecretStr | None = None
    temporal_tls: bool = False
    temporal_tls_client_cert_path: Path | None = None
    temporal_tls_client_key_path: Path | None = None
    temporal_tls_server_ca_path: Path | None = None

    # Postgres. Unset means: `charmelio dev` starts an embedded Postgres; any other process refuses
    # to start (see `require_database_url`).
    database_url: SecretStr | None = None

    # Object storage
    storage_backend: Literal["local", "s3"] = "local"
    # Unset: <data_dir>/objects, so a stack with another data directory keeps its own objects.
    storage_dir: Path = DEFAULT_DATA_DIR / "objects"
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
    # Long contracts (docs/extraction.md): one request holds the instructions, a chunk of the
    # contract and room for the reply within the model's context; longer contracts are read in
    # page-aligned chunks that overlap by `llm_chunk_overlap_pages`, and the findings merged.
    llm_context_tokens: int = Field(default=128_000, ge=LLM_MIN_CONTEXT_TOKENS)
    # The most the model may write per request (sent as `openai_reply_limit_field`, so a model
    # that loops is cut there) and the part of the context kept for it. Unset: a quarter of the
    # context, at most LLM_DEFAULT_REPLY_TOKENS.
    llm_reply_tokens: int | None = Field(default=None, ge=256)
    llm_chunk_overlap_pages: int = Field(default=1, ge=0)
    # Sampling: temperature 0 and a fixed seed make a contract's extraction repeatable where the
    # server supports them; unset (empty) sends none (for models that refuse either).
    llm_temperature: float | None = Field(default=0.0, ge=0, le=2)
    llm_seed: int | None = 0
    # How structured output and the reply limit are asked for. OpenAI, vLLM, llama.cpp's
    # llama-server and Ollama take "json_schema"; llama-cpp-python's server takes only
    # "json_object" (with the schema beside it). OpenAI wants "max_completion_tokens"; servers
    # that predate it (older vLLM and Ollama) want "max_tokens".
    openai_response_format: Literal["json_schema", "json_object"] = "json_schema"
    openai_reply_limit_field: Literal["max_completion_tokens", "max_tokens"] = (
        "max_completion_tokens"
    )
    # Bounds in the reply schema (maxItems, maxLength, page range, confidence steps) sized so the
    # longest reply the schema admits fits the reply budget: a server that compiles the schema
    # into a grammar (llama.cpp's llama-server, Ollama) then makes a small model that loops
    # inside the JSON close it, where without them every attempt is cut off and the document
    # fails. OpenAI's own strict mode refuses such keywords and its models do not loop, so
    # "auto" sends them to every server but OpenAI's (api.openai.com, Azure OpenAI); "on" and
    # "off" decide for any server (one that refuses them ends as `unsupported`, naming this).
    openai_schema_bounds: Literal["auto", "on", "off"] = "auto"
    # The provider's limits, shared by every llm worker through Postgres (needs
    # CHARMELIO_DATABASE_URL). A reservation assumes `llm_expected_reply_tokens` for the reply and
    # is settled with the provider's own count; a wait longer than the maximum becomes a retry.
    llm_requests_per_minute: float | None = Field(default=None, gt=0)
    llm_tokens_per_minute: float | None = Field(default=None, gt=0)
    llm_expected_reply_tokens: int = Field(default=2_000, ge=0)
    llm_budget_max_wait_seconds: float = Field(default=240.0, gt=0)

    # Worker pools
    # Each parse thread drives its own PDFium engine process, so threads and processes both scale
    # parsing up to the number of cores (docs/parsing.md).
    parse_concurrency: int = Field(default=1, ge=1)
    llm_concurrency: int = Field(default=4, ge=1)
    store_concurrency: int = Field(default=4, ge=1)
    workflow_concurrency: int = Field(default=50, ge=1)
    llm_rate_limit_per_second: float | None = Field(default=None, gt=0)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    migrate_on_start: bool = True

    # Batches (`charmelio batch`, POST /api/batches): documents extracted at once by one batch,
    # and documents per workflow run before it continues as new (history stays a few thousand
    # events). The window should cover what the pools can work on at once, and a little more so
    # no worker waits: parse + llm + store concurrency across every process is a good start.
    batch_max_in_flight: int = Field(default=BATCH_MAX_IN_FLIGHT, ge=1, le=1_000)
    batch_documents_per_run: int = Field(default=BATCH_DOCUMENTS_PER_RUN, ge=1, le=1_000)

    # Parse limits
    max_pdf_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_pdf_pages: int = Field(default=2000, gt=0)
    # The parse engine (docs/parsing.md). OCR: "auto" reads pages without a text layer with
    # Tesseract when it is installed, "on" requires it (the parse pool refuses to start without
    # it), "off" never runs it. The time budget stays under the workflow's 10-minute parse
    # timeout, so a slow document ends as a clear refusal rather than a retried timeout.
    parse_ocr: Literal["auto", "on", "off"] = "auto"
    parse_ocr_language: str = Field(default="eng", pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$")
    parse_ocr_dpi: int = Field(default=300, ge=72, le=600)
    parse_tesseract_command: str = "tesseract"
    parse_time_budget_seconds: float = Field(default=480.0, gt=0)
    parse_page_timeout_seconds: float = Field(default=30.0, gt=0)
    parse_memory_limit_mb: int = Field(default=512, ge=128)

    # The embedded stack (`charmelio dev`). Its Temporal frontend listens on the port of
    # CHARMELIO_TEMPORAL_ADDRESS; each port here and there is the one tried first: when another
    # program holds it, the stack takes a free one, prints it and writes it into stack.env.
    # (Its embedded Postgres listens on a Unix socket in the data directory, on no TCP port.)
    data_dir: Path = DEFAULT_DATA_DIR
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535)

    # The HTTP API and viewer (`charmelio api`). With a key set, every /api route requires it.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_key: SecretStr | None = None
    api_max_upload_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    # Bounds on what one request waits for Temporal: a status answer never hangs on a missing
    # workflow worker, it falls back to what the server alone knows.
    api_temporal_timeout_seconds: float = Field(default=5.0, gt=0)
    api_stage_query_timeout_seconds: float = Field(default=2.0, gt=0)
    api_database_pool_size: int = Field(default=10, ge=1)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Prometheus metrics of this process (the Temporal SDK's and Charmelio's, one endpoint).
    # 0 means off. Every process of a host needs its own port; in a container, bind 0.0.0.0.
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"

    @field_validator("llm_temperature", "llm_seed", mode="before")
    @classmethod
    def _empty_sends_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _s3_needs_endpoint_and_keys(self) -> Settings:
        if "storage_dir" not in self.model_fields_set:
            self.storage_dir = self.data_dir / "objects"
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
        if (self.temporal_tls_client_cert_path is None) != (
            self.temporal_tls_client_key_path is None
        ):
            raise ValueError(
                "CHARMELIO_TEMPORAL_TLS_CLIENT_CERT_PATH and CHARMELIO_TEMPORAL_TLS_CLIENT_KEY_PATH"
                " go together: set both for mTLS, or neither"
            )
        if self.llm_provider == "openai" and not self.openai_base_url:
            raise ValueError("llm_provider=openai needs CHARMELIO_OPENAI_BASE_URL")
        reply, context = self.llm_reply_budget, self.llm_context_tokens
        if reply * 2 > context or context - reply < LLM_PROMPT_ROOM_TOKENS:
            most = min(context // 2, context - LLM_PROMPT_ROOM_TOKENS)
            raise ValueError(
                f"CHARMELIO_LLM_REPLY_TOKENS ({reply}) must be at most {most} with "
                f"CHARMELIO_LLM_CONTEXT_TOKENS={context}: half the context, and "
                f"{LLM_PROMPT_ROOM_TOKENS} tokens left for the instructions and the contract"
            )
        # An empty key most likely comes from an unset variable in a template; treating it as
        # "no auth" would silently open the API, so it is refused instead.
        if self.api_key is not None and not self.api_key.get_secret_value().strip():
            raise ValueError("CHARMELIO_API_KEY is empty: unset it to turn auth off, or set a key")
        return self

    @property
    def effective_llm_provider(self) -> Literal["rules", "openai"]:
        if self.llm_provider == "auto":
            return "openai" if self.openai_base_url else "rules"
        return self.llm_provider

    @property
    def temporal_uses_tls(self) -> bool:
        return bool(
            self.temporal_tls
            or self.temporal_api_key is not None
            or self.temporal_tls_client_cert_path is not None
            or self.temporal_tls_server_ca_path is not None
        )

    @property
    def llm_reply_budget(self) -> int:
        """The reply limit per request: the setting, else a quarter of the context (capped)."""
        if self.llm_reply_tokens is not None:
            return self.llm_reply_tokens
        return min(LLM_DEFAULT_REPLY_TOKENS, self.llm_context_tokens // 4)

    @property
    def openai_schema_bounds_enabled(self) -> bool:
        """Whether the reply schema carries bounds (see `openai_schema_bounds`)."""
        if self.openai_schema_bounds != "auto":
            return self.openai_schema_bounds == "on"
        host = (urlsplit(self.openai_base_url or "").hostname or "").lower()
        return not (host == "api.openai.com" or host.endswith(".openai.azure.com"))

    @property
    def llm_budget_configured(self) -> bool:
        """True when llm workers share request or token limits (and so need the database)."""
        return self.llm_requests_per_minute is not None or self.llm_tokens_per_minute is not None

    def require_database_url(self) -> str:
        """The Postgres URL, or a clear start-up error for processes that cannot run without one."""
        if self.database_url is None:
            raise ConfigurationError(
                "CHARMELIO_DATABASE_URL is not set "
                "(e.g. postgresql://user@127.0.0.1:5432/charmelio); "
                "`charmelio dev` sets it for the processes it starts"
            )
        return self.database_url.get_secret_value()


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each offending ``CHARMELIO_*`` variable and the rule it breaks."""
    problems = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        location = "_".join(str(part) for part in item["loc"])
        if location:
            value = item.get("input")
            shown = "" if isinstance(value, dict) or value is None else f"={str(value)[:60]}"
            problems.append(f"{ENV_PREFIX}{location.upper()}{shown}: {message}")
        else:
            problems.append(message)
    return "; ".join(problems)


def stack_env_path(data_dir: Path | str | None = None) -> Path:
    """Where a running embedded stack of ``data_dir`` (default: CHARMELIO_DATA_DIR, then
    ``.charmelio``) has written its settings."""
    chosen = data_dir or os.environ.get(f"{ENV_PREFIX}DATA_DIR") or DEFAULT_DATA_DIR
    return Path(chosen) / STACK_ENV


def load_settings(
    *, data_dir: Path | str | None = None, stack_env: bool = True, **values: Any
) -> Settings:
    """The settings, with a `ConfigurationError` of one line instead of a pydantic traceback.

    ``stack_env=False`` ignores a running stack's ``stack.env`` (a stack about to start must not
    read the settings of an earlier one). ``values`` override the environment.
    """
    env_files: tuple[Path | str, ...] = (".env",)
    if stack_env:
        env_files = (stack_env_path(data_dir), ".env")
    if data_dir is not None:
        values.setdefault("data_dir", Path(data_dir))
    try:
        return Settings(_env_file=env_files, **values)
    except ValidationError as exc:
        raise ConfigurationError(describe_validation_error(exc)) from None
