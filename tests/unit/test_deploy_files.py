"""The deployment files, read as files: .env.example and the env names of docker-compose.prod.yml and deploy/k8s
against the settings the code reads; the Dockerfile; requirements.lock against pyproject.toml; the Kubernetes
manifests' sizing, probes and autoscaling (the KEDA ScaledObject, a CRD kubernetes-validate has no schema for, is
checked here field by field). tests/e2e/test_deploy_tools.py runs docker-compose and kubernetes-validate on them.
"""

from __future__ import annotations

import importlib.metadata
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from contract.settings import Settings
from runner.formats.variables import SECRET_ENV_PREFIX

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"

# Read by the code beside the Settings fields: the S3 credentials (botocore's chain), the health command's role,
# the worker's metrics port (a setting once it lands in contract/settings.py), the ffmpeg link's folder
# (runner/replay/browser.py). REPRISE_SECRET_<NAME> is a family, listed once as a commented example.
READ_EXTRAS = frozenset({
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "METRICS_PORT", "REPRISE_ROLE",
    "PLAYWRIGHT_BROWSERS_PATH",
})
# Read by docker-compose.prod.yml only: the bundled Postgres's password, the image to run.
COMPOSE_ONLY = frozenset({"POSTGRES_PASSWORD", "REPRISE_IMAGE"})
# The services running the Reprise image.
REPRISE_SERVICES = ("api", "worker", "migrate")

ENV_LINE = re.compile(r"^(#\s?)?([A-Z][A-Z0-9_]*)=(.*)$")


def setting_names() -> set[str]:
    names = {field.validation_alias for field in Settings.model_fields.values()}
    assert all(isinstance(name, str) for name in names), "every setting has one env name"
    return {str(name) for name in names}


def read_names() -> set[str]:
    return setting_names() | READ_EXTRAS


def env_example() -> list[tuple[str, str, bool, str]]:
    """(name, value, commented out, the comment line above it) for every NAME=value line of .env.example."""
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    entries = []
    for number, line in enumerate(lines):
        match = ENV_LINE.match(line)
        if match:
            above = lines[number - 1] if number else ""
            entries.append((match[2], match[3], match[1] is not None, above))
    return entries


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text(encoding="utf-8")) if document]


def k8s_resources() -> dict[tuple[str, str], dict[str, Any]]:
    """Every resource of deploy/k8s by (kind, name), kustomization.yaml aside."""
    resources = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            for document in load_yaml_documents(path):
                resources[(document["kind"], document["metadata"]["name"])] = document
    return resources


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.prod.yml").read_text(encoding="utf-8"))
    return loaded


def quantity(value: str | int) -> float:
    """A Kubernetes quantity in cores or bytes: 1750m, 3, 1200Mi, 3Gi."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


# --- .env.example -----------------------------------------------------------------------------------------------

def test_env_example_lists_exactly_the_settings_the_code_reads() -> None:
    names = [name for name, _, _, _ in env_example()]
    secrets = [name for name in names if name.startswith(SECRET_ENV_PREFIX)]
    listed = set(names) - set(secrets)
    assert len(names) == len(set(names)), "a name listed twice"
    assert not (setting_names() - listed), "settings missing from .env.example"
    assert listed == read_names() | COMPOSE_ONLY
    assert len(secrets) == 1, f"one commented {SECRET_ENV_PREFIX}<NAME> example"


def test_env_example_lines_have_a_comment_and_the_default() -> None:
    fields = {str(field.validation_alias): field for field in Settings.model_fields.values()}
    for name, value, commented, above in env_example():
        assert above.startswith("# ") and not ENV_LINE.match(above), f"{name}: no comment line above it"
        field = fields.get(name)
        if field is None or field.default_factory is not None:
            continue
        assert commented, f"{name}: a setting is listed commented out, so .env holds only what a person chose"
        default = field.default
        if default is None or default == ():  # unset, or an empty list (comma-separated settings)
            assert value == "", name
        elif isinstance(default, int | float):
            assert float(value) == default, name
        else:
            assert value == str(default), name


def test_env_example_leaves_secrets_blank() -> None:
    values = {name: value for name, value, _, _ in env_example()}
    for name in ("POSTGRES_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert values[name] == "", name


# --- docker-compose.prod.yml --------------------------------------------------------------------------------------

def test_compose_names_are_settings_or_listed_in_env_example() -> None:
    example = {name for name, _, _, _ in env_example()}
    interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (ROOT / "docker-compose.prod.yml").read_text()))
    assert interpolated and interpolated <= example, interpolated - example
    services = compose()["services"]
    for service in REPRISE_SERVICES:
        environment = set(services[service]["environment"])
        assert environment <= read_names(), (service, environment - read_names())
        assert "WORKER_NAME" not in environment, "each replica names itself after its host"
        assert services[service]["env_file"] == ".env"


def duration(text: str) -> float:
    """A compose duration in seconds: 90s, 1m30s, 2m."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", text)
    assert parts and text, f"not a duration: {text!r}"
    hours, minutes, seconds = (float(part or 0) for part in parts.groups())
    return hours * 3600 + minutes * 60 + seconds


def test_compose_worker_grace_pairs_with_its_stop_grace_period() -> None:
    worker = compose()["services"]["worker"]
    grace = float(worker["environment"]["WORKER_SHUTDOWN_GRACE_SECONDS"])
    # The grace, then handing the aborted runs back and closing Redis and Postgres, before Docker's SIGKILL.
    assert duration(worker["stop_grace_period"]) >= grace + 10
    assert (duration("1m30s"), duration("2m"), duration("90s")) == (90, 120, 90)


# --- Dockerfile ---------------------------------------------------------------------------------------------------

def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) per Dockerfile instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    instructions = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, arguments = line.strip().partition(" ")
            instructions.append((instruction.upper(), arguments.strip()))
    return instructions


def test_dockerfile_base_user_health_and_init() -> None:
    instructions = dockerfile()
    assert instructions[0] == ("FROM", "python:3.11-slim-bookworm")
    users = [arguments for instruction, arguments in instructions if instruction == "USER"]
    assert users and users[-1] == "reprise"
    after_user = instructions[[i for i, (name, _) in enumerate(instructions) if name == "USER"][-1]:]
    assert not [args for name, args in after_user if name == "RUN"], "nothing runs as root after USER reprise"
    found = dict(instructions)
    assert found["HEALTHCHECK"].endswith('CMD ["reprise", "health"]')
    assert found["ENTRYPOINT"] == '["/usr/bin/tini", "--"]'
    assert found["CMD"] == '["reprise", "api"]'
    assert found["EXPOSE"] == "8000"


def install_steps(command: str) -> tuple[list[str], list[str]]:
    """The options and steps of one `bash scripts/install.sh ...` command."""
    words = shlex.split(command)
    arguments = words[words.index("scripts/install.sh") + 1:]
    steps = [word for word in arguments if word in ("system", "deps", "project", "link")]
    return arguments, steps


def test_dockerfile_and_make_setup_run_the_same_install_script() -> None:
    runs = [arguments for instruction, arguments in dockerfile() if instruction == "RUN" and "install.sh" in arguments]
    assert runs and all(run.startswith("bash scripts/install.sh ") for run in runs)
    parsed = [install_steps(run) for run in runs]
    assert [step for _, steps in parsed for step in steps] == ["system", "deps", "project", "link"]
    assert all("--image" in options for options, _ in parsed)
    assert "tini" in parsed[0][0] and "--extras" not in " ".join(runs), "the image has no dev extras"
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    calls = [line for line in setup.splitlines() if line.startswith("bash scripts/install.sh")]
    assert len(calls) == 1
    options, steps = install_steps(calls[0])
    assert steps == [], "make setup runs every step"
    assert "docker-compose" in options


def test_dockerignore_lets_in_exactly_what_the_dockerfile_copies() -> None:
    allowed = {line[1:] for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")}
    copied = set()
    for instruction, arguments in dockerfile():
        if instruction == "COPY":
            sources = arguments.split()[:-1]
            copied |= {source.rstrip("/") for source in sources}
    assert copied == allowed
    assert "*" in (ROOT / ".dockerignore").read_text().splitlines(), "everything else stays out (.env, .venv)"


# --- requirements.lock --------------------------------------------------------------------------------------------

def project() -> dict[str, Any]:
    loaded: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return loaded


def lock() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"{line!r} is not pinned with =="
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_lock_pins_every_runtime_dependency_within_its_range() -> None:
    pins = lock()
    for raw in project()["dependencies"]:
        requirement = Requirement(raw)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock (make lock)"
        assert requirement.specifier.contains(pins[name], prereleases=True), (raw, str(pins[name]))
    dev = {canonicalize_name(Requirement(raw).name) for raw in project()["optional-dependencies"]["dev"]}
    assert not (dev & set(pins)), "dev extras stay out of the image"


def runtime_closure() -> set[str]:
    """Every distribution the runtime dependencies need here, their extras (uvicorn[standard]) included."""
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = [Requirement(raw) for raw in project()["dependencies"]]
    while pending:
        requirement = pending.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(key)
        for raw in importlib.metadata.requires(requirement.name) or []:
            child = Requirement(raw)
            marker: Marker | None = child.marker
            extras = requirement.extras | {""}
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras):
                child.marker = None
                pending.append(child)
    return {name for name, _ in seen}


def test_lock_is_complete_and_is_what_make_setup_installed() -> None:
    pins = lock()
    needed = runtime_closure()
    assert not (needed - set(pins)), f"not pinned (make lock): {sorted(needed - set(pins))}"
    installed = {name: Version(importlib.metadata.version(name)) for name in needed}
    assert {name: pins[name] for name in needed} == installed, "the venv is held to requirements.lock"


# --- deploy/k8s ---------------------------------------------------------------------------------------------------

def containers(resource: dict[str, Any]) -> list[dict[str, Any]]:
    spec = resource["spec"]["template"]["spec"]
    found: list[dict[str, Any]] = spec["containers"]
    return found


def test_k8s_env_names_are_settings() -> None:
    resources = k8s_resources()
    names = set(resources[("ConfigMap", "reprise-settings")]["data"])
    names |= set(resources[("Secret", "reprise-secrets")]["stringData"])
    for resource in resources.values():
        if resource["kind"] in ("Deployment", "Job"):
            for container in containers(resource):
                names |= {variable["name"] for variable in container.get("env", [])}
    assert names <= read_names(), names - read_names()
    assert "WORKER_NAME" not in names


def test_kustomization_lists_every_manifest_but_the_examples() -> None:
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    present = {path.name for path in K8S.glob("*.yaml")}
    assert set(listed) == present - {"kustomization.yaml", "secret.example.yaml", "keda-scaledobject.yaml"}


def test_k8s_worker_sizing_grace_and_probes() -> None:
    resources = k8s_resources()
    settings = resources[("ConfigMap", "reprise-settings")]["data"]
    worker = resources[("Deployment", "reprise-worker")]
    (container,) = containers(worker)
    pod = worker["spec"]["template"]["spec"]
    concurrency = int(settings["WORKER_CONCURRENCY"])
    assert pod["terminationGracePeriodSeconds"] > float(settings["WORKER_SHUTDOWN_GRACE_SECONDS"])
    # About 300 MB and 0.5-1 core per run (the scaling guide), plus the worker process.
    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    assert quantity(requests["memory"]) >= (concurrency + 1) * 300 * 2**20
    assert quantity(requests["cpu"]) > concurrency * 0.5 and quantity(limits["cpu"]) > concurrency * 1.0
    assert quantity(limits["memory"]) >= quantity(requests["memory"]) + int(settings["BROWSER_JS_HEAP_MB"]) * 2**20
    env = {variable["name"]: variable["value"] for variable in container["env"]}
    assert env["REPRISE_ROLE"] == "worker"
    port = int(env["METRICS_PORT"])
    assert [p["containerPort"] for p in container["ports"] if p["name"] == "metrics"] == [port]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}, probe
    assert worker["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    shm = [volume for volume in pod["volumes"] if volume["name"] == "dshm"]
    assert shm and shm[0]["emptyDir"]["medium"] == "Memory"
    assert {"name": "dshm", "mountPath": "/dev/shm"} in container["volumeMounts"]
    assert "replicas" not in worker["spec"], "the autoscaler owns the worker count"


def test_k8s_api_and_migration() -> None:
    resources = k8s_resources()
    api = resources[("Deployment", "reprise-api")]
    (container,) = containers(api)
    assert api["spec"]["replicas"] == 2 and container["args"] == ["reprise", "api"]
    assert container["ports"] == [{"name": "http", "containerPort": 8000}]
    # The queue's metrics, bullmq_queue_waiting among them, come from the API's GET /metrics.
    assert api["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "8000"
    assert container["readinessProbe"]["httpGet"] == {"path": "/api/health", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/api/health/live", "port": "http"}
    env = {variable["name"]: variable["value"] for variable in container["env"]}
    assert env == {"REPRISE_ROLE": "api", "API_HOST": "0.0.0.0", "API_PORT": "8000"}
    service = resources[("Service", "reprise-api")]["spec"]
    assert service["selector"] == api["spec"]["selector"]["matchLabels"] and service["ports"][0]["targetPort"] == "http"
    (migrate,) = containers(resources[("Job", "reprise-migrate")])
    assert migrate["args"] == ["reprise", "migrate", "--create-database"]
    images = {c["image"] for r in resources.values() if r["kind"] in ("Deployment", "Job") for c in containers(r)}
    assert images == {"reprise:latest"}


def test_hpa_scales_workers_on_the_waiting_runs() -> None:
    resources = k8s_resources()
    queue = resources[("ConfigMap", "reprise-settings")]["data"]["QUEUE_NAME"]
    hpa = resources[("HorizontalPodAutoscaler", "reprise-worker")]
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "reprise-worker"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 20)
    (metric,) = spec["metrics"]
    assert metric["type"] == "External"
    assert metric["external"]["metric"] == {"name": "bullmq_queue_waiting",
                                            "selector": {"matchLabels": {"queue": queue}}}
    assert metric["external"]["target"] == {"type": "AverageValue", "averageValue": "5"}


def test_keda_scaled_object_has_what_keda_requires() -> None:
    """KEDA's ScaledObject CRD (keda.sh/v1alpha1) requires spec.scaleTargetRef.name and spec.triggers, each trigger
    a type and a metadata map of strings; its prometheus scaler requires serverAddress, query and threshold."""
    (scaled,) = load_yaml_documents(K8S / "keda-scaledobject.yaml")
    assert (scaled["apiVersion"], scaled["kind"]) == ("keda.sh/v1alpha1", "ScaledObject")
    assert scaled["metadata"]["name"]
    spec = scaled["spec"]
    assert spec["scaleTargetRef"]["name"] == "reprise-worker"
    assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 20)
    assert set(spec) <= {"scaleTargetRef", "minReplicaCount", "maxReplicaCount", "pollingInterval",
                         "cooldownPeriod", "idleReplicaCount", "fallback", "advanced", "triggers"}
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "prometheus"
    metadata = trigger["metadata"]
    assert all(isinstance(value, str) for value in metadata.values()), "KEDA's trigger metadata is strings only"
    assert {"serverAddress", "query", "threshold"} <= set(metadata)
    assert re.match(r"^https?://", metadata["serverAddress"])
    queue = k8s_resources()[("ConfigMap", "reprise-settings")]["data"]["QUEUE_NAME"]
    assert f'bullmq_queue_waiting{{queue="{queue}"}}' in metadata["query"]
    assert metadata["threshold"] == "5"


@pytest.mark.parametrize("path", sorted(K8S.glob("*.yaml")), ids=lambda path: path.name)
def test_k8s_files_are_plain_yaml_without_namespace(path: Path) -> None:
    for document in load_yaml_documents(path):
        assert "namespace" not in document.get("metadata", {}), "namespace-free: kustomize or kubectl -n sets it"
