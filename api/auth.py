"""Who is asking: an API key (`Authorization: Bearer rk_...`) or a dashboard session (an HttpOnly,
SameSite=Strict cookie), and whether its scope covers the route (contract.access).

Each route declares what it needs, visible in its decorator: `dependencies=needs(Scope.RUN)`. The dependency
puts the `Principal` on `request.state.principal` (routes that record who did something read it there).

- no credential, or an unknown/revoked key, or an expired session: 401 (`NotAuthenticated`);
- a scope too small: 403 (`NotAllowed`);
- a cookie session changing state (any method but GET/HEAD/OPTIONS) must send `X-Reprise-CSRF` with the token
  `GET /api/session` returned; another site can neither read that token nor set a custom header without a CORS
  preflight the API never allows; a request the browser marks `Sec-Fetch-Site: cross-site` is refused outright.
  Bearer keys need no token: a browser never adds them by itself.

Keys and sessions are checked in Postgres on each request, with an in-process cache of `CACHE_S` seconds, so a
revoked key stops working within that.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import NotAllowed, NotAuthenticated
from contract.access import Scope
from storage import KeyRepository

SESSION_COOKIE = "reprise_session"
CSRF_HEADER = "X-Reprise-CSRF"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CACHE_S = 2.0
MAX_CACHED = 1000
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Principal:
    name: str  # the key's name: what runs and queue actions record
    scope: Scope
    via: Literal["key", "session", "none"]
    key_id: str | None = None
    csrf_token: str | None = None


class Authenticator:
    """Turns a request's credential into a Principal. `mode="none"` (AUTH=none): everyone is an anonymous admin."""

    def __init__(self, keys: KeyRepository, *, mode: Literal["keys", "none"], session_ttl_s: float) -> None:
        self.keys = keys
        self.mode = mode
        self.session_ttl_s = session_ttl_s
        self._cache: dict[tuple[str, str], tuple[float, Principal | None]] = {}

    async def _cached(self, kind: str, secret: str,
                      load: Callable[[], Awaitable[Principal | None]]) -> Principal | None:
        now = time.monotonic()
        hit = self._cache.get((kind, secret))
        if hit is not None and hit[0] > now:
            return hit[1]
        principal = await load()
        if len(self._cache) >= MAX_CACHED:  # bounded, whatever a flood of made-up keys does
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
        self._cache[(kind, secret)] = (now + CACHE_S, principal)
        return principal

    async def key(self, key: str) -> Principal | None:
        async def load() -> Principal | None:
            record = await self.keys.verify(key)
            return Principal(record.name, record.scope, "key", record.id) if record is not None else None

        return await self._cached("key", key, load)

    async def session(self, secret: str) -> Principal | None:
        async def load() -> Principal | None:
            record = await self.keys.session(secret)
            if record is None:
                return None
            return Principal(record.name, record.scope, "session", record.key_id, record.csrf_token)

        return await self._cached("session", secret, load)

    def forget(self, secret: str) -> None:
        """Drop a credential from the cache (logout)."""
        self._cache.pop(("session", secret), None)
        self._cache.pop(("key", secret), None)

    async def authenticate(self, request: Request) -> Principal:
        if self.mode == "none":
            return Principal(ANONYMOUS, Scope.ADMIN, "none")
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, credential = header.partition(" ")
            if scheme.lower() != "bearer" or not credential.strip():
                raise NotAuthenticated("the Authorization header must be `Bearer <API key>`")
            principal = await self.key(credential.strip())
            if principal is None:
                raise NotAuthenticated("the API key is unknown or revoked")
            return principal
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            principal = await self.session(cookie)
            if principal is None:
                raise NotAuthenticated("the dashboard session expired or was closed: log in again")
            if request.method not in SAFE_METHODS:
                _check_csrf(request, principal)
            return principal
        raise NotAuthenticated("an API key is needed: send `Authorization: Bearer <key>` "
                               "(create one with `reprise keys create`)")


def _check_csrf(request: Request, principal: Principal) -> None:
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise NotAllowed("a cross-site request cannot use the dashboard session")
    sent = request.headers.get(CSRF_HEADER, "")
    if not principal.csrf_token or not hmac.compare_digest(sent.encode(), principal.csrf_token.encode()):
        raise NotAllowed(f"a dashboard session must send its {CSRF_HEADER} header to change anything")


def authenticator(request: Request) -> Authenticator:
    return cast(Authenticator, request.app.state.auth)


# Only for the OpenAPI document (a "bearer" security scheme on each guarded route, and /docs's Authorize button):
# the header is read by Authenticator, which also accepts the dashboard's session cookie.
_BEARER_DOC = HTTPBearer(auto_error=False, bearerFormat="rk_<id>_<secret>",
                         description="An API key: `reprise keys create --name NAME --scope read|run|admin`")


def require(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the request's Principal, when its scope covers `scope` (401/403 otherwise)."""

    async def dependency(
        request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER_DOC)] = None,
    ) -> Principal:
        principal = await authenticator(request).authenticate(request)
        if not principal.scope.allows(scope):
            raise NotAllowed(f"this needs a key with scope {scope.value!r} (or wider); "
                             f"key {principal.name!r} has {principal.scope.value!r}")
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{scope.value}"
    cast(Any, dependency).scope = scope
    return dependency


def needs(scope: Scope) -> list[DependsParam]:
    """`dependencies=needs(Scope.RUN)` on a route."""
    return [Depends(require(scope))]


def actor(request: Request) -> str:
    """The name of who made this request (for runs and queue actions that record it)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal.name if principal is not None else ANONYMOUS


def is_admin(request: Request) -> bool:
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal is not None and principal.scope is Scope.ADMIN
