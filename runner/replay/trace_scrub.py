"""Secret values scrubbed out of a Playwright trace archive (`trace.zip`) after it is written, before it is kept.

A trace holds what a run did and saw: the actions and their parameters (`trace.trace`: a `fill`'s value, a typed
text), the DOM snapshots (an input's value is serialized as its `__playwright_value_` attribute), the network log
(`trace.network`: URLs, headers, posted forms) and the bodies and images they refer to (`resources/*`,
`screencast/*`). Each secret value becomes `***` in every file, in each spelling a file may hold it: as is,
JSON-escaped, URL-encoded (`%20` and `+`), HTML-escaped (in text and in attributes), and base64 (at each of the
three byte alignments, so a value inside a larger encoded body is found too).

- JSON-lines files (`*.trace`, `*.network`) are read line by line; a line holding a value is parsed, every string
  in it (keys too) rewritten, and written back as JSON, so the viewer still reads it.
- Other text files (HTML, CSS, JSON bodies, `*.stacks`) have the spellings replaced.
- A binary file (an image, a font, a compressed body) that holds a value's bytes (UTF-8 or UTF-16) cannot be
  rewritten without breaking it: it is dropped, and the viewer shows that one resource as missing.
- Last, every kept file is searched again; one that still holds a spelling (it cannot happen for the files
  Playwright writes, but the archive is not trusted to be only those) is dropped too.

Screencast frames and screenshots are pixels, not text: the fields a secret is typed into are masked before the
value is typed (`runner.replay.concealment`), so no frame shows it.
"""

from __future__ import annotations

import base64
import html
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.formats.variables import MASK, SecretMasker

_JSON_LINES = (".trace", ".network")
_MIN_BASE64 = 8  # shorter base64 runs match by chance


@dataclass
class ScrubReport:
    """What scrubbing one archive did: the files rewritten and the files dropped (by name, secrets masked)."""

    rewritten: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def _base64_cores(value: str) -> set[str]:
    """The base64 characters that depend on the value's bytes alone, for each alignment of the value in a body."""
    data = value.encode()
    cores = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data).decode()
        whole = (shift + len(data)) // 3 * 4  # complete groups only: the last one depends on what follows
        core = encoded[4 if shift else 0:whole]
        if len(core) >= _MIN_BASE64:
            cores.add(core)
    return cores


class _Needles:
    """The spellings to replace in text, and the byte sequences that make a binary file unsafe to keep."""

    def __init__(self, masker: SecretMasker) -> None:
        spellings = set(masker.spellings)
        for value in masker.values:
            # As HTML serializes it: in text (& < >), in an attribute (& "), or both.
            spellings.update({html.escape(value), html.escape(value, quote=False),
                              value.replace("&", "&amp;").replace('"', "&quot;")})
            spellings.update(_base64_cores(value))
        self.text = sorted(spellings, key=len, reverse=True)
        self.binary = {spelling.encode() for spelling in spellings}
        self.binary.update(value.encode("utf-16-le") for value in masker.values)

    def replace(self, text: str) -> str:
        for spelling in self.text:
            text = text.replace(spelling, MASK)
        return text

    def in_text(self, text: str) -> bool:
        return any(spelling in text for spelling in self.text)

    def in_bytes(self, data: bytes) -> bool:
        return any(needle in data for needle in self.binary)


def _scrub_json(value: Any, needles: _Needles) -> Any:
    if isinstance(value, str):
        return needles.replace(value)
    if isinstance(value, list):
        return [_scrub_json(item, needles) for item in value]
    if isinstance(value, dict):
        return {needles.replace(key): _scrub_json(item, needles) for key, item in value.items()}
    return value


def _scrub_json_lines(text: str, needles: _Needles) -> str:
    lines = []
    for line in text.split("\n"):
        if needles.in_text(line):
            try:
                line = json.dumps(_scrub_json(json.loads(line), needles), ensure_ascii=False, separators=(",", ":"))
            except ValueError:
                line = needles.replace(line)
        lines.append(line)
    return "\n".join(lines)


def _scrubbed(name: str, data: bytes, needles: _Needles) -> bytes | None:
    """The file's bytes without the secrets, or None when it cannot be kept."""
    if needles.in_text(name):
        return None
    if not needles.in_bytes(data):
        return data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None  # binary: rewriting bytes inside it would corrupt it
    if "\x00" in text:
        return None
    scrubbed = _scrub_json_lines(text, needles) if name.endswith(_JSON_LINES) else needles.replace(text)
    result = scrubbed.encode("utf-8")
    return None if needles.in_bytes(result) else result


def scrub_trace(path: Path, masker: SecretMasker) -> ScrubReport:
    """Rewrite the archive at `path` in place without any of the masker's secret values (see the module
    docstring); zipfile.BadZipFile when it is not a zip archive (the caller deletes it then)."""
    report = ScrubReport()
    if not masker:
        return report
    needles = _Needles(masker)
    temporary = path.with_name(path.name + ".scrubbing")
    try:
        with zipfile.ZipFile(path) as source, \
                zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                if info.is_dir():
                    continue
                data = source.read(info)
                scrubbed = _scrubbed(info.filename, data, needles)
                if scrubbed is None:
                    report.dropped.append(needles.replace(info.filename))  # names are logged
                    continue
                if scrubbed is not data:
                    report.rewritten.append(info.filename)
                target.writestr(info.filename, scrubbed)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return report

