"""`reprise submit --suite NAME` against an in-memory API that implements the suites' HTTP interface (the
contract the suite API follows: `GET /api/suites?name=`, `POST /api/suites/{id}/runs`, `GET /api/suite-runs/{id}`,
`POST /api/suite-runs/{id}/cancel`, with `GET /api/runs/{id}` and `GET /api/recordings/{id}`), served through
httpx's MockTransport; time is a fake clock that the client's sleeps move on."""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from junitparser import Error, Failure, JUnitXml

from reprise.submit_api import ApiUnavailable, ReproseApi
from reprise.submit_command import SubmitRequest, execute

BASE = "http://reprise.test"
FINAL = ("passed", "failed", "error", "cancelled")


@dataclass
class Child:
    """A suite run's child: queued until `start` reads, then one step per read until it ends."""

    name: str
    steps: int
    fails_at: int | None = None  # the 0-based step that fails
    start: int = 1
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    recording_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    number: int = 0
    cancelled: bool = False

    def done(self, tick: int) -> int:
        last = self.steps if self.fails_at is None else self.fails_at + 1
        return max(0, min(tick - self.start, last))

    def status(self, tick: int) -> str:
        if self.cancelled:
            return "cancelled"
        if tick < self.start:
            return "queued"
        last = self.steps if self.fails_at is None else self.fails_at + 1
        if self.done(tick) < last:
            return "running"
        return "passed" if self.fails_at is None else "failed"


class FakeSuiteApi:
    """The suites' HTTP interface in memory; each `GET /api/suite-runs/{id}` is one tick of the clock."""

    def __init__(self, suite_name: str, children: list[Child]) -> None:
        self.suite = {"id": str(uuid.uuid4()), "name": suite_name}
        self.children = children
        for number, child in enumerate(children, start=40):
            child.number = number
        self.suite_run_id = str(uuid.uuid4())
        self.tick = 0
        self.started = False
        self.cancelled = False
        self.calls: list[str] = []
        self.posted: list[dict[str, Any]] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def run_json(self, child: Child, *, detail: bool) -> dict[str, Any]:
        status = child.status(self.tick)
        body: dict[str, Any] = {
            "id": child.id, "number": child.number, "name": child.name, "format": "native", "status": status,
            "attempts": 0 if status == "queued" else 1, "worker": None, "options": {}, "priority": "normal",
            "jobId": child.id, "durationMs": child.done(self.tick) * 250 if status in FINAL else None,
            "error": None, "errorCategory": None, "recordingId": child.recording_id,
            "suiteRunId": self.suite_run_id, "url": f"{BASE}/api/runs/{child.id}", "importWarnings": [],
        }
        if status == "failed":
            body["error"] = f"step {child.fails_at + 1 if child.fails_at is not None else 0}: no element matches"
            body["errorCategory"] = "selector_not_found"
        if status == "cancelled":
            body["error"] = "cancelled by request"
        if not detail:
            return body
        steps = []
        for index in range(child.done(self.tick)):
            failed = index == child.fails_at
            # A failed step names no selector (none matched): the report takes the recorded one.
            steps.append({"index": index, "type": "click", "status": "failed" if failed else "passed",
                          "durationMs": 250, "selector": None if failed else f"#b{index}",
                          "error": "waiting for #b<missing>: no element matches" if failed else None,
                          "category": "selector_not_found" if failed else None})
        artifacts = []
        if status in FINAL:
            artifacts.append({"id": 1, "kind": "video", "attempt": 1, "step": None, "contentType": "video/webm",
                              "sizeBytes": 1, "url": f"{BASE}/api/runs/{child.id}/artifacts/1"})
        if status == "failed":
            artifacts += [
                {"id": 2, "kind": "screenshot", "attempt": 1, "step": child.fails_at, "contentType": "image/png",
                 "sizeBytes": 1, "url": f"{BASE}/api/runs/{child.id}/artifacts/2"},
                {"id": 3, "kind": "trace", "attempt": 1, "step": child.fails_at, "contentType": "application/zip",
                 "sizeBytes": 1, "url": f"{BASE}/api/runs/{child.id}/artifacts/3"}]
        return {**body, "steps": steps, "artifacts": artifacts, "attemptHistory": [],
                "videoUrl": artifacts[0]["url"] if artifacts else None, "screenshotUrls": []}

    def suite_run_json(self) -> dict[str, Any]:
        statuses = [child.status(self.tick) for child in self.children]
        counts = {name: statuses.count(name) for name in FINAL}
        if self.cancelled:
            status = "cancelled"
        elif all(s in FINAL for s in statuses):
            status = next((s for s in ("error", "failed") if counts[s]), "passed")
        else:
            status = "running" if any(s != "queued" for s in statuses) else "queued"
        return {"id": self.suite_run_id, "number": 7, "suiteId": self.suite["id"], "suiteName": self.suite["name"],
                "status": status, "counts": counts, "total": len(self.children), "durationMs": None,
                "createdAt": "2026-12-02T08:00:00Z", "startedAt": None, "finishedAt": None,
                "url": f"{BASE}/api/suite-runs/{self.suite_run_id}",
                "runs": [self.run_json(child, detail=False) for child in self.children]}

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(f"{request.method} {path}")
        assert request.headers["Authorization"] == "Bearer rk_test"
        by_id = {child.id: child for child in self.children}
        if request.method == "GET" and path == "/api/suites":
            name = request.url.params["name"]
            items = [self.suite] if name == self.suite["name"] else []
            return httpx.Response(200, json={"items": items, "total": len(items), "limit": 10, "offset": 0})
        if request.method == "POST" and path == f"/api/suites/{self.suite['id']}/runs":
            body = json.loads(request.content or b"{}")
            self.posted.append(body)
            if "baseUrl" in body and not str(body["baseUrl"]).startswith("http"):
                message = "expected an absolute http(s) URL with a host"
                return httpx.Response(422, json={"error": "invalid_request", "message": f"baseUrl: {message}",
                                                 "fields": [{"field": "baseUrl", "message": message}]})
            self.started = True
            return httpx.Response(201, json=self.suite_run_json())
        if request.method == "GET" and path == f"/api/suite-runs/{self.suite_run_id}":
            self.tick += 1
            return httpx.Response(200, json=self.suite_run_json())
        if request.method == "POST" and path == f"/api/suite-runs/{self.suite_run_id}/cancel":
            self.cancelled = True
            for child in self.children:
                if child.status(self.tick) not in FINAL:
                    child.cancelled = True
            return httpx.Response(200, json=self.suite_run_json())
        matched = re.fullmatch(r"/api/runs/([0-9a-f-]+)", path)
        if request.method == "GET" and matched and matched.group(1) in by_id:
            return httpx.Response(200, json=self.run_json(by_id[matched.group(1)], detail=True))
        matched = re.fullmatch(r"/api/recordings/([0-9a-f-]+)", path)
        recordings = {child.recording_id: child for child in self.children}
        if request.method == "GET" and matched and matched.group(1) in recordings:
            child = recordings[matched.group(1)]
            return httpx.Response(200, json={"id": child.recording_id, "name": child.name, "format": "native",
                                             "stepCount": child.steps, "createdAt": "2026-12-02T08:00:00Z",
                                             "priority": "normal", "lastRun": None, "script": {
                                                 "version": 1, "name": child.name,
                                                 "steps": [{"action": "click", "selector": f"#b{index}"}
                                                           for index in range(child.steps)]}})
        return httpx.Response(404, json={"error": "not_found", "message": f"no {request.method} {path} here"})


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def submit(fake: FakeSuiteApi, request: SubmitRequest) -> tuple[int, str, str, FakeClock]:
    clock = FakeClock()
    out, err = io.StringIO(), io.StringIO()
    with ReproseApi(BASE, "rk_test", transport=fake.transport(), sleep=clock.sleep, clock=clock) as api:
        code = execute(request, api, out, err, poll_s=1.0, clock=clock, sleep=clock.sleep)
    return code, out.getvalue(), err.getvalue(), clock


def three_children() -> list[Child]:
    return [Child("login", steps=3), Child("checkout", steps=4, fails_at=2, start=2), Child("search", steps=2)]


def test_a_suite_with_one_failing_child_is_followed_to_its_end_and_exits_1(tmp_path: Path) -> None:
    fake = FakeSuiteApi("smoke", three_children())
    junit = tmp_path / "reports" / "junit.xml"
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step's summary\n")

    code, out, err, clock = submit(fake, SubmitRequest(
        suite="smoke", options={"baseUrl": "https://staging.example", "variables": {"TENANT": "acme"}},
        wait=True, junit=junit, step_summary=summary))

    assert (code, err) == (1, "")
    assert fake.posted == [{"baseUrl": "https://staging.example", "variables": {"TENANT": "acme"}}]
    # Queued, then each child's changes as plain lines (not a terminal), then the summary.
    assert out.splitlines()[0] == f"queued suite run #7 of smoke (3 runs): {BASE}/#/suite-runs/{fake.suite_run_id}"
    checkout = fake.children[1]
    assert "#40 login: running, step 1/3" in out and "#40 login: passed, step 3/3" in out
    assert "#41 checkout: queued, step 0/4" in out and "#41 checkout: failed, step 3/4" in out
    assert "suite smoke #7: 3 runs: 2 passed, 1 failed" in out
    assert re.search(rf"FAILED +#41 +checkout .*{BASE}/#/runs/{checkout.id}", out)
    assert "step 3 of 4 (click #b2) failed\n            waiting for #b<missing>: no element matches\n" in out
    # Every recording's step count asked once; polls a second apart.
    recording_reads = [call for call in fake.calls if call.startswith("GET /api/recordings/")]
    assert sorted(recording_reads) == sorted(f"GET /api/recordings/{c.recording_id}" for c in fake.children)
    assert clock.sleeps and all(pause == 1.0 for pause in clock.sleeps)

    xml = JUnitXml.fromfile(str(junit))
    [suite] = list(xml)
    assert (suite.name, suite.tests, suite.failures, suite.errors) == ("smoke", 3, 1, 0)
    cases = {case.name: case for case in suite}
    assert set(cases) == {"login", "checkout", "search"}
    assert all(case.classname == "smoke" for case in cases.values())
    assert cases["login"].is_passed and cases["search"].is_passed and cases["login"].time == 0.75
    [failure] = cases["checkout"].result
    assert isinstance(failure, Failure)
    assert failure.message == "waiting for #b<missing>: no element matches"
    assert failure.type == "selector_not_found"
    assert failure.text is not None
    assert failure.text.splitlines()[:2] == ["step 3 of 4 (click #b2) failed",
                                             "waiting for #b<missing>: no element matches"]
    out_lines = (cases["checkout"].system_out or "").splitlines()
    assert out_lines[0] == f"run: {BASE}/#/runs/{checkout.id}"
    assert [line for line in out_lines if line.startswith("[[ATTACHMENT|")] == [
        f"[[ATTACHMENT|{BASE}/api/runs/{checkout.id}/artifacts/{n}]]" for n in (1, 3, 2)]  # video, trace, shot

    markdown = summary.read_text()
    assert markdown.startswith("earlier step's summary\n### suite smoke #7: 3 runs: 2 passed, 1 failed")
    assert f"[Open in the dashboard]({BASE}/#/suite-runs/{fake.suite_run_id})" in markdown
    assert (f"| ❌ failed | checkout | 0.8 s | step 3 of 4 (click #b2): waiting for #b&lt;missing&gt;: no element "
            f"matches | [#41]({BASE}/#/runs/{checkout.id}) |") in markdown


def test_a_passing_suite_exits_0() -> None:
    fake = FakeSuiteApi("smoke", [Child("login", steps=2), Child("search", steps=1, start=3)])
    code, out, err, _ = submit(fake, SubmitRequest(suite="smoke", wait=True))
    assert (code, err) == (0, "")
    assert "suite smoke #7: 2 runs: 2 passed" in out


def test_without_wait_the_suite_run_and_its_children_are_printed_and_nothing_is_watched() -> None:
    fake = FakeSuiteApi("smoke", three_children())
    code, out, err, clock = submit(fake, SubmitRequest(suite="smoke"))
    assert (code, err, clock.sleeps) == (0, "", [])
    assert [call.split(" ")[0] + " " + call.split("/")[2] for call in fake.calls] == [
        "GET suites", "POST suites"]
    lines = out.splitlines()
    assert lines[0].startswith("queued suite run #7 of smoke (3 runs): ")
    assert lines[1:] == [f"queued run #{c.number} {c.name} ({c.id}): {BASE}/#/runs/{c.id}" for c in fake.children]


def test_past_the_timeout_the_suite_run_is_cancelled_and_the_exit_is_3(tmp_path: Path) -> None:
    fake = FakeSuiteApi("smoke", [Child("quick", steps=1), Child("endless", steps=10_000)])
    junit = tmp_path / "junit.xml"
    code, out, err, clock = submit(fake, SubmitRequest(suite="smoke", wait=True, timeout_s=5, junit=junit))

    assert code == 3
    assert err == "reprise submit: --timeout 5 s passed with 1 run(s) not finished; cancelled them\n"
    assert f"POST /api/suite-runs/{fake.suite_run_id}/cancel" in fake.calls
    assert 5 <= clock.now < 6
    assert "2 runs: 1 passed, 1 timed out" in out
    assert "did not finish within --timeout 5 s (was cancelled; cancelled)" in out
    [suite] = list(JUnitXml.fromfile(str(junit)))
    cases = {case.name: case for case in suite}
    [error] = cases["endless"].result
    assert isinstance(error, Error) and error.type == "timeout"
    assert error.message == "did not finish within --timeout (cancelled)"
    assert cases["quick"].is_passed


def test_an_unknown_suite_and_a_refused_option_exit_2_naming_them() -> None:
    fake = FakeSuiteApi("smoke", three_children())
    code, out, err, _ = submit(fake, SubmitRequest(suite="nightly", wait=True))
    assert (code, out) == (2, "")
    assert err == "reprise submit: no suite is named 'nightly' (GET /api/suites lists them)\n"

    code, out, err, _ = submit(fake, SubmitRequest(suite="smoke", options={"baseUrl": "ftp://x"}, wait=True))
    assert (code, out, fake.started) == (2, "", False)
    assert err.splitlines() == [
        "reprise submit: the API refused the request (422):",
        "  --base-url (baseUrl): expected an absolute http(s) URL with a host"]


def test_an_api_failing_while_watched_is_exit_3_with_its_answer() -> None:
    fake = FakeSuiteApi("smoke", three_children())

    def failing(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/suite-runs/"):
            return httpx.Response(500, json={"error": "internal", "message": "boom"})
        return fake.handle(request)

    clock = FakeClock()
    out, err = io.StringIO(), io.StringIO()
    with ReproseApi(BASE, "rk_test", transport=httpx.MockTransport(failing), sleep=clock.sleep, clock=clock) as api:
        code = execute(SubmitRequest(suite="smoke", wait=True), api, out, err, clock=clock, sleep=clock.sleep)
    assert code == 3
    assert err.getvalue() == f"reprise submit: GET /api/suite-runs/{fake.suite_run_id}: the API failed (500): boom\n"


def test_reads_wait_out_429_and_brief_outages_but_a_post_is_never_sent_twice() -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(503),
                    httpx.Response(200, json={"items": [], "total": 0, "limit": 10, "offset": 0})])
    clock = FakeClock()
    with ReproseApi(BASE, None, transport=httpx.MockTransport(lambda _: next(answers)), sleep=clock.sleep,
                    clock=clock) as api:
        assert api.suites_named("x") == []
    assert clock.sleeps == [3.0, 1.0]

    posts: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        posts.append(request.method)
        raise httpx.ConnectError("connection reset")

    with ReproseApi(BASE, None, transport=httpx.MockTransport(refuse), sleep=clock.sleep, clock=clock) as api, \
            pytest.raises(ApiUnavailable, match="connection reset"):
        api.create_runs([{"script": {}}])
    assert posts == ["POST"]
