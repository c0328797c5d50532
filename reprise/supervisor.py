"""Supervision of child processes: their output prefixed with their names, their exits watched, a shutdown
request turned into SIGTERM, a grace period, then SIGKILL for the stragglers.

A child that exits while no shutdown was requested either stops the others (exit code 1) or, if its
`ChildSpec` says `restart`, is started again after a backoff (`RestartBackoff`: 1 s, doubling up to 30 s,
back to 1 s once it has stayed up 60 s). A shutdown request during a backoff cancels the restart.

Used by `reprise dev` (see `reprise.dev`) and by tests and scripts through `supervise`. Children run in
their own sessions, so a Ctrl-C in the terminal reaches only the supervisor, which then stops them in
order instead of every process racing to die at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

import httpx
import structlog

log = structlog.get_logger(__name__)

DEFAULT_STOP_TIMEOUT_S = 30.0
# Child output is read in chunks; a line longer than MAX_LINE is passed on in pieces, so a child writing
# without newlines cannot grow the supervisor's memory.
READ_CHUNK = 64 * 1024
MAX_LINE = 1024 * 1024


@dataclass(frozen=True)
class ChildSpec:
    """One supervised child process: the name used as its output prefix, its argv and environment, and
    whether it is started again when it exits on its own (otherwise its exit stops the others)."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    restart: bool = False


@dataclass(frozen=True)
class RestartBackoff:
    """The wait before restarting a child: `first_s`, doubled at each restart up to `max_s`, and `first_s`
    again once the child had stayed up `reset_after_s`."""

    first_s: float = 1.0
    max_s: float = 30.0
    reset_after_s: float = 60.0

    def next_delay(self, previous_s: float | None, uptime_s: float) -> float:
        """The wait before the next restart, given the previous wait (None: never restarted yet) and how long
        the child ran this time."""
        if previous_s is None or uptime_s >= self.reset_after_s:
            return self.first_s
        return min(previous_s * 2, self.max_s)


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class DevOutput:
    """The terminal output of `reprise dev`: children's prefixed lines and the supervisor's own."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def line(self, text: str) -> None:
        try:
            self._stream.write(text + "\n")
            self._stream.flush()
        except (BrokenPipeError, ValueError):
            # The terminal or pipe went away; keep draining children so they never block on writes.
            pass

    def say(self, text: str) -> None:
        self.line(f"[dev] {text}")


class ShutdownRequest:
    """Set by signal handlers: the first request stops gracefully, a second one forces a kill."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.forced = asyncio.Event()

    def request(self) -> None:
        if self.requested.is_set():
            self.forced.set()
        self.requested.set()


@contextlib.contextmanager
def handle_signals(
    shutdown: ShutdownRequest,
    signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP),
) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, shutdown.request)
    try:
        yield
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def pump_lines(reader: asyncio.StreamReader, emit: Callable[[str], None]) -> None:
    """Pass every line read from `reader` to `emit`, as it arrives."""
    pending = b""
    while chunk := await reader.read(READ_CHUNK):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            emit(line.decode(errors="replace").rstrip("\r"))
        if len(pending) > MAX_LINE:
            emit(pending.decode(errors="replace"))
            pending = b""
    if pending:
        emit(pending.decode(errors="replace").rstrip("\r"))


class Child:
    """A running child process whose merged stdout/stderr is copied, prefixed, to the output."""

    def __init__(
        self, spec: ChildSpec, process: asyncio.subprocess.Process, output: DevOutput, *, started_at: float
    ) -> None:
        self.spec = spec
        self.process = process
        self.started_at = started_at  # time.monotonic() just before the process was created
        assert process.stdout is not None
        prefix = f"[{spec.name}] "
        self._pump = asyncio.create_task(
            pump_lines(process.stdout, lambda text: output.line(prefix + text)), name=f"output-{spec.name}"
        )

    @classmethod
    async def spawn(cls, spec: ChildSpec, output: DevOutput) -> Child:
        started_at = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            *spec.argv,
            env=dict(spec.env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        log.debug("child.started", child=spec.name, pid=process.pid)
        return cls(spec, process, output, started_at=started_at)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    @property
    def output_done(self) -> bool:
        return self._pump.done()

    async def wait(self) -> int:
        return await self.process.wait()

    def terminate(self) -> None:
        # Only the child itself: it stops its own children (a worker drains jobs, closes its browser).
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        # The whole process group, so a browser or other grandchild does not outlive a killed child.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    async def drain_output(self, timeout_s: float) -> None:
        """Wait for the last output; a grandchild holding the pipe open must not block the exit."""
        done, _ = await asyncio.wait({self._pump}, timeout=timeout_s)
        if not done:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump


async def stop_children(
    children: Sequence[Child], shutdown: ShutdownRequest, output: DevOutput, *, stop_timeout_s: float
) -> None:
    """SIGTERM every running child, wait up to `stop_timeout_s` (or a forced request), SIGKILL the rest."""
    running = [child for child in children if child.returncode is None]
    for child in running:
        child.terminate()
    if running:
        all_exited = asyncio.create_task(_wait_all(running), name="children-exit")
        forced = asyncio.create_task(shutdown.forced.wait(), name="forced-shutdown")
        await asyncio.wait({all_exited, forced}, timeout=stop_timeout_s, return_when=asyncio.FIRST_COMPLETED)
        forced.cancel()
        for child in running:
            if child.returncode is None:
                output.say(f"{child.name} did not stop in time; killing it")
                child.kill()
        await all_exited
    for child in children:
        await child.drain_output(timeout_s=5.0)


async def _wait_all(children: Sequence[Child]) -> None:
    await asyncio.gather(*(child.wait() for child in children))


async def wait_until_healthy(url: str, *, interval_s: float = 0.25, request_timeout_s: float = 2.0) -> None:
    """Return once `GET url` answers 200."""
    # trust_env=False: a proxy configured for the outside world must not intercept a loopback check.
    async with httpx.AsyncClient(timeout=request_timeout_s, trust_env=False) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(interval_s)


class Supervisor:
    """Runs children until a shutdown request (exit code 0) or the unexpected exit of a child that is not
    restarted (exit code 1); a restartable child that exits is started again after a backoff."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        output: DevOutput,
        *,
        stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S,
        slow_start_s: float = 60.0,
        restart_backoff: RestartBackoff = RestartBackoff(),
    ) -> None:
        self._specs = specs
        self._output = output
        self._stop_timeout_s = stop_timeout_s
        self._slow_start_s = slow_start_s
        self._restart_backoff = restart_backoff
        self._children: list[Child] = []  # the latest process of each spec
        self._replaced: list[Child] = []  # earlier processes whose last output may still be arriving
        self._restart_delays: dict[str, float] = {}
        self._restart_counts: dict[str, int] = {}

    async def run(
        self, shutdown: ShutdownRequest, *, health_url: str | None = None, ready_lines: Sequence[str] = ()
    ) -> int:
        if shutdown.requested.is_set():
            return 0
        try:
            for spec in self._specs:
                try:
                    self._children.append(await Child.spawn(spec, self._output))
                except OSError as exc:
                    self._output.say(f"could not start {spec.name}: {exc}")
                    return 1
            return await self._watch(shutdown, health_url, ready_lines)
        finally:
            await stop_children(
                [*self._replaced, *self._children], shutdown, self._output, stop_timeout_s=self._stop_timeout_s
            )

    async def _watch(self, shutdown: ShutdownRequest, health_url: str | None, ready_lines: Sequence[str]) -> int:
        exits = {self._exit_task(child): child for child in self._children}
        restarts: dict[asyncio.Task[None], Child] = {}  # the wait before a restart -> the child to replace
        stop_wait = asyncio.create_task(shutdown.requested.wait(), name="shutdown-request")
        pending: set[asyncio.Task[object]] = {*exits, stop_wait}
        health: asyncio.Task[None] | None = None
        if health_url is not None:
            health = asyncio.create_task(self._announce_when_healthy(health_url, ready_lines), name="health")
            pending.add(health)
        try:
            while True:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if stop_wait in done:
                    self._output.say("stopping (Ctrl-C again to kill now)")
                    return 0
                exited = {child: task.result() for task, child in exits.items() if task in done}
                exits = {task: child for task, child in exits.items() if task not in done}
                if any(not child.spec.restart for child in exited):
                    for child, returncode in exited.items():
                        self._output.say(
                            f"{child.name} exited unexpectedly ({describe_exit(returncode)}); stopping the others"
                        )
                    return 1
                for child, returncode in exited.items():
                    wait, when = self._wait_to_restart(child.name, uptime_s=time.monotonic() - child.started_at)
                    self._output.say(
                        f"{child.name} exited unexpectedly ({describe_exit(returncode)}); restarting it {when}"
                    )
                    restarts[wait] = child
                    pending.add(wait)
                due = [old for task, old in restarts.items() if task in done]
                restarts = {task: old for task, old in restarts.items() if task not in done}
                for old in due:
                    try:
                        new = await Child.spawn(old.spec, self._output)
                    except OSError as exc:
                        wait, when = self._wait_to_restart(old.name, uptime_s=0.0)
                        self._output.say(f"could not restart {old.name}: {exc}; trying again {when}")
                        restarts[wait] = old
                        pending.add(wait)
                        continue
                    self._replace(old, new)
                    exit_task = self._exit_task(new)
                    exits[exit_task] = new
                    pending.add(exit_task)
                    self._output.say(f"{new.name} restarted")
                if health is not None and health in done:
                    health.result()  # the health watcher finished: re-raise if it failed
        finally:
            for task in pending:
                task.cancel()

    @staticmethod
    def _exit_task(child: Child) -> asyncio.Task[int]:
        return asyncio.create_task(child.wait(), name=f"exit-{child.name}")

    def _wait_to_restart(self, name: str, *, uptime_s: float) -> tuple[asyncio.Task[None], str]:
        """The backoff before the next restart of `name` as a task, and how to announce it."""
        delay_s = self._restart_backoff.next_delay(self._restart_delays.get(name), uptime_s)
        self._restart_delays[name] = delay_s
        self._restart_counts[name] = count = self._restart_counts.get(name, 0) + 1
        wait = asyncio.create_task(asyncio.sleep(delay_s), name=f"restart-{name}")
        return wait, f"in {delay_s:g} s (restart {count})"

    def _replace(self, old: Child, new: Child) -> None:
        self._children[self._children.index(old)] = new
        self._replaced = [child for child in self._replaced if not child.output_done]
        self._replaced.append(old)

    async def _announce_when_healthy(self, url: str, ready_lines: Sequence[str]) -> None:
        healthy = asyncio.create_task(wait_until_healthy(url), name="health-poll")
        try:
            done, _ = await asyncio.wait({healthy}, timeout=self._slow_start_s)
            if not done:
                self._output.say(f"still waiting for {url} to answer")
            await healthy
        finally:
            healthy.cancel()
        for text in ready_lines:
            self._output.line(text)


async def run_to_completion(
    spec: ChildSpec, output: DevOutput, shutdown: ShutdownRequest, *, stop_timeout_s: float
) -> int | None:
    """Run one child (such as `reprise migrate`) to its end; None if a shutdown request stopped it."""
    child = await Child.spawn(spec, output)
    exit_wait = asyncio.create_task(child.wait(), name=f"exit-{spec.name}")
    stop_wait = asyncio.create_task(shutdown.requested.wait(), name="shutdown-request")
    try:
        await asyncio.wait({exit_wait, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_wait.cancel()
    if not exit_wait.done():
        exit_wait.cancel()
        await stop_children([child], shutdown, output, stop_timeout_s=stop_timeout_s)
        return None
    await child.drain_output(timeout_s=5.0)
    return exit_wait.result()


def supervise(
    specs: Sequence[ChildSpec],
    *,
    out: TextIO = sys.stdout,
    health_url: str | None = None,
    ready_lines: Sequence[str] = (),
    stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S,
    restart_backoff: RestartBackoff = RestartBackoff(),
) -> int:
    """Run `specs` under a Supervisor with signal handling, outside `reprise dev` (tests, scripts)."""

    async def main() -> int:
        shutdown = ShutdownRequest()
        with handle_signals(shutdown):
            supervisor = Supervisor(
                specs, DevOutput(out), stop_timeout_s=stop_timeout_s, restart_backoff=restart_backoff
            )
            return await supervisor.run(shutdown, health_url=health_url, ready_lines=ready_lines)

    return asyncio.run(main())
