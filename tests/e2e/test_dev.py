"""reprise.supervisor and reprise.dev: the supervisor run as a real process over stand-in children (small
`python -c` programs), driven with real signals; plus the pieces `reprise dev` builds its children from.

The end-to-end `reprise dev` test against the real API and workers lives elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from contract.settings import Settings
from reprise.dev import (
    DevOptions,
    base_url,
    build_child_specs,
    child_environment,
    handle,
    network_line,
    register,
    reprise_command,
)
from reprise.embedded import DEFAULT_STATE_DIR, ServiceUrls
from reprise.supervisor import RestartBackoff, describe_exit, pump_lines

from ports import free_port

# Runs `reprise.supervisor.supervise` over the children described by the JSON in argv[1].
DRIVER = """
import json, sys
from reprise.supervisor import ChildSpec, RestartBackoff, supervise
from reprise.logs import configure_logging

configure_logging("WARNING", "console")
config = json.loads(sys.argv[1])
specs = [ChildSpec(c["name"], tuple(c["argv"]), {**__import__("os").environ, "PYTHONUNBUFFERED": "1"},
                   restart=c.get("restart", False))
         for c in config["children"]]
sys.exit(supervise(specs, health_url=config["health_url"], ready_lines=config["ready_lines"],
                   stop_timeout_s=config["stop_timeout_s"], restart_backoff=RestartBackoff(**config["backoff"])))
"""

# Stops cleanly on SIGTERM; `stubborn` ignores it; SIGUSR1 makes it exit 3 (a crash on demand).
# `crash` exits 1 right after its greeting; `crash-once` too, but only the first time (it leaves the
# file named by argv[3] behind); `crash-later` exits 1 after argv[3] seconds.
CHILD = """
import os, signal, sys, time
name, mode = sys.argv[1], sys.argv[2]
def on_term(signum, frame):
    print(f"{name} got SIGTERM", flush=True)
    sys.exit(0)
def on_usr1(signum, frame):
    print(f"{name} crashing", flush=True)
    os._exit(3)
signal.signal(signal.SIGTERM, signal.SIG_IGN if mode == "stubborn" else on_term)
signal.signal(signal.SIGUSR1, on_usr1)
print(f"stderr line from {name}", file=sys.stderr, flush=True)
print(f"hello from {name} pid={os.getpid()}", flush=True)
if mode == "crash":
    sys.exit(1)
if mode == "crash-once" and not os.path.exists(sys.argv[3]):
    open(sys.argv[3], "w").close()
    sys.exit(1)
if mode == "crash-later":
    time.sleep(float(sys.argv[3]))
    sys.exit(1)
while True:
    signal.pause()
"""

# A stand-in API: answers 200 on /api/health, exits 0 on SIGTERM.
API = """
import http.server, os, signal, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
def on_term(signum, frame):
    print("api got SIGTERM", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
print(f"hello from api pid={os.getpid()}", flush=True)
server.serve_forever()
"""

PID_LINE = re.compile(r"^\[(?P<name>[\w-]+)\] hello from (?P=name) pid=(?P<pid>\d+)$")
RESTART_DELAY = re.compile(r"; (?:restarting it|trying again) in (?P<delay>[\d.]+) s \(restart (?P<number>\d+)\)$")


def child(name: str, mode: str = "polite", *args: str, restart: bool = False) -> dict[str, object]:
    return {"name": name, "argv": [sys.executable, "-c", CHILD, name, mode, *args], "restart": restart}


def announced_delays(lines: list[str]) -> list[float]:
    """The waits the supervisor announced before each restart, in order."""
    found = [(int(match["number"]), float(match["delay"])) for line in lines if (match := RESTART_DELAY.search(line))]
    assert [number for number, _ in found] == list(range(1, len(found) + 1))
    return [delay for _, delay in found]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Supervised:
    """A supervisor process under test and the output lines it has printed so far."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self.pids: dict[str, int] = {}

    async def _next_line(self) -> str | None:
        assert self.process.stdout is not None
        raw = await self.process.stdout.readline()
        if not raw:
            return None
        line = raw.decode().rstrip("\n")
        self.lines.append(line)
        if match := PID_LINE.match(line):
            self.pids[match["name"]] = int(match["pid"])
        return line

    async def wait_for_line(self, text: str, timeout_s: float = 20.0) -> str:
        """The first line (printed so far, or awaited) that contains `text`."""
        return (await self.wait_for_lines(text, 1, timeout_s))[0]

    async def wait_for_lines(self, text: str, count: int, timeout_s: float = 20.0) -> list[str]:
        """The first `count` lines (printed so far, or awaited) that contain `text`."""
        found = [seen for seen in self.lines if text in seen]
        async with asyncio.timeout(timeout_s):
            while len(found) < count:
                if (line := await self._next_line()) is None:
                    raise AssertionError(f"supervisor output ended before {count} x {text!r}: {self.lines}")
                if text in line:
                    found.append(line)
        return found[:count]

    async def exit_code(self, timeout_s: float = 20.0) -> int:
        async with asyncio.timeout(timeout_s):
            while await self._next_line() is not None:
                pass
            return await self.process.wait()


StartSupervisor = Callable[..., Awaitable[Supervised]]


@pytest.fixture
async def start_supervisor() -> AsyncIterator[StartSupervisor]:
    started: list[Supervised] = []

    async def start(
        children: list[dict[str, object]],
        *,
        health_url: str | None = None,
        ready_lines: tuple[str, ...] = (),
        stop_timeout_s: float = 20.0,
        backoff: RestartBackoff = RestartBackoff(),
    ) -> Supervised:
        config = {
            "children": children,
            "health_url": health_url,
            "ready_lines": list(ready_lines),
            "stop_timeout_s": stop_timeout_s,
            "backoff": dataclasses.asdict(backoff),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            DRIVER,
            json.dumps(config),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        started.append(Supervised(process))
        return started[-1]

    yield start
    # After a failed test: let the supervisor stop its children (they run in their own sessions and
    # would outlive a killed supervisor), and kill whatever is still left.
    for supervisor in started:
        if supervisor.process.returncode is None:
            supervisor.process.send_signal(signal.SIGTERM)
            try:
                await supervisor.exit_code(timeout_s=30.0)
            except TimeoutError:
                supervisor.process.kill()
                await supervisor.process.wait()
        for pid in supervisor.pids.values():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


async def test_prefixes_output_and_stops_every_child_on_sigint(start_supervisor: StartSupervisor) -> None:
    port = free_port()
    supervisor = await start_supervisor(
        [
            {"name": "api", "argv": [sys.executable, "-c", API, str(port)]},
            child("worker-1"),
            child("worker-2"),
        ],
        health_url=f"http://127.0.0.1:{port}/api/health",
        ready_lines=(f"Reprise is running at http://127.0.0.1:{port}",),
    )
    await supervisor.wait_for_line(f"Reprise is running at http://127.0.0.1:{port}")
    for name in ("worker-1", "worker-2"):
        await supervisor.wait_for_line(f"[{name}] hello from {name} pid=")
    assert "[worker-1] stderr line from worker-1" in supervisor.lines
    assert "[worker-2] stderr line from worker-2" in supervisor.lines

    supervisor.process.send_signal(signal.SIGINT)

    assert await supervisor.exit_code() == 0
    for name in ("api", "worker-1", "worker-2"):
        assert f"[{name}] {name} got SIGTERM" in supervisor.lines
    assert set(supervisor.pids) == {"api", "worker-1", "worker-2"}
    assert not [name for name, pid in supervisor.pids.items() if alive(pid)]
    own_lines = ("[dev] ", "Reprise is running at ")
    stray = [line for line in supervisor.lines if not line.startswith(("[api] ", "[worker-", *own_lines))]
    assert stray == []


async def test_sigterm_kills_a_child_that_ignores_it_after_the_grace_period(start_supervisor: StartSupervisor) -> None:
    supervisor = await start_supervisor([child("polite"), child("stubborn", "stubborn")], stop_timeout_s=1.0)
    await supervisor.wait_for_line("[polite] hello from polite pid=")
    await supervisor.wait_for_line("[stubborn] hello from stubborn pid=")

    supervisor.process.send_signal(signal.SIGTERM)

    assert await supervisor.exit_code() == 0
    assert "[polite] polite got SIGTERM" in supervisor.lines
    assert "[dev] stubborn did not stop in time; killing it" in supervisor.lines
    assert not alive(supervisor.pids["stubborn"])
    assert not alive(supervisor.pids["polite"])


async def test_a_dying_child_stops_the_others_and_exits_1(start_supervisor: StartSupervisor) -> None:
    supervisor = await start_supervisor([child("worker-1"), child("worker-2")])
    await supervisor.wait_for_line("[worker-1] hello from worker-1 pid=")
    await supervisor.wait_for_line("[worker-2] hello from worker-2 pid=")

    os.kill(supervisor.pids["worker-2"], signal.SIGUSR1)

    assert await supervisor.exit_code() == 1
    assert "[worker-2] worker-2 crashing" in supervisor.lines
    assert "[dev] worker-2 exited unexpectedly (exit code 3); stopping the others" in supervisor.lines
    assert "[worker-1] worker-1 got SIGTERM" in supervisor.lines
    assert not alive(supervisor.pids["worker-1"])


async def test_a_restartable_child_that_exits_is_restarted(start_supervisor: StartSupervisor, tmp_path: Path) -> None:
    supervisor = await start_supervisor(
        [child("worker-1", "crash-once", str(tmp_path / "crashed"), restart=True), child("worker-2", restart=True)],
        backoff=RestartBackoff(first_s=0.1),
    )
    await supervisor.wait_for_line("[worker-2] hello from worker-2 pid=")
    greetings = await supervisor.wait_for_lines("[worker-1] hello from worker-1 pid=", 2)
    assert greetings[0] != greetings[1]  # two processes
    assert "[dev] worker-1 exited unexpectedly (exit code 1); restarting it in 0.1 s (restart 1)" in supervisor.lines
    await supervisor.wait_for_line("[dev] worker-1 restarted")
    assert supervisor.process.returncode is None

    supervisor.process.send_signal(signal.SIGINT)

    assert await supervisor.exit_code() == 0
    assert "[worker-1] worker-1 got SIGTERM" in supervisor.lines
    assert "[worker-2] worker-2 got SIGTERM" in supervisor.lines
    assert announced_delays(supervisor.lines) == [0.1]
    assert not [name for name, pid in supervisor.pids.items() if alive(pid)]


async def test_restart_backoff_doubles_up_to_its_maximum(start_supervisor: StartSupervisor) -> None:
    supervisor = await start_supervisor(
        [child("worker-1", "crash", restart=True)], backoff=RestartBackoff(first_s=0.05, max_s=0.15)
    )
    await supervisor.wait_for_line("(restart 4)")

    supervisor.process.send_signal(signal.SIGINT)

    assert await supervisor.exit_code() == 0
    delays = announced_delays(supervisor.lines)
    assert delays[1] > delays[0]
    assert delays[:4] == [0.05, 0.1, 0.15, 0.15]


async def test_restart_backoff_starts_over_after_a_long_enough_run(start_supervisor: StartSupervisor) -> None:
    # Each run lasts at least 0.5 s as the supervisor measures it (from before the process is created until
    # its exit is seen), longer than reset_after_s: every restart waits first_s.
    supervisor = await start_supervisor(
        [child("worker-1", "crash-later", "0.5", restart=True)],
        backoff=RestartBackoff(first_s=0.05, reset_after_s=0.2),
    )
    await supervisor.wait_for_line("(restart 3)")

    supervisor.process.send_signal(signal.SIGINT)

    assert await supervisor.exit_code() == 0
    assert announced_delays(supervisor.lines)[:3] == [0.05, 0.05, 0.05]


async def test_a_failed_restart_is_tried_again_with_a_longer_wait(
    start_supervisor: StartSupervisor, tmp_path: Path
) -> None:
    script = tmp_path / "vanishing-worker"
    script.write_text(f"#!{sys.executable}\nimport os, sys\nprint('vanishing', flush=True)\nos.remove(sys.argv[0])\n")
    script.chmod(0o755)
    supervisor = await start_supervisor(
        [{"name": "worker-1", "argv": [str(script)], "restart": True}], backoff=RestartBackoff(first_s=0.05)
    )
    await supervisor.wait_for_line("[dev] could not restart worker-1: ")
    await supervisor.wait_for_line("(restart 2)")

    supervisor.process.send_signal(signal.SIGINT)

    assert await supervisor.exit_code() == 0
    assert supervisor.lines.count("[worker-1] vanishing") == 1
    assert announced_delays(supervisor.lines)[:2] == [0.05, 0.1]
    assert "[dev] worker-1 restarted" not in supervisor.lines


async def test_an_exit_of_a_child_not_restarted_stops_a_restartable_one(start_supervisor: StartSupervisor) -> None:
    supervisor = await start_supervisor([child("api"), child("worker-1", restart=True)])
    await supervisor.wait_for_line("[api] hello from api pid=")
    await supervisor.wait_for_line("[worker-1] hello from worker-1 pid=")

    os.kill(supervisor.pids["api"], signal.SIGUSR1)

    assert await supervisor.exit_code() == 1
    assert "[dev] api exited unexpectedly (exit code 3); stopping the others" in supervisor.lines
    assert "[worker-1] worker-1 got SIGTERM" in supervisor.lines
    assert announced_delays(supervisor.lines) == []
    assert not alive(supervisor.pids["worker-1"])


async def test_a_shutdown_during_a_restart_backoff_stops_at_once(start_supervisor: StartSupervisor) -> None:
    supervisor = await start_supervisor(
        [child("worker-1", "crash", restart=True), child("worker-2", restart=True)],
        backoff=RestartBackoff(first_s=30.0),
    )
    await supervisor.wait_for_line("[worker-2] hello from worker-2 pid=")
    crashed = "[dev] worker-1 exited unexpectedly (exit code 1); restarting it in 30 s (restart 1)"
    await supervisor.wait_for_line(crashed)

    supervisor.process.send_signal(signal.SIGINT)

    # Well before the 30 s backoff would have ended.
    assert await supervisor.exit_code(timeout_s=10.0) == 0
    assert "[dev] worker-1 restarted" not in supervisor.lines
    assert len([line for line in supervisor.lines if line.startswith("[worker-1] hello from worker-1")]) == 1
    assert "[worker-2] worker-2 got SIGTERM" in supervisor.lines
    assert not alive(supervisor.pids["worker-2"])


def test_restart_backoff_decisions() -> None:
    backoff = RestartBackoff()
    delays: list[float] = []
    previous = None
    for _ in range(7):
        previous = backoff.next_delay(previous, uptime_s=5.0)
        delays.append(previous)
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.next_delay(30, uptime_s=59.9) == 30
    assert backoff.next_delay(30, uptime_s=60.0) == 1


async def test_pump_lines_splits_chunks_and_flushes_the_unterminated_tail() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b"one\r\ntw")
    reader.feed_data(b"o\n\xffthree")
    reader.feed_eof()
    lines: list[str] = []
    await pump_lines(reader, lines.append)
    assert lines == ["one", "two", "\ufffdthree"]


def test_child_specs_run_the_api_and_named_workers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env from the working tree
    settings = Settings()
    options = DevOptions(host="127.0.0.1", port=8123, workers=2, state_dir=tmp_path)
    services = ServiceUrls("postgresql://postgres:@/reprise?host=/tmp/pg", "redis://127.0.0.1:7000/0")
    env = child_environment(settings, services, options, {"PATH": "/bin", "WORKER_NAME": "stale"})

    specs = build_child_specs(options, env)

    assert [spec.name for spec in specs] == ["api", "worker-1", "worker-2"]
    assert [spec.restart for spec in specs] == [False, True, True]
    assert specs[0].argv == reprise_command("api") == (sys.executable, "-m", "reprise.cli", "api")
    assert specs[1].argv == reprise_command("worker")
    assert "WORKER_NAME" not in specs[0].env
    assert [spec.env["WORKER_NAME"] for spec in specs[1:]] == ["worker-1", "worker-2"]
    for spec in specs:
        assert spec.env["DATABASE_URL"] == services.database_url
        assert spec.env["REDIS_URL"] == services.redis_url
        assert (spec.env["API_HOST"], spec.env["API_PORT"]) == ("127.0.0.1", "8123")
        assert spec.env["LOG_FORMAT"] == "console"
        assert spec.env["PATH"] == "/bin"


def test_each_dev_worker_gets_its_own_metrics_port(tmp_path: Path) -> None:
    options = DevOptions(host="127.0.0.1", port=8000, workers=3, state_dir=tmp_path)
    specs = build_child_specs(options, {"METRICS_PORT": "9101"})
    assert [spec.env["METRICS_PORT"] for spec in specs] == ["9101", "9101", "9102", "9103"]
    assert all("METRICS_PORT" not in spec.env for spec in build_child_specs(options, {}))


def test_child_log_format_follows_an_explicit_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    monkeypatch.chdir(tmp_path)
    options = DevOptions(host="127.0.0.1", port=8000, workers=0, state_dir=tmp_path)
    env = child_environment(Settings(), ServiceUrls("postgresql://x/y", "redis://x/0"), options, {})
    assert env["LOG_FORMAT"] == "json"
    assert [spec.name for spec in build_child_specs(options, env)] == ["api"]


def test_dev_opens_loopback_for_runs_and_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BROWSER_ALLOWED_NETWORKS", raising=False)
    options = DevOptions(host="127.0.0.1", port=8000, workers=1, state_dir=tmp_path)
    env = child_environment(Settings(), ServiceUrls("postgresql://x/y", "redis://x/0"), options, {})
    assert env["BROWSER_ALLOWED_NETWORKS"] == "127.0.0.0/8,::1/128"
    assert network_line(env) == ("Runs may reach public addresses and 127.0.0.0/8,::1/128 (BROWSER_ALLOWED_NETWORKS), "
                                 "never the API's, PostgreSQL's or Redis's ports")
    # The user's own choice wins.
    monkeypatch.setenv("BROWSER_ALLOWED_NETWORKS", "10.0.0.0/8")
    chosen = child_environment(Settings(), ServiceUrls("postgresql://x/y", "redis://x/0"), options,
                               {"BROWSER_ALLOWED_NETWORKS": "10.0.0.0/8"})
    assert chosen["BROWSER_ALLOWED_NETWORKS"] == "10.0.0.0/8"


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000"),
        ("0.0.0.0", "http://127.0.0.1:8000"),
        ("::", "http://[::1]:8000"),
        ("localhost", "http://localhost:8000"),
    ],
)
def test_base_url_reaches_wildcard_binds_through_loopback(host: str, url: str) -> None:
    assert base_url(host, 8000) == url


def test_describe_exit() -> None:
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"


def test_dev_command_line() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["dev", "--workers", "3", "--host", "0.0.0.0", "--port", "9000", "--state-dir", "s"])
    assert (args.workers, args.host, args.port, args.state_dir, args.handler) == (3, "0.0.0.0", 9000, Path("s"), handle)
    defaults = parser.parse_args(["dev"])
    assert (defaults.workers, defaults.host, defaults.port, defaults.state_dir) == (2, None, None, DEFAULT_STATE_DIR)
    for bad in (["--workers", "-1"], ["--port", "0"], ["--port", "70000"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["dev", *bad])
