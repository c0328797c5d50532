"""`reprise keys` and `reprise api`'s AUTH rule as a user meets them: real processes on the test database."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contract.settings import Settings

from ports import free_port
from services import REPO_ROOT, api_process, worker_env


def reprise(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reprise.cli", *args], env={**worker_env(settings, "unused"), **env},
                          capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)




@pytest.fixture
def api_with_keys(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """`reprise api` as its own process with AUTH=keys (the default); its base URL once it answers."""
    with api_process(settings, tmp_path / "api.log", AUTH="keys") as url:
        yield url


def test_keys_create_list_revoke_against_a_running_api(settings: Settings, api_with_keys: str) -> None:
    created = reprise(settings, "keys", "create", "--name", "ci", "--scope", "run")
    assert created.returncode == 0, created.stderr
    key = created.stdout.splitlines()[-1]
    assert key.startswith("rk_") and key == key.strip() and " " not in key
    assert created.stdout.splitlines()[0].startswith("created key ")  # logs go to stderr, never among the answer
    assert len(created.stdout.splitlines()) == 2

    listed = reprise(settings, "keys", "list")
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if " ci " in line]
    assert "run" in row and "live" in row and key not in listed.stdout

    taken = reprise(settings, "keys", "create", "--name", "ci", "--scope", "read")
    assert taken.returncode == 1 and "exists already" in taken.stderr

    with httpx.Client(base_url=api_with_keys, timeout=10) as client:
        assert client.get("/api/runs").status_code == 401
        headers = {"Authorization": f"Bearer {key}"}
        assert client.get("/api/runs", headers=headers).status_code == 200
        assert client.post("/api/queue/pause", headers=headers).status_code == 403  # run < admin

        revoked = reprise(settings, "keys", "revoke", "ci")
        assert revoked.returncode == 0 and "revoked key" in revoked.stdout, revoked.stderr
        deadline = time.monotonic() + 10
        while client.get("/api/runs", headers=headers).status_code != 401:
            assert time.monotonic() < deadline, "the revoked key still works"
            time.sleep(0.2)

    again = reprise(settings, "keys", "revoke", "ci")
    assert again.returncode == 1 and "no live key" in again.stderr
    assert "revoked" in reprise(settings, "keys", "list").stdout


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::"])
def test_auth_none_is_refused_off_loopback_with_one_line(settings: Settings, host: str) -> None:
    completed = reprise(settings, "api", "--host", host, "--port", str(free_port()), AUTH="none")
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("reprise api: AUTH=none is allowed only on loopback"), lines


def test_a_settings_error_in_auth_names_the_variable(settings: Settings) -> None:
    completed = reprise(settings, "api", "--port", "0", AUTH="maybe")
    assert completed.returncode == 2 and "AUTH" in completed.stderr


def test_keys_create_refuses_an_unknown_scope(settings: Settings) -> None:
    completed = reprise(settings, "keys", "create", "--name", "x", "--scope", "root")
    assert completed.returncode == 2 and "invalid choice" in completed.stderr

