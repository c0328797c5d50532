"""One settings class for every entry point, read from the environment (and `.env`).

Built once by an entry point (`reprise api`, `reprise worker`, `reprise run`, tests) and passed down.
"""

from __future__ import annotations

import ipaddress
import socket
import tempfile
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def parse_list(value: object) -> tuple[str, ...]:
    """A comma-separated setting (`a, b,c`) or a list, as a tuple of non-empty items."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, (list, tuple)) else [value]
    return tuple(str(item).strip() for item in items if str(item).strip())


def _default_worker_name() -> str:
    """The host's name: unique per container or pod replica (set WORKER_NAME for several on one host)."""
    return socket.gethostname()


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/reprise", validation_alias="DATABASE_URL"
    )
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    queue_name: str = Field(default="test-runs", min_length=1, validation_alias="QUEUE_NAME")
    worker_name: str = Field(default_factory=_default_worker_name, validation_alias="WORKER_NAME")
    worker_concurrency: int = Field(default=3, ge=1, le=10, validation_alias="WORKER_CONCURRENCY")
    # BullMQ stalled-job detection: every worker of a queue must use the same interval.
    stalled_interval_ms: int = Field(default=30_000, ge=1_000, validation_alias="WORKER_STALLED_INTERVAL_MS")
    lock_duration_ms: int = Field(default=30_000, ge=1_000, validation_alias="WORKER_LOCK_DURATION_MS")
    max_stalled_count: int = Field(default=1, ge=0, validation_alias="WORKER_MAX_STALLED_COUNT")
    heartbeat_interval_s: float = Field(default=5.0, gt=0, validation_alias="WORKER_HEARTBEAT_INTERVAL")
    shutdown_grace_s: float = Field(default=60.0, ge=0, validation_alias="WORKER_SHUTDOWN_GRACE_SECONDS")
    # Attempts a job gets for infrastructure failures (browser crash, network error, lost worker); a run's
    # own `retries` (for flaky tests) come on top. Backoff between attempts doubles from JOB_BACKOFF_MS.
    job_max_attempts: int = Field(default=3, ge=1, le=20, validation_alias="JOB_MAX_ATTEMPTS")
    job_backoff_ms: int = Field(default=2_000, ge=0, validation_alias="JOB_BACKOFF_MS")
    # Orphan sweep: runs left queued/running whose job is gone or dead, checked on start and every interval.
    sweep_interval_s: float = Field(default=60.0, gt=0, validation_alias="WORKER_SWEEP_INTERVAL_SECONDS")
    orphan_grace_s: float = Field(default=30.0, ge=0, validation_alias="WORKER_ORPHAN_GRACE_SECONDS")
    # How long a worker keeps retrying a status write while Postgres is unreachable.
    database_retry_s: float = Field(default=300.0, ge=0, validation_alias="DATABASE_RETRY_SECONDS")
    # Circuit breaker: after this many failed Chromium launches in a row the worker stops claiming jobs,
    # and tries a launch again every BROWSER_RETRY_SECONDS.
    browser_failures_to_open: int = Field(default=3, ge=1, validation_alias="BROWSER_CIRCUIT_FAILURES")
    browser_retry_s: float = Field(default=30.0, gt=0, validation_alias="BROWSER_RETRY_SECONDS")
    # A worker replaces its Chromium and Playwright driver (fresh ones launched beside them; no run fails) after this
    # many runs, or when its child processes (the driver, Chromium) hold more than this many MB resident. 0: never.
    browser_recycle_runs: int = Field(default=200, ge=0, validation_alias="BROWSER_RECYCLE_RUNS")
    browser_recycle_mb: int = Field(default=0, ge=0, validation_alias="BROWSER_RECYCLE_MB")
    # Scratch space for replays in progress (`<dir>/<worker name>`), wiped when the worker starts and stops.
    work_dir: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()) / "reprise-work",
                           validation_alias="WORKER_WORK_DIR")
    video_storage_path: Path = Field(default=Path("artifacts/videos"), validation_alias="VIDEO_STORAGE_PATH")
    screenshot_storage_path: Path = Field(
        default=Path("artifacts/screenshots"), validation_alias="SCREENSHOT_STORAGE_PATH"
    )
    artifact_storage_path: Path = Field(default=Path("artifacts/files"), validation_alias="ARTIFACT_STORAGE_PATH")
    # Where artifacts live: unset = the three local paths above; a folder (or file:///folder) = one local root;
    # s3://bucket/prefix = any S3-compatible service (S3_ENDPOINT_URL for MinIO, Ceph, R2; credentials from the
    # standard AWS chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_REGION, profiles, instance roles).
    artifact_store_url: str | None = Field(default=None, validation_alias="ARTIFACT_STORE_URL")
    s3_endpoint_url: str | None = Field(default=None, pattern=r"^https?://", validation_alias="S3_ENDPOINT_URL")
    # How the API serves artifacts of a remote store: `proxy` streams ranged reads through the API; `redirect`
    # answers 302 to a presigned URL valid ARTIFACT_URL_TTL_SECONDS (the client's Range goes to the store).
    artifact_delivery: Literal["proxy", "redirect"] = Field(default="proxy", validation_alias="ARTIFACT_DELIVERY")
    artifact_url_ttl_s: int = Field(default=300, ge=10, le=7 * 86_400, validation_alias="ARTIFACT_URL_TTL_SECONDS")
    # How long a worker keeps retrying an artifact upload (store unreachable) before the run ends error [storage].
    storage_retry_s: float = Field(default=120.0, ge=0, validation_alias="STORAGE_RETRY_SECONDS")
    # Retention (days after the run finished; unset = keep): per artifact kind (video, screenshots, debug files:
    # trace, page HTML, console and network logs) for passed runs and for the rest, and for the runs themselves.
    retention_video_passed_days: float | None = Field(
        default=None, ge=0, validation_alias="RETENTION_VIDEO_PASSED_DAYS")
    retention_video_failed_days: float | None = Field(
        default=None, ge=0, validation_alias="RETENTION_VIDEO_FAILED_DAYS")
    retention_screenshots_passed_days: float | None = Field(
        default=None, ge=0, validation_alias="RETENTION_SCREENSHOTS_PASSED_DAYS")
    retention_screenshots_failed_days: float | None = Field(
        default=None, ge=0, validation_alias="RETENTION_SCREENSHOTS_FAILED_DAYS")
    retention_debug_passed_days: float | None = Field(
        default=None, ge=0, validation_alias="RETENTION_DEBUG_PASSED_DAYS")
    retention_debug_failed_days: float | None = Field(
        default=None, ge=0, validation_alias="RETENTION_DEBUG_FAILED_DAYS")
    retention_runs_days: float | None = Field(default=None, ge=0, validation_alias="RETENTION_RUNS_DAYS")
    # How often the fleet runs one retention pass (a BullMQ job scheduler: one pass per interval, whatever the
    # number of workers).
    retention_interval_s: float = Field(default=3600.0, ge=1, validation_alias="RETENTION_INTERVAL_SECONDS")
    # Webhooks (docs/webhooks.md): attempts per delivery, and the first retry's delay, doubling each attempt (BullMQ
    # exponential backoff on the `<QUEUE_NAME>-webhooks` queue).
    webhook_max_attempts: int = Field(default=8, ge=1, le=20, validation_alias="WEBHOOK_MAX_ATTEMPTS")
    webhook_backoff_ms: int = Field(default=2_000, ge=0, validation_alias="WEBHOOK_BACKOFF_MS")
    # Webhooks go to public addresses only (the runs' policy, contract/network.py); these open private ones to
    # them, as BROWSER_ALLOWED_* do for runs: host names or `*.suffix`, and CIDRs. The API, Redis, PostgreSQL
    # and the S3 endpoint stay refused whatever is allowed.
    webhook_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), validation_alias="WEBHOOK_ALLOWED_HOSTS")
    webhook_allowed_networks: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), validation_alias="WEBHOOK_ALLOWED_NETWORKS")
    # Flaky tests (README "Flaky tests and quarantine", contract/flaky.py): a saved recording is quarantined
    # automatically once its flips (and flaky runs) over its last FLAKY_WINDOW_RUNS passed or failed runs reach
    # FLAKY_QUARANTINE_FLIPS (0: never automatically); the window is also the Flaky view's default.
    flaky_quarantine_flips: int = Field(default=3, ge=0, le=1000, validation_alias="FLAKY_QUARANTINE_FLIPS")
    flaky_window_runs: int = Field(default=20, ge=2, le=500, validation_alias="FLAKY_WINDOW_RUNS")
    # debug | info | warn | error, in any case.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_format: Literal["json", "console"] = Field(default="json", validation_alias="LOG_FORMAT")
    # Which process this container runs, for `reprise health` (the image's HEALTHCHECK).
    role: Literal["api", "worker"] = Field(default="api", validation_alias="REPRISE_ROLE")
    api_host: str = Field(default="127.0.0.1", validation_alias="API_HOST")
    api_port: int = Field(default=8000, ge=0, le=65535, validation_alias="API_PORT")
    # The address people and tools reach the API at (run links, `Location`), e.g. https://reprise.example.com;
    # unset = http://API_HOST:API_PORT. Never taken from a request's Host header.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$",
                                   validation_alias="PUBLIC_URL")
    # `keys`: every route but the health probes and the dashboard's login asks for an API key (README "Security");
    # `none`: no credential at all, accepted only while the API listens on loopback (`reprise api` refuses else).
    auth: Literal["keys", "none"] = Field(default="keys", validation_alias="AUTH")
    # How long a dashboard login lasts (an HttpOnly, SameSite=Strict cookie naming a session kept in Postgres).
    session_ttl_hours: float = Field(default=12.0, gt=0, le=24 * 30, validation_alias="SESSION_TTL_HOURS")
    # Hostile-input limits (docs/limits.md). A request body larger than this is refused (413) before it is read
    # into memory or parsed.
    api_max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, validation_alias="API_MAX_BODY_BYTES")
    # Requests per minute per client (API key, else address), a Redis token bucket (bursts up to the same
    # number); over it: 429 with Retry-After. 0 = no limit. /api/health* is never limited.
    api_rate_limit_per_minute: int = Field(default=1200, ge=0, validation_alias="API_RATE_LIMIT_PER_MINUTE")
    # Event streams (`GET /api/events`) one client may hold open at once on one API process; over it: 429.
    api_max_event_streams: int = Field(default=10, ge=1, validation_alias="API_MAX_EVENT_STREAMS")
    # Origins allowed to call the API from a browser (CORS), comma-separated; unset = no CORS headers at all.
    api_cors_origins: str | None = Field(default=None, validation_alias="API_CORS_ORIGINS")
    # How long an Idempotency-Key is remembered (a repeated POST returns the first run); after it, the key can
    # queue a new run.
    idempotency_key_ttl_s: int = Field(default=86_400, ge=1, validation_alias="IDEMPOTENCY_KEY_TTL_SECONDS")
    # Workers: the most one run's artifacts (video, screenshots, trace, logs) may take in the store; what comes
    # after the cap is skipped and the run says so.
    run_artifacts_max_bytes: int = Field(default=500 * 1024 * 1024, ge=0, validation_alias="RUN_ARTIFACTS_MAX_BYTES")
    # Workers only: serve Prometheus `/metrics` and `/healthz` on this port (every interface); unset = no server.
    # The API serves `/metrics` on its own port.
    metrics_port: int | None = Field(default=None, ge=1, le=65535, validation_alias="METRICS_PORT")
    chromium_path: str = Field(default="/usr/bin/chromium", validation_alias="CHROMIUM_PATH")
    # JavaScript heap limit of each page's renderer: a page that allocates without end crashes alone.
    browser_js_heap_mb: int = Field(default=2048, ge=64, validation_alias="BROWSER_JS_HEAP_MB")
    # The run's browser reaches only public addresses (docs/network-policy.md); these open what a deployment
    # needs: host names or `*.suffix` patterns (any address they resolve to), and CIDRs. Comma-separated. The API,
    # Redis and PostgreSQL stay unreachable whatever is allowed.
    browser_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), validation_alias="BROWSER_ALLOWED_HOSTS")
    browser_allowed_networks: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), validation_alias="BROWSER_ALLOWED_NETWORKS")

    @field_validator("artifact_store_url")
    @classmethod
    def _store_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme == "s3":
            if not parts.netloc:
                raise ValueError(f"{value!r} names no bucket (expected s3://bucket or s3://bucket/prefix)")
        elif parts.scheme not in ("", "file"):
            raise ValueError(f"{value!r}: expected s3://bucket/prefix, file:///folder or a folder")
        return value

    @field_validator("browser_allowed_hosts", "webhook_allowed_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: object) -> tuple[str, ...]:
        hosts = parse_list(value)
        for host in hosts:
            if any(char.isspace() or char in "/:@" for char in host) or "*" in host.removeprefix("*."):
                raise ValueError(f"{host!r}: expected a host name or *.suffix (e.g. staging.internal,*.corp.example)")
        return hosts

    @field_validator("browser_allowed_networks", "webhook_allowed_networks", mode="before")
    @classmethod
    def _network_list(cls, value: object) -> tuple[str, ...]:
        networks = []
        for item in parse_list(value):
            try:
                networks.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ValueError(f"{item!r}: expected a CIDR such as 10.20.0.0/16 or fd00:1::/64") from None
        return tuple(networks)

    @field_validator("public_url", mode="before")
    @classmethod
    def _unset_url(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().rstrip("/") or None
        return value

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _unset_port(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_name(cls, value: object) -> object:
        """`debug|info|warn|error` in any case (the operational contract), and `warning` too."""
        if not isinstance(value, str):
            return value
        upper = value.strip().upper()
        return "WARNING" if upper == "WARN" else upper

    @property
    def listens_on_loopback(self) -> bool:
        return self.api_host.strip("[]") in LOOPBACK_HOSTS

    @property
    def cors_origins(self) -> list[str]:
        return [origin.strip().rstrip("/") for origin in (self.api_cors_origins or "").split(",") if origin.strip()]

    @property
    def api_base_url(self) -> str:
        """Where the API is reached: PUBLIC_URL, else its own listening address."""
        if self.public_url:
            return self.public_url
        host = self.api_host if self.api_host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.api_port}"
