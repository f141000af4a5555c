"""How a process reaches Temporal: plain on a dev server, TLS or an API key for Temporal Cloud."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from charmelio.settings import ConfigurationError, Settings, load_settings
from charmelio.worker_runtime import client_options


def test_a_dev_server_is_reached_without_tls() -> None:
    options = client_options(Settings(_env_file=None))
    assert "tls" not in options
    assert "api_key" not in options


def test_an_api_key_implies_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARMELIO_TEMPORAL_API_KEY", "key-123")
    options = client_options(load_settings(stack_env=False))
    assert options["api_key"] == "key-123"
    assert isinstance(options["tls"], TLSConfig)


def test_mtls_reads_the_certificate_files(tmp_path: Path) -> None:
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_bytes(b"CERT")
    key.write_bytes(b"KEY")
    settings = Settings(
        _env_file=None, temporal_tls_client_cert_path=cert, temporal_tls_client_key_path=key
    )
    tls = client_options(settings)["tls"]
    assert (tls.client_cert, tls.client_private_key) == (b"CERT", b"KEY")


def test_a_missing_certificate_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    settings = Settings(
        _env_file=None, temporal_tls_client_cert_path=missing, temporal_tls_client_key_path=missing
    )
    with pytest.raises(ConfigurationError, match="CHARMELIO_TEMPORAL_TLS_CLIENT_CERT_PATH="):
        client_options(settings)


def test_a_certificate_without_its_key_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHARMELIO_TEMPORAL_TLS_CLIENT_CERT_PATH", "/etc/client.pem")
    with pytest.raises(ConfigurationError, match="go together") as refused:
        load_settings(stack_env=False)
    assert "\n" not in str(refused.value)
