"""Prometheus metrics: request counts and latency by route template."""

from __future__ import annotations

import hmac

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

from web.keys import SETTINGS

REQUESTS = Counter(
    "drivershub_http_requests_total", "HTTP requests handled.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "drivershub_http_request_duration_seconds",
    "Time to handle an HTTP request.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def route_of(request: web.Request) -> str:
    """The route template (`/api/v1/hubs/{hub}`), so metrics do not grow with each slug."""
    info = request.match_info
    resource = info.route.resource if info.http_exception is None else None
    return resource.canonical if resource is not None else "unmatched"


def observe_request(request: web.Request, status: int, seconds: float) -> None:
    route = route_of(request)
    REQUESTS.labels(request.method, route, str(status)).inc()
    LATENCY.labels(request.method, route).observe(seconds)


async def serve_metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of this process's metrics."""
    return web.Response(
        body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


async def protected_metrics(request: web.Request) -> web.Response:
    """/metrics on the public port: only with the configured bearer token."""
    token = request.app[SETTINGS].metrics.token
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if token is None or not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise web.HTTPUnauthorized(text='{"detail": "Metrics need the configured bearer token."}')
    return await serve_metrics(request)


def metrics_app() -> web.Application:
    """A bare app serving only /metrics, for an internal address (`[metrics] listen`)."""
    app = web.Application()
    app.router.add_get("/metrics", serve_metrics)
    return app
