"""Every domain error becomes HTTP here, and nowhere else.

Body of every error: `{"error": <code>, "message": <one line>, "fields": [{"field", "message"}]?}`; a 410 for
an artifact retention removed adds `removedAt` and `removedBy`. Whatever raised it: a domain error, a
request that fails validation, Starlette's own 404/405, a body that is not JSON or not UTF-8, a document too
deep to decode, a value Postgres refuses (a NUL character, a number out of range), a rate limit, and, as a
last resort that no input should reach, any other exception (a 500 in the same shape, logged).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import redis.exceptions
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.headers import API_CONTENT_SECURITY_POLICY, SECURITY_HEADERS
from contract import limits
from contract.network import BlockedUrl
from runner.formats import InvalidScript
from storage.errors import (
    ArtifactNotFound,
    ArtifactRemoved,
    ArtifactStoreError,
    BaselineNotFound,
    DeliveryNotFound,
    InvalidTransition,
    KeyNameTaken,
    KeyNotFound,
    RangeNotSatisfiable,
    RecordingNotFound,
    RunNotFound,
    ScheduleNotFound,
    StorageError,
    SuiteNameTaken,
    SuiteNotFound,
    SuiteRunNotFound,
    WebhookNotFound,
)

log = structlog.get_logger(__name__)


class NotAuthenticated(Exception):
    """No credential, or one that is unknown, revoked or expired: 401 with `WWW-Authenticate: Bearer`."""


class NotAllowed(Exception):
    """A credential whose scope does not cover the route, or a cookie session's state change without its CSRF
    token: 403."""


class ServiceUnavailable(Exception):
    """A dependency (database, Redis) did not answer."""

    def __init__(self, dependency: str, detail: str) -> None:
        super().__init__(f"{dependency} is unavailable: {detail}")
        self.dependency = dependency


class Conflict(Exception):
    """The request cannot be carried out in the resource's current state (409)."""


class InvalidField(Exception):
    """A request field that is well formed but cannot be used (a recording that does not exist, a timezone for a
    schedule that runs every N ms): 422 naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class IdempotencyKeyReused(Exception):
    """An Idempotency-Key already used with another request body (422 naming the header)."""


class InvalidBatch(Exception):
    """Runs of a batch that cannot be queued, each named by where it is (`runs[3].script.steps[1].url`): 422, and
    nothing of the batch was stored or queued. `code` is the first problem's (invalid_script, blocked_url)."""

    def __init__(self, code: str, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems[:5])
                         + (f"; and {len(problems) - 5} more" if len(problems) > 5 else ""))
        self.code = code
        self.problems = problems


class TooManyRequests(Exception):
    """A client went over a per-client limit (rate, event streams): 429 with Retry-After."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


_HTTP_CODES = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "payload_too_large",
               415: "unsupported_media_type", 429: "rate_limited"}


def _field_path(location: tuple[Any, ...] | list[Any]) -> str:
    path = ""
    for part in location:
        if part in ("body", "query", "path") and not path:
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def error_body(code: str, message: str, fields: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "message": message}
    if fields is not None:
        body["fields"] = fields
    return body


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        # A validator's own message (unknown device, time zone) without pydantic's "Value error, " prefix.
        fields = [{"field": "body" if item.get("type") == "json_invalid" else _field_path(item["loc"]),
                   "message": _message(item)} for item in error.errors()]
        message = "; ".join(f"{item['field']}: {item['message']}" for item in fields)
        return JSONResponse(error_body("invalid_request", message, fields), status_code=422)

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(_: Request, error: NotAuthenticated) -> JSONResponse:
        return JSONResponse(error_body("unauthorized", str(error)), status_code=401,
                            headers={"WWW-Authenticate": 'Bearer realm="reprise"'})

    @app.exception_handler(NotAllowed)
    async def not_allowed(_: Request, error: NotAllowed) -> JSONResponse:
        return JSONResponse(error_body("forbidden", str(error)), status_code=403)

    @app.exception_handler(KeyNotFound)
    async def key_not_found(_: Request, error: KeyNotFound) -> JSONResponse:
        return JSONResponse(error_body("not_found", str(error)), status_code=404)

    @app.exception_handler(KeyNameTaken)
    async def key_name_taken(_: Request, error: KeyNameTaken) -> JSONResponse:
        return JSONResponse(error_body("conflict", str(error)), status_code=409)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        headers = dict(error.headers or {})
        if error.status_code == 405:
            # Starlette names the methods of the first route whose path matched; the path may have others.
            headers["Allow"] = ", ".join(_allowed_methods(request))
        if error.status_code == 400:
            # FastAPI's "There was an error parsing the body": not UTF-8, or nested too deep to decode.
            message = ("body: not a JSON document this API can read (UTF-8 JSON, nested at most "
                       f"{limits.MAX_DEPTH} levels)")
            return JSONResponse(error_body("invalid_request", message, [{"field": "body", "message": message}]),
                                status_code=422)
        code = _HTTP_CODES.get(error.status_code, "http_error")
        return JSONResponse(error_body(code, str(error.detail)), status_code=error.status_code, headers=headers)

    @app.exception_handler(RecursionError)
    async def too_deep(_: Request, error: RecursionError) -> JSONResponse:
        message = f"body: nested too deep (at most {limits.MAX_DEPTH} levels)"
        return JSONResponse(error_body("invalid_request", message, [{"field": "body", "message": message}]),
                            status_code=422)

    @app.exception_handler(asyncpg.DataError)
    async def data_refused(_: Request, error: asyncpg.DataError) -> JSONResponse:
        # A value the model let through but Postgres refuses (NUL in text, a number or date out of range):
        # the client's, so a 422; the validation that should have named the field is the bug to fix.
        log.warning("value refused by the database", error=str(error))
        return JSONResponse(error_body("invalid_request", f"a value cannot be stored: {error}"), status_code=422)

    @app.exception_handler(IdempotencyKeyReused)
    async def key_reused(_: Request, error: IdempotencyKeyReused) -> JSONResponse:
        fields = [{"field": "Idempotency-Key", "message": str(error)}]
        return JSONResponse(error_body("idempotency_key_reused", str(error), fields), status_code=422)

    @app.exception_handler(InvalidBatch)
    async def batch_invalid(_: Request, error: InvalidBatch) -> JSONResponse:
        fields = [{"field": field, "message": message} for field, message in error.problems]
        return JSONResponse(error_body(error.code, str(error), fields), status_code=422)

    @app.exception_handler(InvalidField)
    async def field_invalid(_: Request, error: InvalidField) -> JSONResponse:
        fields = [{"field": error.field, "message": error.message}]
        return JSONResponse(error_body("invalid_request", str(error), fields), status_code=422)

    @app.exception_handler(Conflict)
    async def conflict(_: Request, error: Conflict) -> JSONResponse:
        return JSONResponse(error_body("conflict", str(error)), status_code=409)

    @app.exception_handler(TooManyRequests)
    async def too_many(_: Request, error: TooManyRequests) -> JSONResponse:
        return too_many_response(str(error), error.retry_after_s)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("unexpected error", path=request.url.path, error=repr(error), exc_info=error)
        return JSONResponse(error_body("internal_error", "an unexpected error occurred; it was logged"),
                            status_code=500,
                            headers={**SECURITY_HEADERS, "content-security-policy": API_CONTENT_SECURITY_POLICY})

    @app.exception_handler(InvalidScript)
    async def script_invalid(_: Request, error: InvalidScript) -> JSONResponse:
        field = f"script.{error.field}" if error.field else "script"
        fields = [{"field": field, "message": error.message}]
        return JSONResponse(error_body("invalid_script", f"{field}: {error.message}", fields), status_code=422)

    @app.exception_handler(BlockedUrl)
    async def url_blocked(_: Request, error: BlockedUrl) -> JSONResponse:
        fields = [{"field": error.field, "message": error.message}]
        return JSONResponse(error_body("blocked_url", f"{error.field}: {error.message}", fields), status_code=422)

    @app.exception_handler(RunNotFound)
    async def run_not_found(_: Request, error: RunNotFound) -> JSONResponse:
        return JSONResponse(error_body("not_found", str(error)), status_code=404)

    @app.exception_handler(ArtifactNotFound)
    async def artifact_not_found(_: Request, error: ArtifactNotFound) -> JSONResponse:
        return JSONResponse(error_body("not_found", str(error)), status_code=404)

    @app.exception_handler(ArtifactRemoved)
    async def artifact_removed(_: Request, error: ArtifactRemoved) -> JSONResponse:
        body = error_body("gone", str(error))
        body["removedAt"] = error.removed_at.isoformat()
        body["removedBy"] = error.removed_by
        return JSONResponse(body, status_code=410)

    @app.exception_handler(RecordingNotFound)
    async def recording_not_found(_: Request, error: RecordingNotFound) -> JSONResponse:
        return JSONResponse(error_body("not_found", str(error)), status_code=404)

    @app.exception_handler(BaselineNotFound)
    async def baseline_not_found(_: Request, error: BaselineNotFound) -> JSONResponse:
        return JSONResponse(error_body("not_found", str(error)), status_code=404)

    @app.exception_handler(ScheduleNotFound)
    async def schedule_not_found(_: Request, error: ScheduleNotFound) -> JSONResponse:
        return JSONResponse(error_body("not_found", str(error)), status_code=404)

    @app.exception_handler(SuiteNotFound)
    async def suite_not_found(_: Request, error: SuiteNotFound) -> JSONResponse:
        return JSONResponse(error_body("not_found", str(error)), status_code=404)

    @app.exception_handler(SuiteRunNotFound)
    async def suite_run_not_found(_: Request, error: SuiteRunNotFound) -> JSONResponse:
        return JSONResponse(error_body("not_found", str(error)), status_code=404)

    @app.exception_handler(SuiteNameTaken)
    async def suite_name_taken(_: Request, error: SuiteNameTaken) -> JSONResponse:
        fields = [{"field": "name", "message": str(error)}]
        return JSONResponse(error_body("conflict", str(error), fields), status_code=409)

    @app.exception_handler(WebhookNotFound)
    @app.exception_handler(DeliveryNotFound)
    async def webhook_not_found(_: Request, error: StorageError) -> JSONResponse:
        return JSONResponse(error_body("not_found", str(error)), status_code=404)

    @app.exception_handler(InvalidTransition)
    async def invalid_transition(_: Request, error: InvalidTransition) -> JSONResponse:
        return JSONResponse(error_body("conflict", str(error)), status_code=409)

    @app.exception_handler(RangeNotSatisfiable)
    async def range_not_satisfiable(_: Request, error: RangeNotSatisfiable) -> JSONResponse:
        return JSONResponse(error_body("range_not_satisfiable", str(error)), status_code=416,
                            headers={"Content-Range": f"bytes */{error.size}"})

    @app.exception_handler(ArtifactStoreError)
    async def store_unavailable(_: Request, error: ArtifactStoreError) -> JSONResponse:
        log.warning("artifact store unavailable", error=str(error))
        return _unavailable(f"the artifact store is unavailable: {error}")

    @app.exception_handler(StorageError)
    async def storage_error(_: Request, error: StorageError) -> JSONResponse:
        log.error("storage error", error=str(error))
        return JSONResponse(error_body("storage_error", str(error)), status_code=500)

    def unavailable_handler(dependency: str) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
        async def handle(_: Request, error: Exception) -> JSONResponse:
            log.warning("dependency unavailable", dependency=dependency, error=str(error))
            return _unavailable(f"{dependency} is unavailable: {error}")

        return handle

    @app.exception_handler(ServiceUnavailable)
    async def unavailable(_: Request, error: ServiceUnavailable) -> JSONResponse:
        return _unavailable(str(error))

    for database_error in (asyncpg.CannotConnectNowError, asyncpg.ConnectionDoesNotExistError,
                           asyncpg.InterfaceError, asyncpg.PostgresConnectionError):
        app.add_exception_handler(database_error, unavailable_handler("database"))
    # asyncpg raises the builtin ConnectionError (refused, reset) when the server is gone.
    app.add_exception_handler(ConnectionError, unavailable_handler("a dependency"))
    for redis_error in (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        app.add_exception_handler(redis_error, unavailable_handler("redis"))


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for path_regex, route_methods in getattr(request.app.state, "method_table", ()):
        if path_regex.match(request.url.path):
            methods |= route_methods
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _message(item: Any) -> str:
    """A validator's own message (unknown device, time zone) without pydantic's "Value error, " prefix; a
    body that is not JSON says where."""
    if item.get("type") == "json_invalid":
        return f"not valid JSON: {item.get('ctx', {}).get('error', 'decode error')} at character {item['loc'][-1]}"
    return str(item["msg"]).removeprefix("Value error, ")


def too_many_response(message: str, retry_after_s: int) -> JSONResponse:
    return JSONResponse(error_body("rate_limited", message), status_code=429,
                        headers={"Retry-After": str(max(1, retry_after_s))})


def _unavailable(message: str) -> JSONResponse:
    return JSONResponse(error_body("unavailable", message), status_code=503, headers={"Retry-After": "5"})
