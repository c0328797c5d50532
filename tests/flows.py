"""Recordings and log readers shared by the tests that run real workers."""

from __future__ import annotations

import json
from typing import Any

import httpx

from processes import tagged_processes
from services import WorkerProcess, wait_for

# Stalled jobs come back in seconds instead of the production 30 s.
FAST_STALLS = {"WORKER_LOCK_DURATION_MS": "4000", "WORKER_STALLED_INTERVAL_MS": "2000"}


def slow_recording(site_url: str, seconds: float) -> dict[str, Any]:
    """A flow that takes about `seconds` in the page: enough to catch it mid-run."""
    return {
        "title": f"slow {seconds}s",
        "timeout": int(seconds * 1000) + 10_000,
        "steps": [
            {"type": "navigate", "url": f"{site_url}/index.html"},
            {"type": "waitForExpression", "expression": f"performance.now() > {int(seconds * 1000)}"},
            {"type": "change", "value": "Ada", "selectors": [["#name"]]},
        ],
    }


def log_events(worker: WorkerProcess) -> list[dict[str, Any]]:
    events = []
    for line in worker.log().splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    return events


def quick_script(site_url: str, name: str) -> dict[str, Any]:
    return {
        "version": 1,
        "name": name,
        "steps": [
            {"action": "navigate", "url": f"{site_url}/index.html"},
            {"action": "fill", "selector": "#name", "value": "Ada"},
            {"action": "assertValue", "selector": "#name", "value": "Ada"},
        ],
    }


def numbered_slow_script(site_url: str, seconds: float) -> dict[str, Any]:
    """Native steps: load, wait `seconds`, then two steps whose effect (or absence) can be seen."""
    return {
        "version": 1,
        "name": f"slow {seconds}s",
        "steps": [
            {"action": "navigate", "url": f"{site_url}/index.html"},
            {"action": "wait", "ms": int(seconds * 1000)},
            {"action": "fill", "selector": "#name", "value": "Ada"},
            {"action": "assertValue", "selector": "#name", "value": "Ada"},
        ],
    }


async def get_run(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/runs/{run_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_until_running(
    client: httpx.AsyncClient, run_ids: list[str], timeout: float = 60
) -> list[dict[str, Any]]:
    async def running() -> list[dict[str, Any]] | None:
        runs = [await get_run(client, run_id) for run_id in run_ids]
        return runs if all(run["status"] == "running" for run in runs) else None

    return await wait_for(running, timeout=timeout, interval=0.1, what=f"{len(run_ids)} runs to be running")


async def post_run(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await client.post("/api/runs", json=body)
    assert response.status_code == 201, response.text
    run_id: str = response.json()["id"]
    return run_id


async def no_tagged_processes(tag: str, timeout: float = 30) -> None:
    async def gone() -> bool:
        return not tagged_processes(tag)

    try:
        await wait_for(gone, timeout=timeout, interval=0.2, what="the workers' processes to exit")
    except AssertionError as error:
        left = "\n".join(f"{proc.pid} {proc.state} {proc.cmdline[:150]}" for proc in tagged_processes(tag))
        raise AssertionError(f"processes left behind:\n{left}") from error
