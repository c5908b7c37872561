"""Prometheus metrics: request counts and latency by route template.

With several web workers (`drivershub web`, WEB_CONCURRENCY > 1) prometheus-client's
multiprocess mode is on: every worker writes its values to files in PROMETHEUS_MULTIPROC_DIR
(set by the parent before the workers start) and a scrape, whichever worker the kernel hands
it to, sums them all. A Gauge added here needs a `multiprocess_mode` (such as "livesum"):
there is no single right way to combine gauges of several processes.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import tempfile
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from web.keys import SETTINGS

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"

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


def _registry() -> CollectorRegistry:
    """This process's metrics, or in multiprocess mode those of every worker, summed."""
    if MULTIPROC_DIR not in os.environ:
        return REGISTRY
    # A fresh registry reading only the files: the default one also holds this worker's own
    # metrics, which the files already include, so they would be counted twice.
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


async def serve_metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of this process's (or every web worker's) metrics."""
    return web.Response(
        body=generate_latest(_registry()), headers={"Content-Type": CONTENT_TYPE_LATEST}
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


@contextlib.contextmanager
def shared_metrics_dir() -> Iterator[None]:
    """For a parent of web workers: a fresh directory for their metrics while they run.

    Workers started inside inherit PROMETHEUS_MULTIPROC_DIR; prometheus-client reads it when
    it is first imported, so the workers must be new processes ('spawn'), not forks of this
    one. Fresh, because values left by an earlier run would be added to this one's.
    """
    with tempfile.TemporaryDirectory(prefix="drivershub-metrics-") as path:
        os.environ[MULTIPROC_DIR] = path
        try:
            yield
        finally:
            del os.environ[MULTIPROC_DIR]


def worker_exited(pid: int) -> None:
    """Forget a stopped worker's live gauges (its counters and histograms keep counting)."""
    if MULTIPROC_DIR in os.environ:
        mark_process_dead(pid)
