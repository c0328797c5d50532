"""The HTTP API as `reprise submit` uses it: a small synchronous client over httpx, and the parts of the API's
answers it reads (unknown fields ignored, so a newer API still answers an older client).

    SubmitError                 one line, for stderr
     ├── ApiUnavailable         unreachable, timed out, 5xx, 401/403, an answer that is not JSON (exit 3)
     └── RequestRefused         4xx naming what was wrong: a 422's fields, an unknown name (exit 2)

Reads (GET) ride out short outages while a run is watched: a 429 waits for its Retry-After, a connection error or a
502/503/504 is tried again for up to `patience_s` seconds before it becomes ApiUnavailable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

import httpx
from pydantic import Field, ValidationError

from contract.options import CamelModel
from contract.results import StepResult
from contract.runs import FINAL_RUN_STATUSES, RunStatus

DEFAULT_API_URL = "http://127.0.0.1:8000"
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER_S = 30.0
Model = TypeVar("Model", bound=CamelModel)


class SubmitError(Exception):
    """`reprise submit` could not go on."""


class ApiUnavailable(SubmitError):
    """The API could not be reached, or refused the key, or failed (infrastructure: exit 3)."""


class RequestRefused(SubmitError):
    """The API (or the client before asking it) refused what was asked, naming why (invalid input: exit 2)."""

    def __init__(self, message: str, fields: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or []


class Artifact(CamelModel):
    kind: str
    attempt: int
    step: int | None = None
    url: str | None = None


class RemoteRun(CamelModel):
    """A run as `GET /api/runs/{id}` shows it; a RunSummary (a list, a suite run's child) has no steps or
    artifacts."""

    id: UUID
    number: int
    name: str
    status: RunStatus
    attempts: int = 0
    error: str | None = None
    error_category: str | None = None
    duration_ms: int | None = None
    url: str
    recording_id: UUID | None = None
    suite_run_id: UUID | None = None
    cancelled_by: str | None = None
    flaky: bool = False  # passed on a retry after a failed attempt
    quarantined: bool = False  # its recording was quarantined when it ended (an API before issue 21: never)
    steps: list[StepResult] = Field(default_factory=list)
    artifacts: list[Artifact] = Field(default_factory=list)
    video_url: str | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_RUN_STATUSES


class Recording(CamelModel):
    """A saved recording: a list's item, or (`GET /api/recordings/{id}`) with its script."""

    id: UUID
    name: str
    step_count: int
    script: dict[str, Any] | None = None


class Suite(CamelModel):
    id: UUID
    name: str


class SuiteCounts(CamelModel):
    passed: int = 0
    failed: int = 0
    error: int = 0
    cancelled: int = 0
    quarantined: int = 0


class SuiteRun(CamelModel):
    """`GET /api/suite-runs/{id}`: the suite run and a RunSummary of each child."""

    id: UUID
    number: int
    suite_id: UUID | None = None
    suite_name: str
    status: RunStatus  # a suite run's statuses are a run's (queued, running, then one final)
    counts: SuiteCounts = Field(default_factory=SuiteCounts)
    total: int | None = None
    duration_ms: int | None = None
    url: str
    runs: list[RemoteRun] = Field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.status in FINAL_RUN_STATUSES


def refusal(response: httpx.Response) -> RequestRefused:
    """A 4xx answer as one line naming the fields (`script.steps[0].url: ...`), from the API's error body
    `{error, message, fields?: [{field, message}]}`."""
    body = _body(response)
    raw = body.get("fields")
    fields = [(str(item.get("field", "")), str(item.get("message", "")))
              for item in (raw if isinstance(raw, list) else []) if isinstance(item, dict)]
    return RequestRefused(f"the API refused the request ({response.status_code}): {_message(response)}", fields)


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(response: httpx.Response) -> str:
    return str(_body(response).get("message") or response.text.strip()[:500] or response.reason_phrase)


class ReproseApi:
    """The API at `base_url`, asked with `key` (Authorization: Bearer) when there is one."""

    def __init__(self, base_url: str, key: str | None, *, transport: httpx.BaseTransport | None = None,
                 timeout_s: float = 30.0, patience_s: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        headers["User-Agent"] = "reprise-submit"
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s, transport=transport)
        self._patience_s = patience_s
        self._sleep = sleep
        self._clock = clock

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ReproseApi:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # The calls `reprise submit` makes.

    def create_runs(self, bodies: list[dict[str, Any]]) -> list[RemoteRun]:
        """One run (`POST /api/runs`) or several at once, all or nothing (`POST /api/runs/batch`)."""
        if len(bodies) == 1:
            return [_model(RemoteRun, self._send("POST", "/api/runs", json=bodies[0]), "POST /api/runs")]
        answer = self._send("POST", "/api/runs/batch", json={"runs": bodies})
        return [_model(RemoteRun, run, "POST /api/runs/batch") for run in _items(answer, "runs")]

    def recordings_named(self, name: str) -> list[Recording]:
        """Those named exactly so (checked here too: an API without the `name` filter lists every recording)."""
        answer = self._send("GET", "/api/recordings", params={"name": name, "limit": 10})
        found = [_model(Recording, item, "GET /api/recordings") for item in _items(answer, "items")]
        return [recording for recording in found if recording.name == name]

    def recording(self, recording_id: UUID) -> Recording | None:
        """With its script; None when it is gone (deleted since)."""
        answer = self._send("GET", f"/api/recordings/{recording_id}", missing_ok=True)
        return _model(Recording, answer, "GET /api/recordings/{id}") if answer is not None else None

    def run_recording(self, recording_id: UUID, options: dict[str, Any]) -> RemoteRun:
        answer = self._send("POST", f"/api/recordings/{recording_id}/runs", json=options)
        return _model(RemoteRun, answer, "POST /api/recordings/{id}/runs")

    def suites_named(self, name: str) -> list[Suite]:
        answer = self._send("GET", "/api/suites", params={"name": name, "limit": 10})
        found = [_model(Suite, item, "GET /api/suites") for item in _items(answer, "items")]
        return [suite for suite in found if suite.name == name]

    def suite(self, suite_id: UUID) -> Suite | None:
        answer = self._send("GET", f"/api/suites/{suite_id}", missing_ok=True)
        return _model(Suite, answer, "GET /api/suites/{id}") if answer is not None else None

    def run_suite(self, suite_id: UUID, options: dict[str, Any]) -> SuiteRun:
        return _model(SuiteRun, self._send("POST", f"/api/suites/{suite_id}/runs", json=options),
                      "POST /api/suites/{id}/runs")

    def run(self, run_id: UUID) -> RemoteRun:
        return _model(RemoteRun, self._send("GET", f"/api/runs/{run_id}"), "GET /api/runs/{id}")

    def suite_run(self, suite_run_id: UUID) -> SuiteRun:
        return _model(SuiteRun, self._send("GET", f"/api/suite-runs/{suite_run_id}"), "GET /api/suite-runs/{id}")

    def cancel_run(self, run_id: UUID) -> None:
        """Cancel it; one that ended meanwhile (409) is left as it ended."""
        self._send("POST", f"/api/runs/{run_id}/cancel", conflict_ok=True)

    def cancel_suite_run(self, suite_run_id: UUID) -> None:
        self._send("POST", f"/api/suite-runs/{suite_run_id}/cancel", conflict_ok=True)

    # The one place an answer becomes data or an error.

    def _send(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
              missing_ok: bool = False, conflict_ok: bool = False) -> Any:
        deadline = self._clock() + self._patience_s
        while True:
            try:
                response = self._client.request(method, path, json=json, params=params)
            except httpx.TransportError as error:
                # A POST is never sent twice: it may have queued runs before the connection broke.
                if method != "GET" or self._clock() >= deadline:
                    raise ApiUnavailable(f"cannot reach the API at {self.base_url}: {_transport_error(error)}"
                                         ) from error
                self._sleep(1.0)
                continue
            if response.status_code in RETRYABLE_STATUSES and (method == "GET" or response.status_code == 429) \
                    and self._clock() < deadline:
                self._sleep(_retry_after(response))
                continue
            return self._read(method, path, response, missing_ok=missing_ok, conflict_ok=conflict_ok)

    def _read(self, method: str, path: str, response: httpx.Response, *, missing_ok: bool,
              conflict_ok: bool) -> Any:
        status = response.status_code
        if status in (401, 403):
            hint = " (REPRISE_API_KEY: a key of scope run or admin)"
            raise ApiUnavailable(f"{method} {path}: {status} {_message(response)}{hint}")
        if status >= 500 or status == 429:
            raise ApiUnavailable(f"{method} {path}: the API failed ({status}): {_message(response)[:300]}")
        if status == 404 and missing_ok:
            return None
        if status == 409 and conflict_ok:
            return None
        if status >= 400:
            raise refusal(response)
        if status == 204:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise ApiUnavailable(f"{method} {path}: the answer is not JSON (is {self.base_url} Reprise's API?)"
                                 ) from error


def _transport_error(error: httpx.TransportError) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.1), MAX_RETRY_AFTER_S)
    except ValueError:
        return 1.0



def _model(model: type[Model], data: Any, what: str) -> Model:
    """An answer that is not what the API documents is an infrastructure problem, named."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise ApiUnavailable(f"{what}: unexpected answer ({where}: {problem['msg']})") from None


def _items(answer: Any, key: str) -> list[Any]:
    items = answer.get(key) if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise ApiUnavailable(f"unexpected answer: no {key!r} list")
    return items
