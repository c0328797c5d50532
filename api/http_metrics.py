"""HTTP request latency of this API process: a pure ASGI middleware and its histogram.

    reprise_http_request_duration_seconds{method, route, status_class}   histogram, per process

`route` is the route's template (`/api/runs/{run_id}`, a mount as `/dashboard/{path}`), never the raw path, and
`unmatched` for paths no route serves, so the label stays bounded. The time runs from the request to the end of
the response body. `/metrics` itself and the event stream (`/api/events`, open for as long as a dashboard is)
are left out: their durations say nothing about how fast the API answers.

Per process: each API process counts its own requests, so across processes and replicas sum the rates, e.g.
`sum by (route, le) (rate(reprise_http_request_duration_seconds_bucket[5m]))`.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.process_collector import ProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Seconds: JSON answers take milliseconds, artifact downloads (proxied videos) may take many seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
UNTIMED_ROUTES = frozenset({"/metrics", "/api/events"})
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    """This process's own metrics: request latency, and the process (`process_*`: CPU, memory, open files)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "reprise_http_request_duration_seconds",
            "HTTP request latency of this API process, by method, route template and status class",
            ["method", "route", "status_class"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)

    def observe(self, method: str, route: str, status_code: int, seconds: float) -> None:
        if route in UNTIMED_ROUTES:
            return
        self.latency.labels(method if method in METHODS else "other", route, f"{status_code // 100}xx").observe(
            seconds)


def route_template(scope: Scope, root_path: str) -> str:
    """The template of the route that served the request, from what the router left in its scope: FastAPI's
    route (`scope["route"]`), a mount (it extends `root_path`), or a plain Starlette route (`/docs`,
    `/openapi.json`: its `endpoint`, looked up among the app's routes)."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    mounted = str(scope.get("root_path", ""))
    if mounted != root_path and mounted.startswith(root_path):
        return mounted[len(root_path):] + "/{path}"
    endpoint = scope.get("endpoint")
    if endpoint is not None:
        for route in getattr(scope.get("app"), "routes", ()):
            if getattr(route, "endpoint", None) is endpoint and isinstance(getattr(route, "path", None), str):
                return str(route.path)
    return UNMATCHED


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = str(scope.get("root_path", ""))
        status_code = 500  # no response started: the app raised, and the error middleware answers 500

        async def send_with_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, send_with_status)
        finally:
            self._metrics.observe(str(scope["method"]), route_template(scope, root_path), status_code,
                                  time.perf_counter() - started)
