"""The deployment files through the tools that read them: Debian's docker-compose (1.29) renders
docker-compose.prod.yml, and kubernetes-validate checks deploy/k8s against the schemas of one Kubernetes version.
No Docker engine is needed (none runs here): `docker-compose config` only reads files. Both tools come from
`make setup` (scripts/install.sh installs docker-compose; kubernetes-validate is a dev dependency).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
# The Kubernetes version the manifests are written for (kubernetes-validate ships its schemas).
KUBERNETES_VERSION = "1.30.0"
# Not Kubernetes resources, or a CRD without a schema there (tests/unit/test_deploy_files.py checks it).
NOT_VALIDATED = {"kustomization.yaml", "keda-scaledobject.yaml"}
FILLED = {"POSTGRES_PASSWORD": "pgsecret1", "AWS_ACCESS_KEY_ID": "reprise", "AWS_SECRET_ACCESS_KEY": "miniosecret1"}


def docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        pytest.fail("docker-compose is missing: `make setup` installs Debian's docker-compose")
    return found


def compose_project(directory: Path, filled: dict[str, str]) -> Path:
    """docker-compose.prod.yml beside a .env made from .env.example, with `filled` values set as a person would."""
    shutil.copy(ROOT / "docker-compose.prod.yml", directory / "docker-compose.prod.yml")
    lines = []
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        name = line.partition("=")[0]
        lines.append(f"{name}={filled[name]}" if name in filled else line)
    (directory / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory / "docker-compose.prod.yml"


def run_compose(compose_file: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    # Only .env feeds the ${NAME}s: none of this shell's variables.
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(compose_file.parent)}
    return subprocess.run([docker_compose(), "-f", str(compose_file), *arguments], capture_output=True, text=True,
                          env=environment, timeout=60, check=False)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`docker-compose config` of the production file, as docker-compose resolves it (anchors, .env, defaults)."""
    compose_file = compose_project(tmp_path_factory.mktemp("compose"), FILLED)
    quiet = run_compose(compose_file, "config", "-q")
    assert quiet.returncode == 0, quiet.stderr
    result = run_compose(compose_file, "config")
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


def seconds(duration: str) -> float:
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", duration)
    assert parts and duration, duration
    hours, minutes, secs = (float(part or 0) for part in parts.groups())
    return hours * 3600 + minutes * 60 + secs


def test_compose_refuses_to_start_without_the_secrets(tmp_path: Path) -> None:
    result = run_compose(compose_project(tmp_path, {}), "config", "-q")
    assert result.returncode != 0 and "set POSTGRES_PASSWORD in .env" in result.stderr


def test_compose_services_replicas_and_roles(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    assert set(services) == {"api", "worker", "migrate", "postgres", "redis", "minio", "minio-init"}
    assert services["api"]["deploy"]["replicas"] == 2 and services["worker"]["deploy"]["replicas"] == 4
    for name, command, role in (("api", ["reprise", "api"], "api"), ("worker", ["reprise", "worker"], "worker")):
        service = services[name]
        assert service["command"] == command and service["environment"]["REPRISE_ROLE"] == role
        assert service["image"] == "reprise:latest" and service["restart"] == "unless-stopped"
        assert service["healthcheck"]["test"] == ["CMD", "reprise", "health"]
        assert "WORKER_NAME" not in service["environment"]
    assert services["migrate"]["command"] == ["reprise", "migrate", "--create-database"]
    assert services["migrate"]["healthcheck"]["test"] == ["NONE"] and services["migrate"]["restart"] == "no"
    api = services["api"]
    assert api["environment"]["API_HOST"] == "0.0.0.0" and api["ports"][0]["target"] == 8000


def test_compose_worker_stops_gracefully_with_room_for_chromium(rendered: dict[str, Any]) -> None:
    worker = rendered["services"]["worker"]
    assert seconds(worker["stop_grace_period"]) > float(worker["environment"]["WORKER_SHUTDOWN_GRACE_SECONDS"])
    assert worker["shm_size"] == "1gb"
    assert worker["environment"]["METRICS_PORT"] == "9100"


def test_compose_wiring_settings_and_env_file(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    minio = services["minio"]["environment"]
    for name in ("api", "worker", "migrate"):
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"] == "postgresql://reprise:pgsecret1@postgres:5432/reprise"
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
        assert environment["ARTIFACT_STORE_URL"] == "s3://reprise-artifacts/prod"
        assert environment["S3_ENDPOINT_URL"] == "http://minio:9000"
        assert environment["AWS_REGION"] == "us-east-1", "env_file .env reaches the container"
        assert environment["AWS_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"] == FILLED["AWS_ACCESS_KEY_ID"]
        assert environment["AWS_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"] == FILLED["AWS_SECRET_ACCESS_KEY"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "pgsecret1"
    assert services["minio-init"]["command"][-1] == "minio/reprise-artifacts"
    assert services["minio-init"]["environment"]["MC_HOST_minio"] == "http://reprise:miniosecret1@minio:9000"


def test_compose_redis_keeps_every_job(rendered: dict[str, Any]) -> None:
    redis = rendered["services"]["redis"]
    command = redis["command"]
    assert command[0] == "redis-server"
    flags = dict(zip(command[1::2], command[2::2], strict=True))
    assert flags == {"--appendonly": "yes", "--maxmemory-policy": "noeviction"}
    assert redis["image"] == "redis:7" and any(volume.endswith(":/data:rw") for volume in redis["volumes"])
    assert rendered["services"]["postgres"]["image"] == "postgres:16"
    assert any("/var/lib/postgresql/data" in volume for volume in rendered["services"]["postgres"]["volumes"])


def test_compose_start_order(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    ready = {"migrate": {"condition": "service_completed_successfully"},
             "minio-init": {"condition": "service_completed_successfully"},
             "redis": {"condition": "service_healthy"}}
    assert services["api"]["depends_on"] == ready and services["worker"]["depends_on"] == ready
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["minio-init"]["depends_on"] == {"minio": {"condition": "service_healthy"}}
    for name in ("postgres", "redis", "minio"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name


def test_compose_logs_rotate_on_every_service(rendered: dict[str, Any]) -> None:
    for name, service in rendered["services"].items():
        assert service["logging"] == {"driver": "json-file", "options": {"max-size": "100m", "max-file": "3"}}, name


def kubernetes_validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).parent / "kubernetes-validate"
    if not executable.exists():
        pytest.fail("kubernetes-validate is missing: `make setup` installs the dev dependencies")
    return subprocess.run([str(executable), "--kubernetes-version", KUBERNETES_VERSION, "--strict", "--quiet",
                           *map(str, paths)], capture_output=True, text=True, timeout=120, check=False)


def test_k8s_manifests_validate_against_the_kubernetes_schemas() -> None:
    manifests = sorted(path for path in K8S.glob("*.yaml") if path.name not in NOT_VALIDATED)
    assert {path.name for path in manifests} >= {"api.yaml", "worker.yaml", "hpa.yaml", "migrate-job.yaml"}
    result = kubernetes_validate(*manifests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_validate_rejects_an_unknown_field(tmp_path: Path) -> None:
    broken = tmp_path / "worker.yaml"
    broken.write_text((K8S / "worker.yaml").read_text().replace("terminationGracePeriodSeconds", "gracePeriod"))
    result = kubernetes_validate(broken)
    assert result.returncode != 0 and "gracePeriod" in result.stdout + result.stderr
