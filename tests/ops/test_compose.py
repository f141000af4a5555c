"""The compose stack is valid Compose, and each service runs the process and install it should.

No Docker engine runs here or on CI, so the file is checked three ways: against the Compose
Specification's JSON schema (check-jsonschema's vendored copy, offline), with ``docker compose
config`` where the compose plugin exists, and by reading it: every service's command must be one
the `charmelio` CLI accepts, for the right pool, in an image with the extra that pool needs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli import build_parser as _parser
from tests.conftest import ROOT

COMPOSE_DIR = ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
POOL_SERVICES = {
    "workflow-worker": ("workflow", ""),
    "parse-worker": ("parse", "parse"),
    "llm-worker": ("llm", "llm"),
    "store-worker": ("store", "store"),
}
ONE_SHOT = {"temporal-schema", "temporal-namespace", "minio-bucket", "migrate"}
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|_KEY|_PWD)$")
REQUIRED = re.compile(r"\$\{(\w+):\?[^}]*\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run(
        [str(binary), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_stack_matches_the_compose_specification(tmp_path: Path) -> None:
    valid = check_jsonschema(COMPOSE_FILE)
    assert valid.returncode == 0, valid.stdout + valid.stderr

    # The same check refuses a broken file, so a pass above means something.
    broken = tmp_path / "compose.yaml"
    text = COMPOSE_FILE.read_text().replace("    deploy:\n", "    deploi:\n", 1)
    broken.write_text(text)
    refused = check_jsonschema(broken)
    assert refused.returncode != 0
    assert "deploi" in refused.stdout + refused.stderr


def _compose_plugin() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, check=False, timeout=30
    )
    return probe.returncode == 0


def test_docker_compose_config_where_the_plugin_exists(tmp_path: Path) -> None:
    """`docker compose config` resolves the file; without the required secrets it refuses."""
    if not _compose_plugin():
        # The schema test above is the check on machines without the plugin (like CI's).
        assert check_jsonschema(COMPOSE_FILE).returncode == 0
        return
    env_file = tmp_path / ".env"
    secrets = "TEMPORAL_DB_PASSWORD=x\nAPP_DB_PASSWORD=x\nMINIO_ROOT_PASSWORD=x\nAPI_KEY=x\n"
    env_file.write_text((COMPOSE_DIR / ".env.example").read_text() + secrets)
    command = ["docker", "compose", "-f", str(COMPOSE_FILE), "--env-file"]
    resolved = subprocess.run(
        [*command, str(env_file), "config", "--quiet"], capture_output=True, text=True, check=False
    )
    assert resolved.returncode == 0, resolved.stderr
    refused = subprocess.run(
        [*command, str(COMPOSE_DIR / ".env.example"), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0
    assert "PASSWORD" in refused.stderr


@pytest.mark.parametrize(("service", "expected"), sorted(POOL_SERVICES.items()))
def test_each_pool_service_runs_its_own_worker_from_an_image_with_its_extra(
    services: dict[str, dict[str, Any]], service: str, expected: tuple[str, str]
) -> None:
    pool, extra = expected
    spec = services[service]
    command = spec["command"]
    assert command == ["charmelio", "worker", pool]
    args = _parser().parse_args(command[1:])
    assert args.command == "worker"
    assert args.pool == pool
    assert spec["build"]["args"]["EXTRAS"] == extra
    assert f"charmelio-{pool}:" in spec["image"]


def test_the_api_and_migrate_commands_are_real_cli_commands(
    services: dict[str, dict[str, Any]],
) -> None:
    assert services["api"]["command"] == ["charmelio", "api"]
    assert _parser().parse_args(["api"]).command == "api"
    assert services["api"]["environment"]["CHARMELIO_API_PORT"] == "8000"
    assert services["api"]["build"]["args"]["EXTRAS"] == "api"
    assert services["migrate"]["command"] == ["charmelio", "migrate"]
    assert _parser().parse_args(["migrate"]).command == "migrate"
    assert services["migrate"]["build"]["args"]["EXTRAS"] == "store"


def test_every_extra_an_image_installs_exists() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    dockerfile = (COMPOSE_DIR / "Dockerfile").read_text()
    assert 'RUN pip install ".${EXTRAS:+[$EXTRAS]}"' in dockerfile
    for service in yaml.safe_load(COMPOSE_FILE.read_text())["services"].values():
        extra = (service.get("build") or {}).get("args", {}).get("EXTRAS")
        if extra:
            assert extra in extras, f"pyproject.toml has no extra {extra!r}"


def test_pools_scale_with_replicas_and_their_own_settings(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in POOL_SERVICES:
        spec = services[name]
        assert "replicas" in spec["deploy"], name
        assert "container_name" not in spec, f"{name} runs replicas: no fixed container name"
        assert "ports" not in spec, f"{name} runs replicas: a published port would collide"
        assert spec["environment"]["CHARMELIO_METRICS_PORT"] == "9464"
        assert spec["environment"]["CHARMELIO_METRICS_HOST"] == "0.0.0.0"
    assert not [name for name, spec in services.items() if "container_name" in spec]
    assert "CHARMELIO_PARSE_CONCURRENCY" in services["parse-worker"]["environment"]
    llm = services["llm-worker"]["environment"]
    assert "CHARMELIO_LLM_CONCURRENCY" in llm
    assert "CHARMELIO_LLM_RATE_LIMIT_PER_SECOND" in llm
    assert "CHARMELIO_STORE_CONCURRENCY" in services["store-worker"]["environment"]
    assert services["store-worker"]["environment"]["CHARMELIO_MIGRATE_ON_START"] == "false"


def test_health_checks_and_start_order(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        for dependency, condition in (spec.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            expected = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            assert condition == {"condition": expected}, f"{name} -> {dependency}"
            if expected == "service_healthy":
                assert "healthcheck" in services[dependency], dependency
        if name not in ONE_SHOT and name not in {"temporal-ui", "prometheus"}:
            assert "healthcheck" in spec, f"{name} has no health check"
    for name in POOL_SERVICES:
        check = services[name]["healthcheck"]["test"]
        assert check == ["CMD", "python", "-m", "charmelio.metrics", "ready"]
    for name in ("parse-worker", "llm-worker", "store-worker", "api"):
        needs = services[name]["depends_on"]
        assert "temporal-namespace" in needs
        assert "minio-bucket" in needs
    assert "migrate" in services["store-worker"]["depends_on"]
    assert "migrate" in services["api"]["depends_on"]


def _environment_values(services: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    for name, spec in services.items():
        environment = spec.get("environment") or {}
        assert isinstance(environment, dict), f"{name}: use the mapping form"
        found.extend((name, key, str(value)) for key, value in environment.items())
    return found


def test_secrets_come_only_from_the_environment(services: dict[str, dict[str, Any]]) -> None:
    for service, key, value in _environment_values(services):
        if SECRET_NAME.search(key):
            if key == "CHARMELIO_OPENAI_API_KEY":  # optional: the offline provider needs none
                assert value == "${OPENAI_API_KEY:-}"
            else:
                assert REQUIRED.fullmatch(value), f"{service}: {key}={value}"
        if "postgresql://" in value:
            assert REQUIRED.search(value), f"{service}: {key} has a literal password"
    required = {m for _, _, value in _environment_values(services) for m in REQUIRED.findall(value)}
    example = dict(
        line.split("=", 1)
        for line in (COMPOSE_DIR / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert required <= set(example), "every required variable is listed in .env.example"
    for name in required:
        if SECRET_NAME.search(name):
            assert example[name] == "", f".env.example must not ship a value for {name}"


def test_images_are_pinned_and_mounted_files_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        image = spec.get("image", "")
        assert ":" in image, f"{name}: pin the image"
        assert not image.endswith(":latest"), name
    assert re.fullmatch(r"quay\.io/minio/minio:RELEASE\.[\dT-]+Z", services["minio"]["image"])
    for spec in services.values():
        for volume in spec.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (COMPOSE_DIR / source).exists(), source
    for script in ("setup-schema.sh", "create-namespace.sh"):
        path = COMPOSE_DIR / "temporal" / script
        assert path.stat().st_mode & 0o111, f"{script} must be executable"
    config = services["temporal"]["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    assert (COMPOSE_DIR / "temporal" / "dynamicconfig" / Path(config).name).exists()


def test_prometheus_scrapes_every_service_that_serves_metrics(
    services: dict[str, dict[str, Any]],
) -> None:
    config = yaml.safe_load((COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    [discovery] = job["dns_sd_configs"]
    serving = {
        name
        for name, spec in services.items()
        if (spec.get("environment") or {}).get("CHARMELIO_METRICS_PORT") == "9464"
    }
    assert set(discovery["names"]) == serving
    assert discovery["port"] == 9464
