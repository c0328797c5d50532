"""Per-client limits: requests per minute (a Redis token bucket, shared by every API process) and event
streams held open at once (counted in this process).

A client is `client_identity(request)`: the sha256 prefix of its bearer token when it sends one (each API
key its own budget), else its address. Redis unreachable: requests are let through (logged) rather than
refused, since the API's own 503s already say Redis is down where it matters.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from contextlib import contextmanager

import redis.exceptions
import structlog
from redis.asyncio import Redis
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import SESSION_COOKIE
from api.errors import TooManyRequests, too_many_response

log = structlog.get_logger(__name__)

EXEMPT_PREFIXES = ("/api/health",)  # probes are never limited

# KEYS[1]: the bucket (a hash: tokens, ts). ARGV: capacity, tokens per millisecond. Redis's own clock, so
# every API process agrees. Returns {allowed (0/1), milliseconds until one token is there}.
TOKEN_BUCKET = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate) + 1000)
return {allowed, wait}
"""


def client_identity(scope: Scope) -> str:
    """Who a request counts against: `key:<sha256 prefix>` of its bearer token (the API key: a made-up token
    cannot drain a real key's bucket), else of its dashboard session cookie, else `ip:<address>`."""
    session = None
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return "key:" + hashlib.sha256(token.strip().encode()).hexdigest()[:16]
        elif name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                cookie_name, _, cookie_value = part.strip().partition("=")
                if cookie_name == SESSION_COOKIE and cookie_value:
                    session = cookie_value
    if session is not None:
        return "session:" + hashlib.sha256(session.encode()).hexdigest()[:16]
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


class RateLimiter:
    """`API_RATE_LIMIT_PER_MINUTE` requests per client per minute, in bursts of up to as many."""

    def __init__(self, redis: Redis, *, queue: str, per_minute: int) -> None:
        self._redis = redis
        self._prefix = f"reprise:{queue}:ratelimit:"
        self.per_minute = per_minute
        self._script = redis.register_script(TOKEN_BUCKET)

    async def check(self, identity: str) -> int:
        """0 when the request may go on, else the seconds to wait (Retry-After)."""
        if self.per_minute <= 0:
            return 0
        try:
            allowed, wait_ms = await self._script(keys=[self._prefix + identity],
                                                  args=[self.per_minute, self.per_minute / 60_000])
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
            log.warning("rate limit not checked: redis unavailable", error=str(error))
            return 0
        return 0 if int(allowed) else max(1, math.ceil(int(wait_ms) / 1000))


class RateLimitMiddleware:
    """429 with Retry-After for a client over its budget, before the app sees the request."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter: RateLimiter | None = getattr(scope["app"].state, "rate_limiter", None) if "app" in scope else None
        path: str = scope.get("path", "")
        if (scope["type"] == "http" and limiter is not None and path.startswith("/api/")
                and not path.startswith(EXEMPT_PREFIXES)):
            wait_s = await limiter.check(client_identity(scope))
            if wait_s:
                response = too_many_response(
                    f"more than {limiter.per_minute} requests a minute from this client; retry in {wait_s} s",
                    wait_s)
                await response(scope, receive, send)
                return
        await self._app(scope, receive, send)


class StreamSlots:
    """At most `per_client` event streams open at once per client, in this API process."""

    RETRY_AFTER_S = 5

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self._open: dict[str, int] = {}

    def open_count(self, identity: str) -> int:
        return self._open.get(identity, 0)

    @contextmanager
    def hold(self, identity: str) -> Iterator[None]:
        """One slot for the stream's whole life; TooManyRequests when the client holds them all."""
        if self._open.get(identity, 0) >= self.per_client:
            raise TooManyRequests(f"this client already holds {self.per_client} event streams "
                                  f"(API_MAX_EVENT_STREAMS); close one first", self.RETRY_AFTER_S)
        self._open[identity] = self._open.get(identity, 0) + 1
        try:
            yield
        finally:
            left = self._open.get(identity, 1) - 1
            if left <= 0:
                self._open.pop(identity, None)
            else:
                self._open[identity] = left
