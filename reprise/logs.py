"""structlog setup: JSON lines in production, readable lines in a terminal.

Every JSON line has `level` (`debug`, `info`, `warn`, `error`), `timestamp` (ISO 8601, UTC) and `message`,
then its context: `worker` on every worker line, `jobId`, `runId`, `attempt` while a job is processed (bound
once with structlog's contextvars, not repeated per call). Lines of libraries that log through the standard
library (uvicorn, bullmq) get the same shape, with `logger` naming the library.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

# The operational contract's level names (the SaveAction worker document): `warn`, not `warning`.
LEVEL_NAMES = {"warning": "warn", "critical": "error", "exception": "error"}


def _contract_level(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    level = event.get("level")
    if isinstance(level, str):
        event["level"] = LEVEL_NAMES.get(level, level)
    return event


def configure_logging(level: str = "INFO", fmt: Literal["json", "console"] = "json") -> None:
    numeric_level = logging.getLevelName(level.upper())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _contract_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]
    rendering: list[Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.EventRenamer("message"),
         structlog.processors.JSONRenderer()]
        if fmt == "json" else [structlog.dev.ConsoleRenderer(colors=False)]
    )
    structlog.configure(
        processors=[*shared, *rendering],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries that use the standard library's logging (uvicorn, bullmq): the same lines, to stderr.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
    ))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric_level)
