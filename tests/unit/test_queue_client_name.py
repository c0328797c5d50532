"""The Redis client name of our BullMQ workers, as npm bullmq 6.7.0 builds it (`Queue.clientName`); the
expected names were printed by Node's `new Queue(name, {prefix}).clientName(':w:worker-1')`."""

from __future__ import annotations

import pytest

from jobs.queue import node_client_name


@pytest.mark.parametrize(
    ("prefix", "queue_name", "worker_name", "expected"),
    [
        ("bull", "test-runs", "worker-1", "bull:dGVzdC1ydW5z:w:worker-1"),
        # UTF-8 before base64, padding kept: Node's Buffer.from(name).toString('base64').
        ("bull", "runs-é", "worker-1", "bull:cnVucy3DqQ==:w:worker-1"),
        ("acme", "ab", "worker-1", "acme:YWI=:w:worker-1"),
        # An unnamed worker: what Node's getWorkers() matches exactly.
        ("bull", "test-runs", None, "bull:dGVzdC1ydW5z"),
        ("bull", "test-runs", "", "bull:dGVzdC1ydW5z"),
    ],
)
def test_node_client_name_is_the_one_npm_bullmq_looks_for(
    prefix: str, queue_name: str, worker_name: str | None, expected: str
) -> None:
    assert node_client_name(prefix, queue_name, worker_name) == expected

