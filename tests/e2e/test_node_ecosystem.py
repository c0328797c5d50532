"""Node's BullMQ tools see our Python workers and the jobs they ran (issue 17): npm bullmq's `Queue.getWorkers()`
and Bull Board find workers by the name of their Redis connections, `<prefix>:<base64(queue)>:w:<worker>`
(jobs.queue.node_client_name), which `reprise worker` gives its BullMQ Worker's connections."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from contract.settings import Settings
from jobs.keys import suites_queue, webhooks_queue
from jobs.queue import node_client_name

from flows import post_run, quick_script
from node_tools import run_node_async
from services import WorkerProcess, job_counts, wait_for, wait_for_final

REDIS_PORT_HEX = "18EB"  # 6379, as /proc/net/tcp writes ports


def node_env(settings: Settings) -> dict[str, str]:
    return {"REDIS_URL": settings.redis_url, "QUEUE_NAME": settings.queue_name}


def tcp_ports_to_redis(pid: int) -> set[int]:
    """The local ports of the process's TCP connections to port 6379 (its sockets' inodes looked up in
    /proc/<pid>/net/tcp*), which Redis's CLIENT LIST shows as each client's `addr`."""
    fd_dir = Path(f"/proc/{pid}/fd")
    inodes = set()
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and remote.endswith(f":{REDIS_PORT_HEX}"):
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


async def redis_clients_of(redis: Redis, pid: int) -> list[dict[str, Any]]:
    """CLIENT LIST's entries for the connections process `pid` holds."""
    ports = tcp_ports_to_redis(pid)
    return [client for client in await redis.client_list() if int(client["addr"].rsplit(":", 1)[1]) in ports]


async def wait_for_node_workers(settings: Settings, names: list[str], timeout: float) -> dict[str, Any]:
    """Node's answer (tests/node/queue-workers.mjs) once its `getWorkers()` names exactly these workers' connections
    (`rawname` = Node's `<prefix>:<base64(queue)>` + `:w:<name>`)."""
    latest: dict[str, Any] = {}

    async def listed() -> dict[str, Any] | None:
        latest.update(await run_node_async("queue-workers.mjs", node_env(settings)))
        expected = [f"{latest['clientName']}:w:{name}" for name in names]
        return dict(latest) if sorted(worker["rawname"] for worker in latest["workers"]) == expected else None

    try:
        return await wait_for(listed, timeout=timeout, interval=0.5, what=f"Node's Queue.getWorkers() to list {names}")
    except AssertionError as error:
        raise AssertionError(f"{error}; Node's last answer: {latest}") from None


@pytest.mark.slow
async def test_node_get_workers_lists_our_workers_by_name_until_they_stop(
    settings: Settings, start_worker: Callable[..., WorkerProcess],
) -> None:
    workers = [start_worker("worker-1"), start_worker("worker-2")]

    # One entry per connection, as for a Node worker: each worker's main and blocking connections.
    seen = await wait_for_node_workers(settings, ["worker-1", "worker-1", "worker-2", "worker-2"], timeout=60)
    assert {worker["name"] for worker in seen["workers"]} == {settings.queue_name}
    assert all(worker["addr"].startswith("127.0.0.1:") for worker in seen["workers"]), seen

    # Every connection the BullMQ Worker opened carries the name: its two clients (bullmq's Redis clients are
    # single-connection ones) and no connection of the process keeps Python bullmq's `bull:<queue>:w:<name>`.
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        for worker in workers:
            node_name = f"{seen['clientName']}:w:{worker.name}"

            async def named_and_blocking(pid: int = worker.process.pid,
                                         name: str = node_name) -> list[dict[str, Any]] | None:
                clients = await redis_clients_of(redis, pid)
                named = [client for client in clients if client["name"] == name]
                blocking = [client for client in named if client["cmd"] == "bzpopmin"]
                return clients if len(named) == 2 and len(blocking) == 1 else None

            clients = await wait_for(named_and_blocking, timeout=30, interval=0.2,
                                     what=f"{worker.name}'s main and blocking connections named {node_name}")
            # Its other consumers (suite results, webhook deliveries) carry their own queues' names likewise.
            expected = {node_client_name("bull", queue, worker.name)
                        for queue in (settings.queue_name, suites_queue(settings.queue_name),
                                      webhooks_queue(settings.queue_name))}
            assert node_name in expected
            assert {client["name"] for client in clients} - {""} <= expected, clients
    finally:
        await redis.aclose()

    assert workers[1].stop() == 0, workers[1].log()[-4000:]
    await wait_for_node_workers(settings, ["worker-1", "worker-1"], timeout=30)


@pytest.mark.slow
async def test_bull_board_shows_our_runs_jobs_and_our_worker(
    api_client: httpx.AsyncClient, settings: Settings, site_url: str, start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker("worker-1")
    run_ids = [await post_run(api_client, {"script": quick_script(site_url, f"board {i}"), "video": "off"})
               for i in range(2)]
    for run_id in run_ids:
        assert (await wait_for_final(api_client, run_id, timeout=90))["status"] == "passed"

    async def both_completed() -> dict[str, int] | None:
        counts = await job_counts(settings)
        return counts if counts["completed"] == 2 else None

    await wait_for(both_completed, timeout=30, what="both jobs in BullMQ's completed set")

    board = await run_node_async("bull-board.mjs", {**node_env(settings), "JOB_STATUS": "completed"})
    [queue] = board["queues"]
    assert queue["name"] == settings.queue_name
    assert (queue["counts"]["completed"], queue["counts"]["failed"], queue["counts"]["active"]) == (2, 0, 0)
    jobs = sorted(queue["jobs"], key=lambda job: job["id"])
    assert [job["id"] for job in jobs] == sorted(run_ids)
    for job in jobs:
        assert (job["name"], job["data"], job["isFailed"]) == ("run", {"runId": job["id"]}, False), job
        assert job["finishedOn"] >= job["processedOn"] > 0, job
    # The board's "no workers" warning is off, and its worker panel names ours (once per connection).
    assert queue["hasWorkers"] is True
    assert [worker["name"] for worker in board["workers"]] == ["worker-1", "worker-1"]
