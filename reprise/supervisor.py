"""Supervision of child processes: their output prefixed with their names, their exits watched, a shutdown
request turned into SIGTERM, a grace period, then SIGKILL for the stragglers.

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
    """One supervised child process: the name used as its output prefix, its argv and environment."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]


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

    def __init__(self, spec: ChildSpec, process: asyncio.subprocess.Process, output: DevOutput) -> None:
        self.spec = spec
        self.process = process
        assert process.stdout is not None
        prefix = f"[{spec.name}] "
        self._pump = asyncio.create_task(
            pump_lines(process.stdout, lambda text: output.line(prefix + text)), name=f"output-{spec.name}"
        )

    @classmethod
    async def spawn(cls, spec: ChildSpec, output: DevOutput) -> Child:
        process = await asyncio.create_subprocess_exec(
            *spec.argv,
            env=dict(spec.env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        log.debug("child.started", child=spec.name, pid=process.pid)
        return cls(spec, process, output)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

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
    """Runs children until a shutdown request (exit code 0) or the first unexpected exit (exit code 1)."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        output: DevOutput,
        *,
        stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S,
        slow_start_s: float = 60.0,
    ) -> None:
        self._specs = specs
        self._output = output
        self._stop_timeout_s = stop_timeout_s
        self._slow_start_s = slow_start_s
        self._children: list[Child] = []

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
            await stop_children(self._children, shutdown, self._output, stop_timeout_s=self._stop_timeout_s)

    async def _watch(self, shutdown: ShutdownRequest, health_url: str | None, ready_lines: Sequence[str]) -> int:
        exits = {asyncio.create_task(child.wait(), name=f"exit-{child.name}"): child for child in self._children}
        stop_wait = asyncio.create_task(shutdown.requested.wait(), name="shutdown-request")
        pending: set[asyncio.Task[object]] = {*exits, stop_wait}
        if health_url is not None:
            pending.add(asyncio.create_task(self._announce_when_healthy(health_url, ready_lines), name="health"))
        try:
            while True:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if stop_wait in done:
                    self._output.say("stopping (Ctrl-C again to kill now)")
                    return 0
                crashed = [child for task, child in exits.items() if task in done]
                for child in crashed:
                    self._output.say(
                        f"{child.name} exited unexpectedly ({describe_exit(child.process.returncode or 0)});"
                        " stopping the others"
                    )
                if crashed:
                    return 1
                for task in done:
                    task.result()  # the health watcher finished: re-raise if it failed
        finally:
            for task in pending:
                task.cancel()

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
) -> int:
    """Run `specs` under a Supervisor with signal handling, outside `reprise dev` (tests, scripts)."""

    async def main() -> int:
        shutdown = ShutdownRequest()
        with handle_signals(shutdown):
            supervisor = Supervisor(specs, DevOutput(out), stop_timeout_s=stop_timeout_s)
            return await supervisor.run(shutdown, health_url=health_url, ready_lines=ready_lines)

    return asyncio.run(main())
