"""One settings class for every entry point, read from the environment (and `.env`).

Built once by an entry point (`reprise api`, `reprise worker`, `reprise run`, tests) and passed down.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_worker_name() -> str:
    return f"worker-{os.getpid()}"


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
    # Scratch space for replays in progress (`<dir>/<worker name>`), wiped when the worker starts and stops.
    work_dir: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()) / "reprise-work",
                           validation_alias="WORKER_WORK_DIR")
    video_storage_path: Path = Field(default=Path("artifacts/videos"), validation_alias="VIDEO_STORAGE_PATH")
    screenshot_storage_path: Path = Field(
        default=Path("artifacts/screenshots"), validation_alias="SCREENSHOT_STORAGE_PATH"
    )
    artifact_storage_path: Path = Field(default=Path("artifacts/files"), validation_alias="ARTIFACT_STORAGE_PATH")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_format: Literal["json", "console"] = Field(default="json", validation_alias="LOG_FORMAT")
    api_host: str = Field(default="127.0.0.1", validation_alias="API_HOST")
    api_port: int = Field(default=8000, ge=0, le=65535, validation_alias="API_PORT")
    chromium_path: str = Field(default="/usr/bin/chromium", validation_alias="CHROMIUM_PATH")
    # JavaScript heap limit of each page's renderer: a page that allocates without end crashes alone.
    browser_js_heap_mb: int = Field(default=2048, ge=64, validation_alias="BROWSER_JS_HEAP_MB")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value
