"""Live workers, as heartbeat keys with a TTL in Redis.

BullMQ's own worker list (CLIENT LIST, by connection name: ours carry the Node-style name, see
`jobs.queue.node_client_name`) knows no state, active runs or browser, and Python bullmq's `get_workers()`
matches only Python-style names, so each worker writes `reprise:<queue>:worker:<name>` = JSON every few
seconds with a TTL of three intervals; a worker that dies disappears by itself.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis

from jobs.keys import worker_key_prefix


@dataclass
class WorkerBeat:
    name: str
    concurrency: int
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    active_jobs: int = 0
    processed: int = 0
    failed: int = 0
    started_at: float = field(default_factory=time.time)
    last_heartbeat: float = 0.0
    state: str = "running"
    active_runs: list[str] = field(default_factory=list)
    browser: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {
            "name": data["name"],
            "pid": data["pid"],
            "host": data["host"],
            "concurrency": data["concurrency"],
            "activeJobs": data["active_jobs"],
            "processed": data["processed"],
            "failed": data["failed"],
            "startedAt": data["started_at"],
            "lastHeartbeat": data["last_heartbeat"],
            "state": data["state"],
            "activeRuns": data["active_runs"],
            "browser": data["browser"],
        }


class WorkerRegistry:
    def __init__(self, redis: Redis, queue_name: str) -> None:
        self._redis = redis
        self._prefix = worker_key_prefix(queue_name)

    async def beat(self, beat: WorkerBeat, ttl_seconds: float) -> None:
        beat.last_heartbeat = time.time()
        await self._redis.set(
            self._prefix + beat.name, json.dumps(beat.to_json()), px=max(1, int(ttl_seconds * 1000))
        )

    async def remove(self, name: str) -> None:
        await self._redis.delete(self._prefix + name)

    async def live_workers(self) -> list[dict[str, Any]]:
        keys = [key async for key in self._redis.scan_iter(match=self._prefix + "*", count=200)]
        if not keys:
            return []
        values = await self._redis.mget(keys)
        workers = [json.loads(value) for value in values if value is not None]
        return sorted(workers, key=lambda worker: str(worker.get("name")))
