"""API keys and scopes (api.auth), against the real app, Postgres and Redis.

The first test is generated from the app's routes: a route added without an auth dependency fails it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from api.auth import CSRF_HEADER, SESSION_COOKIE
from contract.access import Scope
from contract.settings import Settings
from storage import KeyRepository

from services import api_client_for, make_key, wait_for

# Routes anyone may call: the probes, the dashboard's shell and login, and the API docs (no data in any).
PUBLIC = {
    ("GET", "/api/health"),
    ("GET", "/api/health/live"),
    ("GET", "/"),
    ("POST", "/api/session"),
    ("GET", "/login"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/init.js"),  # the docs page's own script (no CDN: api/docs.py)
}
# What each route needs: GET read, anything else run, except these.
ADMIN = {
    ("POST", "/api/queue/pause"),
    ("POST", "/api/queue/resume"),
    ("POST", "/api/dead-letter/{run_id}/retry"),
    ("GET", "/api/keys"),
    ("POST", "/api/keys"),
    ("DELETE", "/api/keys/{key_id}"),
    ("POST", "/api/schedules"),
    ("PATCH", "/api/schedules/{schedule_id}"),
    ("DELETE", "/api/schedules/{schedule_id}"),
    ("POST", "/api/schedules/{schedule_id}/pause"),
    ("POST", "/api/schedules/{schedule_id}/resume"),
    # Webhooks, reading too: a subscription's URL may be a credential (a Slack incoming webhook's).
    ("POST", "/api/webhooks"),
    ("GET", "/api/webhooks"),
    ("GET", "/api/webhooks/{webhook_id}"),
    ("PATCH", "/api/webhooks/{webhook_id}"),
    ("DELETE", "/api/webhooks/{webhook_id}"),
    ("GET", "/api/webhooks/{webhook_id}/deliveries"),
    ("POST", "/api/webhooks/{webhook_id}/test"),
    ("POST", "/api/webhooks/deliveries/{delivery_id}/redeliver"),
}
ANY_KEY = {("DELETE", "/api/session")}  # logging out
# An endless event stream: httpx's ASGI transport would wait for its end (its 401 and 403 are checked).
NOT_CALLED_WITH_ACCESS = {("GET", "/api/events")}

SCRIPT = {"title": "t", "steps": [{"type": "navigate", "url": "http://127.0.0.1:9/"}]}


def _dummy(annotation: Any) -> str:
    if annotation is uuid.UUID:
        return str(uuid.uuid4())
    if annotation is int:
        return "1"
    return "x"


def api_routes(routes: list[Any]) -> list[Route]:
    """Every route (the API's and the app's own, such as /docs), those of included routers too (FastAPI keeps them
    behind a wrapper holding the router)."""
    found: list[Route] = []
    for route in routes:
        if isinstance(route, Route):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += api_routes(route.original_router.routes)
    return found


def routes(app: Any) -> list[tuple[str, str, str]]:
    """(method, path template, a concrete path) for every route of the app."""
    found = []
    for route in api_routes(app.routes):
        path = route.path
        for param in route.dependant.path_params if isinstance(route, APIRoute) else []:
            path = path.replace("{" + param.name + "}", _dummy(param.field_info.annotation))
        for method in sorted(route.methods or ()):
            if method == "HEAD" and "GET" in (route.methods or ()):
                continue
            found.append((method, route.path, path))
    return found


def needed(method: str, template: str) -> Scope | None:
    if (method, template) in PUBLIC:
        return None
    if (method, template) in ADMIN:
        return Scope.ADMIN
    if (method, template) in ANY_KEY or method == "GET":
        return Scope.READ
    return Scope.RUN


@pytest.fixture
async def anonymous(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client_for(settings, scope=None) as client:
        yield client


async def test_every_route_but_the_public_ones_needs_a_key_of_the_right_scope(
    anonymous: httpx.AsyncClient,
) -> None:
    app = anonymous.app  # type: ignore[attr-defined]
    keys = {scope: {"Authorization": f"Bearer {await make_key(app, scope)}"} for scope in Scope}
    table = routes(app)
    assert len(table) >= 30, table  # the generator found the routes
    documented = {(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}
    assert documented <= {(m, t) for m, t, _ in table}, "routes the generator missed"
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            guarded = needed(method.upper(), path) is not None
            assert ("security" in operation) == guarded, f"{method} {path}: OpenAPI security does not say so"
    assert {(m, t) for m, t, _ in table} >= PUBLIC
    checked = 0
    for method, template, path in table:
        scope = needed(method, template)
        if scope is None:
            continue
        bare = await anonymous.request(method, path)
        assert bare.status_code == 401, f"{method} {template} answered {bare.status_code} without a key"
        assert bare.json()["error"] == "unauthorized" and bare.headers["www-authenticate"].startswith("Bearer")
        wrong = await anonymous.request(method, path, headers={"Authorization": "Bearer rk_nope_nope"})
        assert wrong.status_code == 401, f"{method} {template}: an unknown key got {wrong.status_code}"
        smaller = {Scope.RUN: Scope.READ, Scope.ADMIN: Scope.RUN}.get(scope)
        if smaller is not None:
            refused = await anonymous.request(method, path, headers=keys[smaller])
            assert refused.status_code == 403, f"{method} {template} answered {refused.status_code} to {smaller}"
            assert refused.json()["error"] == "forbidden"
        if (method, template) not in NOT_CALLED_WITH_ACCESS:
            allowed = await anonymous.request(method, path, headers=keys[scope])
            assert allowed.status_code not in (401, 403), f"{method} {template} refused a {scope} key: {allowed.text}"
        checked += 1
    assert checked >= 25


async def test_public_routes_answer_without_a_key(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/api/health")).status_code == 200
    assert (await anonymous.get("/api/health/live")).status_code == 200
    assert (await anonymous.get("/")).status_code == 200
    assert (await anonymous.get("/dashboard/app.js")).status_code == 200


async def test_a_revoked_key_stops_working_within_seconds(anonymous: httpx.AsyncClient) -> None:
    app = anonymous.app  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {await make_key(app, Scope.READ, name='soon-gone')}"}
    assert (await anonymous.get("/api/runs", headers=headers)).status_code == 200
    keys: KeyRepository = app.state.auth.keys
    await keys.revoke("soon-gone")

    async def refused() -> bool:
        return (await anonymous.get("/api/runs", headers=headers)).status_code == 401

    await wait_for(refused, timeout=10, what="the revoked key to be refused")
    [listed] = [key for key in await keys.list() if key.name == "soon-gone"]
    assert listed.revoked_at is not None and listed.last_used_at is not None


async def test_runs_and_the_queue_record_who_did_what(anonymous: httpx.AsyncClient) -> None:
    app = anonymous.app  # type: ignore[attr-defined]
    ci = {"Authorization": f"Bearer {await make_key(app, Scope.RUN, name='ci')}"}
    ops = {"Authorization": f"Bearer {await make_key(app, Scope.ADMIN, name='ops')}"}
    created = await anonymous.post("/api/runs", json={"script": SCRIPT}, headers=ci)
    assert created.status_code == 201 and created.json()["queuedBy"] == "ci"
    run_id = created.json()["id"]
    cancelled = await anonymous.post(f"/api/runs/{run_id}/cancel", headers=ops)
    assert cancelled.status_code == 200 and cancelled.json()["cancelledBy"] == "ops"
    shown = (await anonymous.get(f"/api/runs/{run_id}", headers=ci)).json()
    assert (shown["queuedBy"], shown["cancelledBy"]) == ("ci", "ops")
    retried = await anonymous.post(f"/api/runs/{run_id}/retry", headers=ops)
    assert retried.status_code == 201 and retried.json()["queuedBy"] == "ops"
    paused = await anonymous.post("/api/queue/pause", headers=ops)
    assert paused.status_code == 200 and paused.json()["paused"] is True
    queue = (await anonymous.get("/api/queue", headers=ci)).json()
    assert queue["lastAction"]["action"] == "pause" and queue["lastAction"]["by"] == "ops"
    await anonymous.post("/api/queue/resume", headers=ops)


async def test_option_secrets_are_never_in_lists_and_only_admins_read_them(anonymous: httpx.AsyncClient) -> None:
    app = anonymous.app  # type: ignore[attr-defined]
    admin = {"Authorization": f"Bearer {await make_key(app, Scope.ADMIN)}"}
    reader = {"Authorization": f"Bearer {await make_key(app, Scope.READ)}"}
    cookie = {"name": "sid", "value": "s3cr3t-cookie", "domain": "127.0.0.1", "path": "/"}
    state = {"cookies": [cookie],
             "origins": [{"origin": "http://127.0.0.1:9", "localStorage": [{"name": "t", "value": "s3cr3t-ls"}]}]}
    body = {"script": SCRIPT, "variables": {"PASSWORD": "s3cr3t-var"}, "storageState": state,
            "extraHttpHeaders": {"X-Token": "s3cr3t-header"}}
    created = await anonymous.post("/api/runs", json=body, headers=admin)
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    for headers in (admin, reader):
        listed = await anonymous.get("/api/runs", headers=headers)
        assert "s3cr3t" not in listed.text
        [item] = listed.json()["items"]
        assert item["options"]["variables"] == {"PASSWORD": "***"}
        assert item["options"]["storageState"]["cookies"][0] == {**cookie, "value": "***"}
    assert "s3cr3t" not in (await anonymous.get(f"/api/runs/{run_id}", headers=reader)).text
    full = (await anonymous.get(f"/api/runs/{run_id}", headers=admin)).json()
    assert full["options"]["variables"] == {"PASSWORD": "s3cr3t-var"}
    assert full["options"]["storageState"] == state


async def test_a_cookie_session_changes_state_only_with_its_csrf_token(anonymous: httpx.AsyncClient) -> None:
    app = anonymous.app  # type: ignore[attr-defined]
    key = await make_key(app, Scope.ADMIN, name="dash")
    login = await anonymous.post("/api/session", json={"key": key})
    assert login.status_code == 201, login.text
    cookie = login.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    token = login.json()["csrfToken"]
    assert login.json()["name"] == "dash" and token
    # The client now holds the cookie: reads need nothing more.
    assert (await anonymous.get("/api/runs")).status_code == 200
    session = (await anonymous.get("/api/session")).json()
    assert session["via"] == "session" and session["csrfToken"] == token
    refused = await anonymous.post("/api/queue/pause")
    assert refused.status_code == 403 and CSRF_HEADER in refused.json()["message"]
    wrong = await anonymous.post("/api/queue/pause", headers={CSRF_HEADER: "guess"})
    assert wrong.status_code == 403
    cross = await anonymous.post("/api/queue/pause", headers={CSRF_HEADER: token, "Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    assert (await anonymous.get("/api/queue")).json()["paused"] is False
    paused = await anonymous.post("/api/queue/pause", headers={CSRF_HEADER: token})
    assert paused.status_code == 200 and paused.json()["lastAction"]["by"] == "dash"
    await anonymous.post("/api/queue/resume", headers={CSRF_HEADER: token})
    out = await anonymous.delete("/api/session", headers={CSRF_HEADER: token})
    assert out.status_code == 204
    anonymous.cookies.set(SESSION_COOKIE, login.cookies[SESSION_COOKIE])
    assert (await anonymous.get("/api/runs")).status_code == 401  # the closed session is dead server-side


async def test_a_wrong_key_opens_no_session(anonymous: httpx.AsyncClient) -> None:
    refused = await anonymous.post("/api/session", json={"key": "rk_abc_def"})
    assert refused.status_code == 401 and SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    assert (await anonymous.post("/api/session", content=b"key=x",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})).status_code == 422


async def test_a_login_link_works_once(anonymous: httpx.AsyncClient) -> None:
    app = anonymous.app  # type: ignore[attr-defined]
    keys: KeyRepository = app.state.auth.keys
    new = await keys.create("linked", Scope.ADMIN)
    token = await keys.login_token(new.record.id, ttl_s=60)
    first = await anonymous.get(f"/login?token={token}")
    assert first.status_code == 303 and first.headers["location"] == "/"
    assert "HttpOnly" in first.headers["set-cookie"]
    assert (await anonymous.get("/api/session")).json()["name"] == "linked"
    anonymous.cookies.clear()
    again = await anonymous.get(f"/login?token={token}")
    assert again.status_code == 303 and again.headers["location"] == "/?login=invalid"
    assert (await anonymous.get("/api/runs")).status_code == 401


async def test_auth_none_lets_everyone_in_as_admin(settings: Settings) -> None:
    async with api_client_for(settings.model_copy(update={"auth": "none"}), scope=None) as client:
        assert (await client.post("/api/queue/pause")).json()["lastAction"]["by"] == "anonymous"
        assert (await client.get("/api/session")).json() == {"name": "anonymous", "scope": "admin", "via": "none",
                                                              "csrfToken": None}


async def test_admins_manage_keys_over_http(api_client: httpx.AsyncClient) -> None:
    created = await api_client.post("/api/keys", json={"name": "grafana", "scope": "read"})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("rk_") and created.json()["scope"] == "read"
    listed = await api_client.get("/api/keys")
    assert key not in listed.text and "grafana" in {item["name"] for item in listed.json()}
    assert (await api_client.post("/api/keys", json={"name": "grafana", "scope": "run"})).status_code == 409
    bad = await api_client.post("/api/keys", json={"name": "x", "scope": "root"})
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "scope"
    headers = {"Authorization": f"Bearer {key}"}
    assert (await api_client.get("/metrics", headers=headers)).status_code == 200  # a scraper's read key
    assert (await api_client.delete(f"/api/keys/{created.json()['id']}")).status_code == 204
    assert (await api_client.delete("/api/keys/grafana")).status_code == 404

    async def refused() -> bool:
        return (await api_client.get("/metrics", headers=headers)).status_code == 401

    await wait_for(refused, timeout=10, what="the revoked key to be refused")


async def test_a_dashboard_session_expires(settings: Settings) -> None:
    short = settings.model_copy(update={"session_ttl_hours": 1 / 3600})  # one second
    async with api_client_for(short, scope=None) as client:
        key = await make_key(client.app, Scope.READ)  # type: ignore[attr-defined]
        assert (await client.post("/api/session", json={"key": key})).status_code == 201
        assert (await client.get("/api/runs")).status_code == 200

        async def expired() -> bool:
            return (await client.get("/api/runs")).status_code == 401

        await wait_for(expired, timeout=15, what="the session to expire")
