"""How to replay a run: one model from the API's request to the stored row and back to the replay.

Validated at the edge (`POST /api/runs`, `reprise run` flags), stored as `model_dump(mode="json",
by_alias=True)` in `runs.options` (camelCase, as on the wire), read back with `model_validate`. The
secrets' values are never part of it: only their names travel; each worker reads the values from its own
environment (`REPRISE_SECRET_<NAME>`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from contract import limits
from contract.devices import device_names

DEFAULT_STEP_TIMEOUT_MS = 5_000
DEFAULT_RUN_TIMEOUT_MS = 120_000
MAX_RUN_TIMEOUT_MS = 3_600_000
MAX_STEP_TIMEOUT_MS = 600_000
# `${NAME}` in recordings (runner.formats.variables) and the names of variables and secrets here.
NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"

VideoMode = Literal["on", "off", "retain-on-failure"]
ScreenshotMode = Literal["off", "on-failure", "every-step"]
TraceMode = Literal["off", "on-failure", "on"]
# Which runs a worker takes first (high before normal before low; first queued first within one). Mapped onto
# BullMQ's job priorities by jobs.queue.
Priority = Literal["high", "normal", "low"]
DEFAULT_PRIORITY: Priority = "normal"
BrowserName = Literal["chromium"]  # the one browser the workers have; the field is read by the worker
VariableName = Annotated[str, StringConstraints(pattern=f"^{NAME_PATTERN}$")]
MaskSelector = Annotated[str, StringConstraints(min_length=1, max_length=limits.MAX_SELECTOR_CHARS,
                                               pattern=r"^[^\x00-\x1f]*$")]


class CamelModel(BaseModel):
    """camelCase on the wire and in stored JSON, snake_case in Python; either is accepted in."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ViewportSize(CamelModel):
    model_config = ConfigDict(extra="forbid")

    width: int = Field(ge=100, le=7680)
    height: int = Field(ge=100, le=4320)


def _known_timezone(value: str | None) -> str | None:
    if value is not None and value not in available_timezones():
        raise ValueError(f"unknown time zone {value!r} (expected an IANA name such as Europe/Paris)")
    return value


def _known_device(value: str | None) -> str | None:
    if value is not None and value not in device_names():
        raise PydanticCustomError("unknown_device", "unknown device {name} (Playwright's device names, e.g. "
                                  "'iPhone 13')", {"name": repr(value)})
    return value


_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def _whole_base_url(value: str | None) -> str | None:
    """The whole URL parsed, not only its start: an http(s) origin with an optional path, nothing a browser would
    read differently (backslashes, spaces, control characters, `user@`), a valid host and port."""
    if value is None:
        return value
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 or char == "\\" for char in value):
        raise ValueError("must not contain spaces, control characters or backslashes")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as error:
        raise ValueError(f"is not a valid URL: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an absolute http(s) URL with a host")
    if "@" in parts.netloc:
        raise ValueError("must not carry credentials (user:password@)")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValueError("must not have a query or fragment (an origin, optionally with a path)")
    host = parts.hostname
    if not host.startswith("[") and ":" not in host:
        try:
            ascii_host = host.rstrip(".").encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"invalid host name {host!r}") from None
        if not all(_HOST_LABEL.match(label) for label in ascii_host.split(".")):
            raise ValueError(f"invalid host name {host!r}")
    return value


def _safe_headers(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    if len(value) > limits.MAX_HEADERS:
        raise ValueError(f"at most {limits.MAX_HEADERS} headers")
    for name, header in value.items():
        problem = limits.header_problem(name, header)
        if problem:
            raise ValueError(problem)
    return value


def _safe_variables(value: dict[str, str]) -> dict[str, str]:
    if len(value) > limits.MAX_VARIABLES:
        raise ValueError(f"at most {limits.MAX_VARIABLES} variables")
    for name, text in value.items():
        problem = limits.text_problem(text, limits.MAX_VARIABLE_CHARS)
        if problem:
            raise ValueError(f"{name} {problem}")
    return value


class StateModel(CamelModel):
    """Part of a Playwright storage state: its own fields only (anything else is a mistake worth a 422)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


Text = Annotated[str, StringConstraints(max_length=limits.MAX_HEADER_VALUE_CHARS, pattern=r"^[^\x00]*$")]


class StateCookie(StateModel):
    # Where the cookie belongs: a url, or a domain and a path (present and not null: null is "not given").
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", json_schema_extra={
        "anyOf": [{"required": ["url"], "properties": {"url": {"type": "string"}}},
                  {"required": ["domain", "path"], "properties": {"domain": {"type": "string"},
                                                                  "path": {"type": "string"}}}]})

    name: Annotated[str, StringConstraints(min_length=1, max_length=limits.MAX_HEADER_NAME_CHARS,
                                           pattern=r"^[^\x00-\x1f;=\s]+$")]
    value: Annotated[str, StringConstraints(max_length=limits.MAX_HEADER_VALUE_CHARS,
                                            pattern=r"^[^\x00-\x1f;]*$")]
    url: Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://[^\s\x00]+$")] | None = None
    domain: Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\s\x00/]+$")] | None = None
    path: Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^/[^\s\x00]*$")] | None = None
    expires: float | None = Field(default=None, ge=-1, le=253_402_300_799)  # -1: a session cookie
    http_only: bool | None = None
    secure: bool | None = None
    same_site: Literal["Strict", "Lax", "None"] | None = None

    @model_validator(mode="after")
    def _where(self) -> StateCookie:
        if self.url is None and (self.domain is None or self.path is None):
            raise ValueError(f"cookie {self.name!r} needs either url or both domain and path")
        return self


class StateEntry(StateModel):
    name: Text
    value: Annotated[str, StringConstraints(max_length=limits.MAX_VARIABLE_CHARS, pattern=r"^[^\x00]*$")]


class StateOrigin(StateModel):
    origin: Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://[^/\s\x00]+$")]
    local_storage: list[StateEntry] = Field(default_factory=list, max_length=1_000)


class StorageState(StateModel):
    """Playwright's storage state (`context.storage_state()`): cookies and each origin's localStorage."""

    def playwright(self) -> dict[str, Any]:
        """As Playwright's `new_context(storage_state=...)` reads it."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    cookies: list[StateCookie] = Field(default_factory=list, max_length=limits.MAX_COOKIES)
    origins: list[StateOrigin] = Field(default_factory=list, max_length=limits.MAX_ORIGINS)


class RunOptions(CamelModel):
    """Every field of a run request but the recording itself (also the body of `POST
    /api/recordings/{id}/runs` and the flags of `reprise run`)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    video: VideoMode = "on"
    screenshots: ScreenshotMode = "on-failure"
    strict_clicks: bool = Field(
        default=False, description="A click waits until the element itself would receive it (not covered, not "
                                   "outside its shape at the offset) and fails otherwise. Default: as Chrome's "
                                   "replay, the point is clicked and whatever is there receives it, with a step "
                                   "warning when that is not the element")
    strict_custom_steps: bool = Field(
        default=False, description="Refuse a recording with a Recorder `customStep` (it needs an extension). "
                                   "Default: the step is skipped with a warning and the run passes or fails on "
                                   "its other steps")
    screenshots_full_page: bool | None = Field(
        default=None, description="Screenshots of the whole page (true) or of the viewport (false). Default: the "
                                  "failure screenshot shows the whole page, every-step screenshots the viewport")
    trace: TraceMode = Field(
        default="on-failure",
        description="A Playwright trace (trace.zip). on-failure: kept for runs that do not pass, with the actions, "
                    "their timings, network, console and errors (page.html, the failure screenshot and the video "
                    "show the page); on: a full trace of every run, with DOM snapshots and screenshots. In a run "
                    "with secrets every secret value is scrubbed from the archive (actions, network, DOM "
                    "snapshots) before it is kept")
    timeout_ms: int = Field(default=DEFAULT_RUN_TIMEOUT_MS, ge=1_000, le=MAX_RUN_TIMEOUT_MS,
                            description="Budget for the whole replay")
    step_timeout_ms: int = Field(default=DEFAULT_STEP_TIMEOUT_MS, ge=100, le=MAX_STEP_TIMEOUT_MS,
                                 description="Default wait for each step's selector, navigation or assertion")
    retries: int = Field(default=0, ge=0, le=10,
                         description="Replay a failed test (assertion, selector) again up to this many times; "
                                     "each attempt is kept. Infrastructure failures are retried regardless.")
    navigation_timeout_ms: int | None = Field(
        default=None, ge=100, le=MAX_STEP_TIMEOUT_MS,
        description="Default wait for page loads (navigate steps and steps that navigate); default: stepTimeoutMs")
    variables: Annotated[dict[VariableName, str], AfterValidator(_safe_variables)] = Field(
        default_factory=dict, description="Values for `${NAME}` in the recording (stored with the run)",
        json_schema_extra={"maxProperties": limits.MAX_VARIABLES, "propertyNames": {"pattern": f"^{NAME_PATTERN}$"},
                           "additionalProperties": {
            "type": "string", "maxLength": limits.MAX_VARIABLE_CHARS, "pattern": "^[^\u0000]*$"}})
    secrets: list[VariableName] = Field(
        default_factory=list, max_length=50,
        description="Names of `${NAME}` variables whose values each worker reads from its environment "
                    "variable REPRISE_SECRET_<NAME>; never stored, masked as *** in results, logs and artifacts")
    mask_selectors: list[MaskSelector] = Field(
        default_factory=list, max_length=limits.MAX_MASK_SELECTORS,
        description="CSS selectors of sensitive regions painted out as solid boxes in the run's screenshots and "
                    "video, in every page and frame (fields that receive a secret are masked without being "
                    "named here)")
    priority: Priority | None = Field(
        default=None, description="Taken by a worker before runs of lower priority queued earlier (high, normal, "
                                  "low); default: the saved recording's priority, else normal")
    browser: BrowserName = Field(
        default="chromium", description="Only Chromium is installed on the workers for now")
    device: Annotated[str | None, AfterValidator(_known_device)] = Field(
        default=None, max_length=100, examples=["iPhone 13"],
        description="Emulate a device from Playwright's catalogue (viewport, user agent, touch)",
        json_schema_extra=lambda schema: schema.update(enum=[*sorted(device_names()), None]))
    viewport: ViewportSize | None = Field(default=None, description="Overrides the recording's setViewport")
    locale: str | None = Field(default=None, pattern=r"^[a-zA-Z]{2,3}(-[A-Za-z0-9]{2,8})*$", examples=["de-DE"])
    timezone_id: Annotated[str | None, AfterValidator(_known_timezone)] = Field(
        default=None, examples=["Europe/Paris"],
        json_schema_extra=lambda schema: schema.update(enum=[*sorted(available_timezones()), None]))
    base_url: Annotated[str | None, AfterValidator(_whole_base_url)] = Field(
        default=None, pattern=r"^https?://[^/\s]+", max_length=2000,
        description="Replay against this origin instead of the recorded one (its host must be reachable under the "
                    "workers' network policy)")
    extra_http_headers: Annotated[dict[str, str] | None, AfterValidator(_safe_headers)] = Field(
        default=None, description="Sent with every request (names are HTTP tokens; no CR, LF or NUL in values)",
        json_schema_extra={"maxProperties": limits.MAX_HEADERS,
                           "propertyNames": {"pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$"},
                           "additionalProperties": {"type": "string", "maxLength": limits.MAX_HEADER_VALUE_CHARS,
                                                    "pattern": "^[^\u0000-\u0008\u000a-\u001f]*$"}})
    storage_state: StorageState | None = Field(
        default=None, description="Playwright storage state (`{cookies: [...], origins: [...]}`) to start "
                                  "logged in; checked against Playwright's shape, so a malformed one is a 422 "
                                  "rather than a browser that fails to start")

    @model_validator(mode="after")
    def _secret_names_are_not_variables(self) -> RunOptions:
        both = sorted(set(self.variables) & set(self.secrets))
        if both:
            raise ValueError(f"{', '.join(both)} given both as a variable and as a secret")
        return self

    def stored(self) -> dict[str, Any]:
        """What `runs.options` holds: camelCase JSON, unset optional fields left out; only the options (a request
        body that extends this model keeps its other fields to itself)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, include=set(RunOptions.model_fields))

    @property
    def queue_priority(self) -> Priority:
        """The priority its job is queued with (a stored run always has one; older rows had none)."""
        return self.priority or DEFAULT_PRIORITY
