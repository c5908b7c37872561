"""Middlewares: request ids, metrics and access logs, problem responses, CORS."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from core.db import DATABASE_AWAY
from core.logs import request_id
from models.errors import DomainError
from web import problems
from web.metrics import observe_request

log = logging.getLogger(__name__)
access_log = logging.getLogger("drivershub.access")

REQUEST_ID_HEADER = "X-Request-Id"
# A proxy's request id is accepted only if it looks like one (uuids, hex, trace ids): no
# spaces, quotes or markup that could forge a field in a plain-text log line.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:;=+/-]{1,64}")


def _incoming_id(request: web.Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    if SAFE_REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def observe(*, log_requests: bool) -> web.Middleware:
    """Give every request an id, time it, count it and (optionally) log it."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        rid = _incoming_id(request)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            response.headers[REQUEST_ID_HEADER] = rid
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            elapsed = time.perf_counter() - started
            observe_request(request, status, elapsed)
            if log_requests:
                access_log.info(
                    "%s %s %s %.1fms", request.method, request.path, status, elapsed * 1e3
                )
            request_id.reset(token)

    return middleware


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a problem+json response; never leak a traceback."""
    try:
        return await handler(request)
    except DomainError as exc:
        return problems.from_domain(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problems.from_http(request, exc)
    except DATABASE_AWAY as exc:
        log.warning("database unavailable on %s %s: %r", request.method, request.path, exc)
        return problems.problem(
            request,
            503,
            "database_unavailable",
            "The database is not reachable right now. Try again shortly.",
            headers={"Retry-After": str(problems.RETRY_AFTER_UNAVAILABLE)},
        )
    except Exception:
        reference = request_id.get()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problems.problem(
            request,
            500,
            "internal_error",
            f"Something went wrong on our side. Reference: {reference}",
            reference=reference,
        )


def cors(origins: list[str]) -> web.Middleware:
    """Answer the configured browser origins' (exact) preflight requests; `cors_headers`
    adds the headers that let them read every answer with credentials."""
    allowed = frozenset(o.rstrip("/") for o in origins)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None or origin not in allowed:
            return await handler(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response = web.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, PUT, DELETE"
            response.headers["Access-Control-Allow-Headers"] = (
                "Authorization, Content-Type, Accept-Language, X-Request-Id, Last-Event-ID"
            )
            response.headers["Access-Control-Max-Age"] = "600"
            return response
        return await handler(request)

    return middleware


def cors_headers(
    origins: list[str],
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """An `on_response_prepare` hook: the allowed origin's headers on every answer, set just
    before the headers are sent, so a streamed answer (the notification stream) has them too
    (a middleware only sees a stream after its headers went out)."""
    allowed = frozenset(o.rstrip("/") for o in origins)

    async def prepare(request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get("Origin")
        if origin is None or origin not in allowed:
            return
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Expose-Headers"] = (
            "X-Request-Id, Retry-After, RateLimit, RateLimit-Policy"
        )
        response.headers["Vary"] = "Origin"

    return prepare
