"""Node's BullMQ ecosystem from the tests: run an ES module of tests/node (npm bullmq, ioredis, Bull Board,
pinned in tests/node/package-lock.json and installed by scripts/setup-node.sh) and read what it printed.

    workers = run_node("queue-workers.mjs", {"REDIS_URL": settings.redis_url, "QUEUE_NAME": settings.queue_name})

A script prints one JSON document as its last stdout line (tests/node/env.mjs `printResult`) and exits 0.
`tests/node/env.mjs` reads REDIS_URL and QUEUE_NAME; anything else a script needs is another variable.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).resolve().parent / "node"
SETUP_NODE = NODE_DIR.parent.parent / "scripts" / "setup-node.sh"


def run_node(script: str, env: dict[str, str], timeout: float = 60) -> Any:
    """Run `script` with node in tests/node and return the JSON of its last stdout line.

    `script` is a file name in tests/node (`"queue-workers.mjs"`) or the source of an ES module, which may import
    `bullmq`, `ioredis`, `@bull-board/api` and `./env.mjs` as a file there would. `env` is added to this
    process's environment. Fails the test (AssertionError, with the script's stderr) when the script exits
    non-zero, prints no JSON, or is still running after `timeout` seconds (it is killed then).
    """
    node = shutil.which("node")
    assert node is not None, "node is needed for the Node ecosystem tests (Node 20 or newer)"
    assert (NODE_DIR / "node_modules" / "bullmq").is_dir(), f"tests/node is not installed: run {SETUP_NODE}"
    is_file = script.endswith(".mjs") and "\n" not in script
    command = [node, str(NODE_DIR / script)] if is_file else [node, "--input-type=module", "-e", script]
    name = script if is_file else "<inline module>"
    try:
        done = subprocess.run(command, cwd=NODE_DIR, env={**os.environ, **env}, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"node {name} still running after {timeout}s; stderr:\n{_text(error.stderr)}") from error
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, (
        f"node {name} exited {done.returncode}; stderr:\n{done.stderr[-4000:]}\nstdout:\n{done.stdout[-2000:]}")
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError as error:
        raise AssertionError(f"node {name} printed no JSON last: {lines[-1][:2000]!r}; stderr:\n"
                             f"{done.stderr[-4000:]}") from error


async def run_node_async(script: str, env: dict[str, str], timeout: float = 60) -> Any:
    """`run_node` in a thread, for async tests: the event loop (an in-process API, say) goes on meanwhile."""
    return await asyncio.to_thread(run_node, script, env, timeout)


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")[-4000:]
    return (output or "")[-4000:]
