"""Processes on this machine, found by an environment tag: a test gives each worker process it starts
`REPRISE_TEST_TAG=<unique>`, which Chromium and the Playwright driver inherit, so the test can find them
(and prove none is left behind) without touching other tests' browsers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TAG_VARIABLE = "REPRISE_TEST_TAG"


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str
    cmdline: str

    @property
    def is_chromium_browser(self) -> bool:
        """Chromium's main (browser) process: the one without `--type=` (renderer, gpu, zygote, utility)."""
        executable = self.cmdline.split(" ", 1)[0].rsplit("/", 1)[-1]
        return executable in ("chromium", "chrome") and "--type=" not in self.cmdline


def _read(pid: str) -> Proc | None:
    base = Path("/proc") / pid
    try:
        stat = (base / "stat").read_text()
        cmdline = (base / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces) in parentheses.
    state, ppid = stat.rsplit(")", 1)[1].split()[:2]
    return Proc(pid=int(pid), ppid=int(ppid), state=state, cmdline=cmdline)


def tagged_processes(tag: str) -> list[Proc]:
    """Live processes carrying TAG_VARIABLE=tag, plus zombies whose parent carries it (a zombie's own
    environment can no longer be read)."""
    needle = f"{TAG_VARIABLE}={tag}".encode()
    tagged: list[Proc] = []
    zombies: list[Proc] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            environ = b""
        proc = _read(entry.name)
        if proc is None:
            continue
        if needle in environ.split(b"\0"):
            tagged.append(proc)
        elif proc.state == "Z":
            zombies.append(proc)
    parents = {proc.pid for proc in tagged}
    return tagged + [zombie for zombie in zombies if zombie.ppid in parents]


def chromium_browsers(tag: str) -> list[Proc]:
    return [proc for proc in tagged_processes(tag) if proc.is_chromium_browser and proc.state != "Z"]
