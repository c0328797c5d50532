"""Reading recorded media in tests: durations, decoded pixels (ffmpeg), and traces opened in Playwright's viewer."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright._impl._driver import compute_driver_executable

Box = tuple[int, int, int, int]  # x, y, width, height in pixels


def video_seconds(path: Path) -> float:
    """The video's duration as ffprobe reads it: proof the file is a playable video."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )
    return float(probe.stdout.strip())


@dataclass(frozen=True)
class Picture:
    """One decoded image (a screenshot or a video frame) as 8-bit RGB."""

    width: int
    height: int
    rgb: bytes

    def pixels(self, box: Box) -> list[tuple[int, int, int]]:
        x, y, width, height = box
        assert 0 <= x and 0 <= y and x + width <= self.width and y + height <= self.height, (box, self.width)
        found: list[tuple[int, int, int]] = []
        for row in range(y, y + height):
            start = (row * self.width + x) * 3
            line = self.rgb[start:start + width * 3]
            found.extend(zip(line[0::3], line[1::3], line[2::3], strict=True))
        return found


def _size(path: Path) -> tuple[int, int]:
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
         "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True, timeout=30)
    width, height = probe.stdout.strip().split(",")[:2]
    return int(width), int(height)


def decode(path: Path, *, fps: float | None = None) -> list[Picture]:
    """Every frame of a video sampled at `fps` (ffmpeg's `-vf fps=N`, as one extracts frames to look at them), or
    the one image of a PNG, decoded by ffmpeg."""
    width, height = _size(path)
    filters = ["-vf", f"fps={fps}"] if fps is not None else []
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), *filters, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True, timeout=120).stdout
    size = width * height * 3
    assert decoded and len(decoded) % size == 0, (len(decoded), size)
    return [Picture(width, height, decoded[start:start + size]) for start in range(0, len(decoded), size)]


def differing(first: list[tuple[int, int, int]], second: list[tuple[int, int, int]], *, tolerance: int = 48) -> float:
    """The share of pixels (0..1) whose colour differs by more than `tolerance` in some channel."""
    assert len(first) == len(second) and first
    changed = sum(1 for a, b in zip(first, second, strict=True) if max(abs(p - q) for p, q in zip(a, b, strict=True))
                  > tolerance)
    return changed / len(first)


def ink(pixels: list[tuple[int, int, int]]) -> float:
    """The share of dark pixels (text on a light field)."""
    return sum(1 for r, g, b in pixels if r + g + b < 3 * 110) / len(pixels)


def painted(pixels: list[tuple[int, int, int]]) -> float:
    """The share of pixels in the mask colour (#FF00FF), with the slack a video codec needs."""
    return sum(1 for r, g, b in pixels if r > 180 and g < 90 and b > 180) / len(pixels)


@asynccontextmanager
async def trace_viewer(trace: Path) -> AsyncIterator[str]:
    """Playwright's own trace viewer (`playwright show-trace`, the driver the runner uses) serving `trace`; yields the
    URL that opens the viewer on it. Run as Playwright's tests run it (PWTEST_UNDER_TEST: no system browser)."""
    node, cli = compute_driver_executable()  # as `playwright show-trace`, but the server itself (stopped with it)
    process = await asyncio.create_subprocess_exec(
        node, cli, "show-trace", "--host", "127.0.0.1", "--port", "0", str(trace),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PWTEST_UNDER_TEST": "1"})
    try:
        assert process.stdout is not None
        async with asyncio.timeout(60):
            while True:
                line = (await process.stdout.readline()).decode()
                assert line, "show-trace exited before it listened"
                listening = re.search(r"Listening on (\S+)", line)
                if listening:
                    break
        yield listening.group(1)
    finally:
        if process.returncode is None:
            process.terminate()
        async with asyncio.timeout(30):
            await process.wait()
