"""`reprise run` as a person or a CI job runs it: the installed console script, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from recordings import write_recording

REPRISE = Path(sys.executable).with_name("reprise")


def reprise_run(*args: str | Path, cwd: Path, chromium: str | None = None,
                extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    if not REPRISE.exists():
        pytest.fail(f"the reprise console script is missing at {REPRISE}: pip install -e . first")
    env = {key: value for key, value in os.environ.items() if key not in ("LOG_LEVEL", "CHROMIUM_PATH")}
    env.update(extra_env or {})
    if chromium:
        env["CHROMIUM_PATH"] = chromium
    return subprocess.run([str(REPRISE), "run", *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def json_output(completed: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(completed.stdout)  # exactly one JSON document, nothing else
    assert {"status", "steps", "artifacts"} <= result.keys()
    return result


def test_passing_recording_exits_0_with_json(site_url: str, chromium_path: str, tmp_path: Path) -> None:
    recording = write_recording("native-tour.json", site_url, tmp_path)
    out = tmp_path / "out"
    completed = reprise_run(recording, "--json", "--out", out, "--video", "off", cwd=tmp_path,
                            chromium=chromium_path)

    assert completed.returncode == 0, completed.stderr
    result = json_output(completed)
    assert result["status"] == "passed"
    assert len(result["steps"]) == 20
    first = result["steps"][0]
    assert {"index", "type", "status", "durationMs", "error"} <= first.keys()
    assert (first["index"], first["type"], first["status"], first["error"]) == (0, "navigate", "passed", None)
    assert result["artifacts"] == []


def test_failing_recording_exits_1_with_artifacts(site_url: str, chromium_path: str, tmp_path: Path) -> None:
    recording = write_recording("recorder-missing-selector.json", site_url, tmp_path)
    out = tmp_path / "out"
    completed = reprise_run(recording, "--json", "--out", out, "--step-timeout", "500", cwd=tmp_path,
                            chromium=chromium_path)

    assert completed.returncode == 1, completed.stderr
    result = json_output(completed)
    assert result["status"] == "failed"
    assert [step["status"] for step in result["steps"]] == ["passed", "passed", "failed"] + ["skipped"] * 3
    assert result["steps"][2]["error"] == (
        'step 3 (click) [selector_not_found]: no element matched selector "#missing" within 500 ms')
    assert result["category"] == result["steps"][2]["category"] == "selector_not_found"
    artifacts = {(a["kind"], Path(a["path"])) for a in result["artifacts"]}
    assert artifacts == {("video", out / "video.webm"), ("screenshot", out / "step-002.png"),
                         ("trace", out / "trace.zip"), ("html", out / "page.html"),
                         ("console", out / "console.log"), ("har", out / "network.har")}
    assert all(path.stat().st_size > 0 for _, path in artifacts)


def test_human_summary_and_default_output_folder(site_url: str, chromium_path: str, tmp_path: Path) -> None:
    recording = write_recording("native-wrong-greeting.json", site_url, tmp_path)
    completed = reprise_run(recording, cwd=tmp_path, chromium=chromium_path)

    assert completed.returncode == 1, completed.stderr
    assert completed.stdout.startswith("FAILED A greeting that does not match (native, 5 steps)")
    assert 'expected the text of "#result" to contain "Hello Bob"' in completed.stdout
    videos = list((tmp_path / "reprise-output").glob("*/video.webm"))
    assert len(videos) == 1
    assert f"video: {videos[0].relative_to(tmp_path)}" in completed.stdout


def test_missing_file_exits_2(tmp_path: Path) -> None:
    completed = reprise_run(tmp_path / "nope.json", "--json", cwd=tmp_path)

    assert completed.returncode == 2
    assert completed.stdout == ""
    assert "cannot read" in completed.stderr and "nope.json" in completed.stderr


def test_bad_json_exits_2(tmp_path: Path) -> None:
    recording = tmp_path / "broken.json"
    recording.write_text('{"title": "x",\n "steps": [}\n', encoding="utf-8")
    completed = reprise_run(recording, cwd=tmp_path)

    assert completed.returncode == 2
    assert "invalid script: not valid JSON" in completed.stderr
    assert "line 2 column 12" in completed.stderr


def test_invalid_script_exits_2_naming_the_field(tmp_path: Path) -> None:
    recording = tmp_path / "invalid.json"
    recording.write_text(json.dumps({"title": "x", "steps": [
        {"type": "navigate", "url": "http://127.0.0.1:9/"},
        {"type": "click", "selectors": [], "offsetX": 1, "offsetY": 1},
    ]}), encoding="utf-8")
    completed = reprise_run(recording, "--json", cwd=tmp_path)

    assert completed.returncode == 2
    assert completed.stdout == ""
    assert "invalid script: steps[1].selectors: must contain at least one selector" in completed.stderr


def test_missing_chromium_exits_3(site_url: str, tmp_path: Path) -> None:
    recording = write_recording("native-wrong-greeting.json", site_url, tmp_path)
    completed = reprise_run(recording, "--json", "--chromium", "/nonexistent/chromium", "--out", tmp_path / "o",
                            cwd=tmp_path)

    assert completed.returncode == 3
    result = json_output(completed)
    assert result["status"] == "error"
    assert "/nonexistent/chromium" in result["error"]


def test_bad_option_is_a_usage_error(tmp_path: Path) -> None:
    completed = reprise_run(tmp_path / "x.json", "--video", "sometimes", cwd=tmp_path)

    assert completed.returncode == 2
    assert "--video" in completed.stderr


@pytest.mark.parametrize(("flags", "named"), [
    (["--timeout", "500"], "--timeout: Input should be greater than or equal to 1000"),
    (["--viewport", "50x50"], "--viewport: Input should be greater than or equal to 100"),
    (["--timezone", "Mars/Olympus"], "--timezone: unknown time zone 'Mars/Olympus'"),
    (["--base-url", "ftp://files.test"], "--base-url: String should match pattern"),
    (["--var", "TOKEN=1", "--secret", "TOKEN"], "--var/--secret: TOKEN given both as a variable and as a secret"),
])
def test_options_the_run_contract_refuses_exit_2_naming_the_flag(flags: list[str], named: str,
                                                                 tmp_path: Path) -> None:
    recording = tmp_path / "never-read.json"
    completed = reprise_run(recording, "--json", *flags, cwd=tmp_path)

    assert completed.returncode == 2
    assert completed.stdout == ""
    assert named in completed.stderr


def test_variables_and_secrets_on_the_command_line(site_url: str, chromium_path: str, tmp_path: Path) -> None:
    secret = "pa55-Word-xyz"
    recording = tmp_path / "login.json"
    recording.write_text(json.dumps({"version": 1, "name": "login", "steps": [
        {"action": "navigate", "url": "${BASE}/index.html"},
        {"action": "fill", "selector": "#name", "value": "${PASSWORD}"},
        {"action": "click", "selector": "#submit"},
        {"action": "assertText", "selector": "#result", "text": "Hello ${WHO}", "match": "contains",
         "timeoutMs": 500},
    ]}))
    out = tmp_path / "out"
    completed = reprise_run(recording, "--json", "--out", out, "--var", f"BASE={site_url}", "--var", "WHO=Bob",
                            "--secret", "PASSWORD", "--video", "off", cwd=tmp_path, chromium=chromium_path,
                            extra_env={"REPRISE_SECRET_PASSWORD": secret})
    assert completed.returncode == 1, completed.stderr
    result = json_output(completed)
    assert 'but it was "Hello ***, plan free' in result["error"]
    assert secret not in completed.stdout + completed.stderr
    assert all(secret not in path.read_text(errors="replace") for path in out.iterdir()
               if path.suffix in (".log", ".html", ".har"))

    missing = reprise_run(recording, "--var", f"BASE={site_url}", cwd=tmp_path, chromium=chromium_path)
    assert missing.returncode == 2 and "steps[1].value" in missing.stderr and "${PASSWORD}" in missing.stderr
    unset = reprise_run(recording, "--secret", "PASSWORD", cwd=tmp_path, chromium=chromium_path)
    assert unset.returncode == 2 and "REPRISE_SECRET_PASSWORD" in unset.stderr
