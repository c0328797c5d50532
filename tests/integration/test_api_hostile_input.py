"""Hostile and careless input (issue 16, findings 3-9): every bad request is a 4xx in the documented shape
naming the field, nothing is stored or queued for it, and no input answers 500. In-process ASGI on the real
Postgres and Redis."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from contract import limits
from contract.settings import Settings
from storage import RunRepository, create_pool

from services import api_client_for, job_counts, wait_for

RECORDING: dict[str, Any] = {"title": "Sign up", "steps": [{"type": "navigate", "url": "http://127.0.0.1:9/"}]}


def assert_error(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """The documented error shape: `{error, message, fields?}`, and `fields` names `field` when given."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()
    assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str), body
    assert "detail" not in body, body
    if field is not None:
        assert any(item["field"].startswith(field) for item in body["fields"]), body
    return body


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


def native(*steps: dict[str, Any], name: str = "hostile") -> dict[str, Any]:
    return {"version": 1, "name": name, "steps": [{"action": "navigate", "url": "http://127.0.0.1:9/"}, *steps]}


async def assert_nothing_stored(client: httpx.AsyncClient, settings: Settings) -> None:
    listed = await client.get("/api/runs")
    assert listed.status_code == 200 and listed.json()["total"] == 0, listed.text
    assert sum((await job_counts(settings)).values()) == 0


# --- Finding 3: a request that cannot be stored safely is never inserted ----------------------------------------

async def test_deep_storage_state_is_422_and_nothing_is_stored(api_client: httpx.AsyncClient,
                                                               settings: Settings) -> None:
    deep = {"cookies": [], "origins": [{"origin": "http://a.test", "localStorage": [nested(500)]}]}
    response = await api_client.post("/api/runs", json={"script": RECORDING, "storageState": deep})
    assert_error(response, 422, "storageState")
    await assert_nothing_stored(api_client, settings)
    for still in ("/api/runs", "/api/runs?limit=1"):
        assert (await api_client.get(still)).status_code == 200


@pytest.mark.parametrize("depth", [limits.MAX_DEPTH + 1, 600, 900])
async def test_deep_script_is_422_naming_the_field(api_client: httpx.AsyncClient, settings: Settings,
                                                   depth: int) -> None:
    script = native({"action": "fill", "selector": "#a", "value": "v", "extra": "DEEP"})
    # Spelled by hand: json.dumps itself recurses, and 999 levels is past what it can write.
    text = json.dumps({"script": script}).replace('"DEEP"', '{"a": ' * depth + '"x"' + "}" * depth)
    response = await api_client.post("/api/runs", content=text, headers={"content-type": "application/json"})
    body = assert_error(response, 422, "script.steps[1].extra")
    assert "nested" in body["message"]
    await assert_nothing_stored(api_client, settings)


async def test_nesting_past_the_json_decoder_is_422_in_the_shape(api_client: httpx.AsyncClient) -> None:
    text = '{"script": ' + "[" * 5000 + "]" * 5000 + "}"
    response = await api_client.post("/api/runs", content=text, headers={"content-type": "application/json"})
    assert_error(response, 422, "body")


# --- Finding 4: sizes bounded, after substitution too -----------------------------------------------------------

async def test_body_over_the_limit_is_413_before_parsing(settings: Settings) -> None:
    small = settings.model_copy(update={"api_max_body_bytes": 64 * 1024})
    async with api_client_for(small) as client:
        big = json.dumps({"script": native({"action": "fill", "selector": "#a", "value": "x" * 100_000})})
        assert_error(await client.post("/api/runs", content=big, headers={"content-type": "application/json"}), 413)

        async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
            for _ in range(100):
                yield b"x" * 1024

        response = await client.post("/api/runs", content=chunked(), headers={"content-type": "application/json"})
        assert "content-length" not in response.request.headers
        assert_error(response, 413)
        assert (await client.get("/api/runs")).json()["total"] == 0


async def test_long_fill_value_is_422_naming_the_step(api_client: httpx.AsyncClient, settings: Settings) -> None:
    script = native({"action": "fill", "selector": "#a", "value": "x" * (limits.MAX_STRING_CHARS + 1)})
    assert_error(await api_client.post("/api/runs", json={"script": script}), 422, "script.steps[1].value")
    await assert_nothing_stored(api_client, settings)


async def test_limits_hold_after_variable_substitution(api_client: httpx.AsyncClient, settings: Settings) -> None:
    # `${A}` in the recording's name: 300 allowed as written, far more once expanded (finding 4's 10 M name).
    variables = {"A": "y" * limits.MAX_VARIABLE_CHARS}
    script = native(name="${A}")
    body = assert_error(await api_client.post("/api/runs", json={"script": script, "variables": variables}), 422,
                        "script.name")
    assert str(limits.MAX_NAME_CHARS) in body["message"]
    # A fill value made of many references: each short as written, past the per-string bound once expanded.
    many = native({"action": "fill", "selector": "#a", "value": "${A}" * 20})
    assert_error(await api_client.post("/api/runs", json={"script": many, "variables": variables}), 422,
                 "script.steps[1].value")
    too_long_variable = {"A": "z" * (limits.MAX_VARIABLE_CHARS + 1)}
    assert_error(await api_client.post("/api/runs", json={"script": script, "variables": too_long_variable}), 422,
                 "variables")
    await assert_nothing_stored(api_client, settings)


async def test_too_many_steps_and_huge_viewports_are_422(api_client: httpx.AsyncClient, settings: Settings) -> None:
    steps = [{"action": "click", "selector": "#a"}] * limits.MAX_STEPS
    assert_error(await api_client.post("/api/runs", json={"script": native(*steps)}), 422, "script.steps")
    recorder = {"title": "huge", "steps": [
        {"type": "setViewport", "width": 100000, "height": 100000, "deviceScaleFactor": 1, "isMobile": False,
         "hasTouch": False, "isLandscape": False},
        {"type": "navigate", "url": "http://127.0.0.1:9/"}]}
    assert_error(await api_client.post("/api/runs", json={"script": recorder}), 422, "script.steps[0]")
    assert_error(await api_client.post("/api/runs", json={"script": RECORDING,
                                                          "viewport": {"width": 100000, "height": 600}}),
                 422, "viewport.width")
    await assert_nothing_stored(api_client, settings)


async def test_the_run_list_never_carries_scripts(api_client: httpx.AsyncClient, settings: Settings) -> None:
    script = native({"action": "fill", "selector": "#a", "value": "v" * 50_000})
    created = await api_client.post("/api/runs", json={"script": script})
    assert created.status_code == 201, created.text
    page = await api_client.get("/api/runs")
    assert page.status_code == 200 and "v" * 1000 not in page.text and "script" not in page.json()["items"][0]
    # The query itself leaves the recording in the database (finding 4: a page of 50 runs read every script).
    pool = await create_pool(settings.database_url)
    try:
        runs = RunRepository(pool, queue=settings.queue_name)
        [listed], _ = await runs.list_page(limit=10)
        assert listed.script == {} and listed.name == "hostile"
        assert (await runs.get(listed.id)).script == script, "one run is read whole"
    finally:
        await pool.close()


# --- Finding 5: regular expressions cannot block ---------------------------------------------------------------

async def test_patterns_re2_cannot_run_are_422(api_client: httpx.AsyncClient, settings: Settings) -> None:
    lookbehind = native({"action": "assertTitle", "text": "(?<=a)b", "match": "matches"})
    body = assert_error(await api_client.post("/api/runs", json={"script": lookbehind}), 422, "script.steps[1]")
    assert "RE2" in body["message"]
    huge = native({"action": "assertTitle", "text": "a" * 900_000 + "$", "match": "matches"})
    big_enough = settings.model_copy(update={"api_max_body_bytes": 4 * 1024 * 1024})
    async with api_client_for(big_enough) as client:
        assert_error(await client.post("/api/runs", json={"script": huge}), 422, "script.steps[1]")
        assert (await client.get("/api/health")).status_code == 200
    catastrophic = native({"action": "assertTitle", "text": "^(a+)+$", "match": "matches"})
    assert (await api_client.post("/api/runs", json={"script": catastrophic})).status_code == 201


# --- Finding 6: dead-letter retry only for dead runs -----------------------------------------------------------

async def test_dead_letter_retry_of_a_live_or_ended_run_is_409(api_client: httpx.AsyncClient,
                                                               settings: Settings) -> None:
    run = (await api_client.post("/api/runs", json={"script": RECORDING})).json()
    body = assert_error(await api_client.post(f"/api/dead-letter/{run['id']}/retry"), 409)
    assert "not in the dead letter" in body["message"]
    assert (await job_counts(settings))["waiting"] == 1, "the queued run's job must stay"
    assert (await api_client.get("/api/runs")).json()["total"] == 1, "no copy"
    assert (await api_client.post(f"/api/runs/{run['id']}/cancel")).status_code == 200
    assert_error(await api_client.post(f"/api/dead-letter/{run['id']}/retry"), 409)
    assert (await api_client.get("/api/runs")).json()["total"] == 1


# --- Finding 7: numbers, characters and dates out of range; every error in the shape --------------------------

@pytest.mark.parametrize(("path", "field"), [
    (f"/api/runs?offset={2**63}", "offset"),
    (f"/api/runs?before={2**64}", "before"),
    (f"/api/runs?limit={2**70}", "limit"),
    (f"/api/recordings?offset={2**63}", "offset"),
    (f"/api/dead-letter?offset={2**63}", "offset"),
    (f"/api/runs/00000000-0000-0000-0000-000000000000/artifacts/{2**70}", "artifact_id"),
    (f"/api/runs/00000000-0000-0000-0000-000000000000/attempts/{2**40}/steps", "attempt"),
    ("/api/runs?name=a%00b", "name"),
    ("/api/runs?q=%00", "q"),
    ("/api/runs?from=0001-01-01T00:00:00%2B01:00", "from"),
    ("/api/runs?to=9999-12-31T23:59:59-01:00", "to"),
    ("/api/runs?to=0.5", "to"),
])
async def test_out_of_range_parameters_are_422_naming_them(api_client: httpx.AsyncClient, path: str,
                                                           field: str) -> None:
    assert_error(await api_client.get(path), 422, field)


async def test_nul_characters_in_bodies_are_422(api_client: httpx.AsyncClient, settings: Settings) -> None:
    assert_error(await api_client.post("/api/runs", json={"script": RECORDING, "name": "a\x00b"}), 422, "name")
    script = native({"action": "fill", "selector": "#a", "value": "a\x00b"})
    assert_error(await api_client.post("/api/runs", json={"script": script}), 422, "script.steps[1].value")
    assert_error(await api_client.post("/api/recordings", json={"script": script}), 422, "script.steps[1].value")
    await assert_nothing_stored(api_client, settings)


async def test_undecodable_bodies_are_422_in_the_shape(api_client: httpx.AsyncClient) -> None:
    json_type = {"content-type": "application/json"}
    assert_error(await api_client.post("/api/runs", content=b'{"script": "\xff\xfe"}', headers=json_type), 422,
                 "body")
    assert_error(await api_client.post("/api/runs", content=b'{"script": ', headers=json_type), 422, "body")


async def test_starlette_errors_have_the_shape_and_allow(api_client: httpx.AsyncClient) -> None:
    assert_error(await api_client.get("/api/nothing-here"), 404)
    wrong = assert_error(await api_client.delete("/api/runs"), 405)
    assert wrong["error"] == "method_not_allowed"
    allow = (await api_client.delete("/api/runs")).headers["allow"]
    assert set(allow.replace(" ", "").split(",")) >= {"GET", "POST"}


# --- Finding 8: headers and storage state that would crash the browser are 422 ---------------------------------

@pytest.mark.parametrize("headers", [
    {"X-Evil": "a\r\nInjected: 1"},
    {"X-Evil": "a\nb"},
    {"bad name": "v"},
    {"": "v"},
    {"X-Long": "v" * (limits.MAX_HEADER_VALUE_CHARS + 1)},
])
async def test_bad_extra_headers_are_422(api_client: httpx.AsyncClient, settings: Settings,
                                         headers: dict[str, str]) -> None:
    assert_error(await api_client.post("/api/runs", json={"script": RECORDING, "extraHttpHeaders": headers}), 422,
                 "extraHttpHeaders")
    await assert_nothing_stored(api_client, settings)


@pytest.mark.parametrize("state", [
    {"cookies": "session=1"},
    {"cookies": [{"name": "session"}]},
    {"cookies": [{"name": "session", "value": "1"}]},  # neither url nor domain+path
    {"cookies": [{"name": "s", "value": "1", "domain": "a.test", "path": "/", "sameSite": "Sometimes"}]},
    {"origins": [{"origin": "javascript:alert(1)", "localStorage": []}]},
    {"cookie": []},
])
async def test_malformed_storage_state_is_422(api_client: httpx.AsyncClient, settings: Settings,
                                              state: dict[str, Any]) -> None:
    assert_error(await api_client.post("/api/runs", json={"script": RECORDING, "storageState": state}), 422,
                 "storageState")
    await assert_nothing_stored(api_client, settings)


async def test_a_playwright_storage_state_is_kept_as_playwright_reads_it(api_client: httpx.AsyncClient) -> None:
    state = {"cookies": [{"name": "s", "value": "1", "domain": "a.test", "path": "/", "expires": -1,
                          "httpOnly": True, "secure": False, "sameSite": "Lax"}],
             "origins": [{"origin": "http://a.test", "localStorage": [{"name": "k", "value": "v"}]}]}
    created = await api_client.post("/api/runs", json={"script": RECORDING, "storageState": state})
    assert created.status_code == 201, created.text
    assert created.json()["options"]["storageState"] == state


# --- Finding 9: Idempotency-Key bound to its body, and expiring -------------------------------------------------

async def test_idempotency_key_with_another_body_is_422(api_client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": "deploy-42"}
    first = await api_client.post("/api/runs", json={"script": RECORDING}, headers=key)
    again = await api_client.post("/api/runs", json={"script": RECORDING}, headers=key)
    assert first.status_code == 201 and again.status_code == 200 and again.json()["id"] == first.json()["id"]
    other = await api_client.post("/api/runs", json={"script": RECORDING, "video": "off"}, headers=key)
    body = assert_error(other, 422, "Idempotency-Key")
    assert body["error"] == "idempotency_key_reused" and first.json()["id"] in body["message"]
    assert (await api_client.get("/api/runs")).json()["total"] == 1


async def test_idempotency_keys_expire(settings: Settings) -> None:
    async with api_client_for(settings.model_copy(update={"idempotency_key_ttl_s": 1})) as client:
        key = {"Idempotency-Key": "nightly"}
        first = await client.post("/api/runs", json={"script": RECORDING}, headers=key)
        assert first.status_code == 201

        async def new_run() -> str | None:
            response = await client.post("/api/runs", json={"script": RECORDING}, headers=key)
            assert response.status_code in (200, 201), response.text
            return response.json()["id"] if response.status_code == 201 else None

        second = await wait_for(new_run, timeout=15, interval=0.3, what="the key to expire")
        assert second != first.json()["id"]
        old = (await client.get(f"/api/runs/{first.json()['id']}")).json()
        assert old["id"] == first.json()["id"], "the first run stays"
