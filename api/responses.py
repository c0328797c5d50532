"""The error responses each route documents in the OpenAPI, in the one error shape (api/errors.py).

Route-specific statuses (404, 409, 410, 416) are declared on the route with `responses=errors(...)`;
`declare_common_errors(routers)` adds those every route of a kind can answer: 401 and 403 (a route that needs a
key), 422 (bad parameters or body),
413 (a body), 429 (the rate limit), 503 (a dependency down). So the schema says every status the API can
really give (the fuzz test, tests/integration/test_fuzz_api.py, checks it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

DESCRIPTIONS = {
    401: "No valid API key",
    403: "The API key's scope does not allow this",
    404: "Not found",
    409: "Conflicts with the resource's current state",
    410: "Gone: retention removed it",
    413: "The request body is larger than API_MAX_BODY_BYTES",
    416: "The range is not satisfiable",
    422: "Invalid request: `fields` names each invalid field",
    429: "Too many requests from this client: wait Retry-After seconds",
    503: "A dependency (database, Redis, artifact store) is unavailable: retry after Retry-After seconds",
}


class FieldProblem(BaseModel):
    field: str = Field(description="Where: `script.steps[2].selectors`, `limit`, `body`")
    message: str


class ErrorBody(BaseModel):
    """Every error the API answers."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="A stable code: invalid_request, invalid_script, not_found, conflict, ...")
    message: str = Field(description="One line for people")
    fields: list[FieldProblem] | None = None


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody, "description": DESCRIPTIONS[code]} for code in codes}


def declare_common_errors(routers: Iterable[APIRouter], *, unlimited_prefixes: tuple[str, ...]) -> None:
    """Add to every /api route the errors any such route can answer (before the routers are included)."""
    for route in (route for router in routers for route in router.routes):
        if not isinstance(route, APIRoute):
            continue
        codes = []
        if any(hasattr(depends.dependency, "scope") for depends in route.dependencies):  # api.auth.needs(...)
            codes += [401, 403]
        if not route.path.startswith("/api/"):  # /metrics: only the key's answers
            _declare(route, codes)
            continue
        codes.append(503)
        if route.dependant.query_params or route.dependant.path_params or route.dependant.header_params \
                or route.body_field is not None:
            codes.append(422)
        if route.body_field is not None or {"POST", "PUT", "PATCH"} & (route.methods or set()):
            codes.append(413)
        if not route.path.startswith(unlimited_prefixes):
            codes.append(429)
        _declare(route, codes)


def _declare(route: APIRoute, codes: list[int]) -> None:
    for code in codes:
        # By reference: a route's `responses` models are compiled when the route is made, so a response added
        # now names the schema the routes with `errors(...)` put in the components.
        route.responses.setdefault(code, {"description": DESCRIPTIONS[code], "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}})
