"""Retrying a call while a dependency is unreachable: Postgres restarting or failing over, the artifact
store down for a while.

The worker must not lose a run's result because Postgres restarted under it: its writes retry with backoff
for up to DATABASE_RETRY_SECONDS; its artifact uploads for up to STORAGE_RETRY_SECONDS. The API does not
retry (a request answers 503 at once).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import structlog

from storage.errors import ArtifactStoreError

log = structlog.get_logger(__name__)

T = TypeVar("T")

# What a lost or refused connection looks like: refused/reset sockets (OSError), a connection closed
# under a query, and the server saying it is shutting down or still starting.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
)
FIRST_DELAY_S = 0.2
MAX_DELAY_S = 5.0


def is_connection_error(error: BaseException) -> bool:
    return isinstance(error, CONNECTION_ERRORS) or isinstance(error, TimeoutError)


def is_transient_store_error(error: BaseException) -> bool:
    return isinstance(error, ArtifactStoreError) and error.transient


async def retry_while(call: Callable[[], Awaitable[T]], *, transient: Callable[[BaseException], bool],
                      for_seconds: float, what: str, event: str = "dependency unavailable, retrying",
                      max_delay_s: float = MAX_DELAY_S) -> T:
    """`call()`, again after a growing pause while it fails in a `transient` way, for up to `for_seconds`."""
    deadline = time.monotonic() + for_seconds
    delay = FIRST_DELAY_S
    while True:
        try:
            return await call()
        except Exception as error:
            if not transient(error) or time.monotonic() + delay > deadline:
                raise
            log.warning(event, operation=what, error=repr(error), retryInS=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)


async def retry_database(call: Callable[[], Awaitable[T]], *, for_seconds: float, what: str) -> T:
    """`call()`, again while it fails with a connection error, for up to `for_seconds`."""
    return await retry_while(call, transient=is_connection_error, for_seconds=for_seconds, what=what,
                             event="database unavailable, retrying")
