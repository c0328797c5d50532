"""Scrubbing secret values out of a trace archive (runner/replay/trace_scrub.py), on archives built here."""

from __future__ import annotations

import base64
import json
import zipfile
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from runner.formats.variables import SecretMasker
from runner.replay.trace_scrub import scrub_trace

SECRET = 'pa ss/wörd+&<"x>'


def archive(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name, data in files.items():
            target.writestr(name, data)
    return path


def read(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as source:
        assert source.testzip() is None
        return {name: source.read(name) for name in source.namelist()}


def lines(*events: dict[str, object]) -> bytes:
    return "\n".join(json.dumps(event, ensure_ascii=False) for event in events).encode() + b"\n"


def test_every_spelling_is_scrubbed_and_json_lines_stay_json(tmp_path: Path) -> None:
    body = json.dumps({"token": SECRET, "note": "kept"}).encode()
    path = archive(tmp_path / "trace.zip", {
        "trace.trace": lines({"type": "before", "params": {"value": SECRET}},
                             {"type": "frame-snapshot", "html": ["INPUT", {"__playwright_value_": SECRET}]},
                             {"type": "after", "note": "untouched"}),
        "trace.network": lines({"request": {"url": "http://x/?t=" + quote(SECRET, safe=""),
                                            "postData": {"text": "t=" + quote_plus(SECRET)},
                                            "headers": [{"name": "Authorization", "value":
                                                         "Basic " + base64.b64encode(b"ada:" + SECRET.encode())
                                                         .decode()}]}}),
        "resources/body.json": body,
        "resources/page.html": f'<input value="{SECRET.replace("&", "&amp;").replace(chr(34), "&quot;")}">'.encode(),
        "trace.stacks": b'{"files":[]}',
    })

    report = scrub_trace(path, SecretMasker([SECRET]))

    files = read(path)
    assert report.dropped == [] and sorted(report.rewritten) == ["resources/body.json", "resources/page.html",
                                                                 "trace.network", "trace.trace"]
    spellings = [SECRET, json.dumps(SECRET)[1:-1], json.dumps(SECRET, ensure_ascii=False)[1:-1],
                 quote(SECRET, safe=""), quote_plus(SECRET), SECRET.replace("&", "&amp;").replace('"', "&quot;")]
    for name, data in files.items():
        text = data.decode()
        assert not any(spelling in text for spelling in spellings), name
    events = [json.loads(line) for line in files["trace.trace"].decode().splitlines()]
    assert events[0]["params"]["value"] == "***"
    assert events[1]["html"][1]["__playwright_value_"] == "***"
    assert events[2] == {"type": "after", "note": "untouched"}
    network = json.loads(files["trace.network"])
    assert network["request"]["url"] == "http://x/?t=***"
    header = network["request"]["headers"][0]["value"]
    assert SECRET.encode() not in base64.b64decode(header[len("Basic "):].split("***")[0] + "==", validate=False)
    assert "***" in header  # the base64 of the credentials, cut where it held the secret
    assert json.loads(files["resources/body.json"]) == {"token": "***", "note": "kept"}
    assert files["trace.stacks"] == b'{"files":[]}'


def test_a_binary_file_holding_a_secret_is_dropped_and_others_kept(tmp_path: Path) -> None:
    image = b"\x89PNG\r\n\x1a\n\x00\xff" + SECRET.encode() + b"\x00\xfe"
    utf16 = b"\xff\xfe" + SECRET.encode("utf-16-le")
    path = archive(tmp_path / "trace.zip", {"trace.trace": lines({"type": "before"}),
                                            "resources/image.png": image, "resources/text-utf16.txt": utf16,
                                            f"resources/{SECRET}.txt": b"named after it",
                                            "resources/clean.png": b"\x89PNG\r\n\x1a\n\x00\xff"})

    report = scrub_trace(path, SecretMasker([SECRET]))

    assert sorted(report.dropped) == ["resources/***.txt", "resources/image.png", "resources/text-utf16.txt"]
    assert set(read(path)) == {"trace.trace", "resources/clean.png"}


def test_without_secrets_the_archive_is_untouched(tmp_path: Path) -> None:
    path = archive(tmp_path / "trace.zip", {"trace.trace": lines({"value": SECRET})})
    before = path.read_bytes()
    assert scrub_trace(path, SecretMasker()).rewritten == []
    assert path.read_bytes() == before


def test_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "trace.zip"
    path.write_bytes(b"not a zip")
    with pytest.raises(zipfile.BadZipFile):
        scrub_trace(path, SecretMasker([SECRET]))
    assert not (tmp_path / "trace.zip.scrubbing").exists()


def test_the_masker_tells_which_values_reveal_a_secret() -> None:
    masker = SecretMasker(["s3cret"])
    assert masker.reveals("user s3cret")
    assert not masker.reveals("user")
    assert not SecretMasker().reveals("anything")
    assert masker.values == ("s3cret",)
