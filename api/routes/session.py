"""Dashboard login: paste an API key (`POST /api/session`) or follow a one-time link (`GET /login?token=...`,
printed by `reprise dev`); either opens a session held in an HttpOnly, SameSite=Strict cookie. `GET /api/session`
says who is logged in and returns the CSRF token state-changing requests must send (api.auth); `DELETE` logs out.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import Field

from api.auth import CSRF_HEADER, SESSION_COOKIE, Principal, authenticator, needs
from api.errors import NotAllowed, NotAuthenticated
from api.responses import errors
from contract.access import Scope
from contract.options import CamelModel
from storage import NewSession

router = APIRouter(tags=["session"])


class LoginRequest(CamelModel):
    key: str = Field(min_length=1, max_length=200, description="An API key (`rk_...`)")


class SessionPublic(CamelModel):
    name: str = Field(description="Name of the key the session (or request) acts as")
    scope: Scope
    via: Literal["key", "session", "none"]
    csrf_token: str | None = Field(description=f"Send it as `{CSRF_HEADER}` with every state-changing request "
                                               "made with the session cookie; null for bearer keys")


def _set_cookie(response: Response, request: Request, session: NewSession, ttl_s: float) -> None:
    response.set_cookie(SESSION_COOKIE, session.secret, max_age=int(ttl_s), path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


@router.post("/api/session", status_code=201, response_model=SessionPublic, responses=errors(401))
async def login(body: LoginRequest, request: Request, response: Response) -> SessionPublic:
    """Log in with an API key: sets the session cookie (HttpOnly, SameSite=Strict)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise NotAllowed("log in from the dashboard itself")
    auth = authenticator(request)
    key = await auth.keys.verify(body.key)
    if key is None:
        raise NotAuthenticated("the API key is unknown or revoked")
    session = await auth.keys.open_session(key, ttl_s=auth.session_ttl_s)
    _set_cookie(response, request, session, auth.session_ttl_s)
    return SessionPublic(name=key.name, scope=key.scope, via="session", csrf_token=session.csrf_token)


@router.get("/api/session", response_model=SessionPublic, dependencies=needs(Scope.READ))
async def current_session(request: Request) -> SessionPublic:
    """Who this request acts as, and the session's CSRF token."""
    principal: Principal = request.state.principal
    return SessionPublic(name=principal.name, scope=principal.scope, via=principal.via,
                         csrf_token=principal.csrf_token)


@router.delete("/api/session", status_code=204, dependencies=needs(Scope.READ))
async def logout(request: Request) -> Response:
    """End the dashboard session (the cookie is cleared)."""
    secret = request.cookies.get(SESSION_COOKIE)
    response = Response(status_code=204)
    if secret:
        auth = authenticator(request)
        await auth.keys.close_session(secret)
        auth.forget(secret)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/login", include_in_schema=False)
async def login_link(request: Request, token: Annotated[str, Query(max_length=200)] = "") -> Response:
    """A one-time login link: the token opens a session once, then the dashboard."""
    auth = authenticator(request)
    key = await auth.keys.use_login_token(token) if token else None
    if key is None:
        return RedirectResponse("/?login=invalid", status_code=303)
    session = await auth.keys.open_session(key, ttl_s=auth.session_ttl_s)
    response = RedirectResponse("/", status_code=303, headers={"Cache-Control": "no-store",
                                                               "Referrer-Policy": "no-referrer"})
    _set_cookie(response, request, session, auth.session_ttl_s)
    return response
