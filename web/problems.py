"""RFC 9457 problem details: every error the API returns has this shape."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aiohttp import web

from models.errors import DomainError
from models.i18n import render, translate

PROBLEM_TYPE = "application/problem+json"

# Stable codes for errors raised by the HTTP layer itself (not by a domain rule).
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}
# Seconds a client should wait before retrying a 503 (a dependency such as the cache is
# down): every 503 says so, so clients back off instead of hammering a recovering service.
RETRY_AFTER_UNAVAILABLE = 5


def problem(
    request: web.Request,
    status: int,
    code: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> web.Response:
    body = {
        "type": f"urn:drivershub:problem:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": code,
        "detail": detail,
        "instance": request.path,
        **extensions,
    }
    return web.Response(
        body=json.dumps(body, default=str).encode(),
        status=status,
        content_type=PROBLEM_TYPE,
        headers=headers,
    )


def language(request: web.Request) -> str | None:
    """The language the client prefers most (Accept-Language, `q` weights honoured)."""
    best, best_q = None, 0.0
    for item in request.headers.get("Accept-Language", "").split(","):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and q > best_q:
            best, best_q = tag, q
    return best


def from_domain(request: web.Request, error: DomainError) -> web.Response:
    locale = language(request)
    detail = translate(error.message, locale, **error.params)
    extensions = {
        k: render(v, locale) for k, v in error.params.items() if f"{{{k}}}" not in error.message
    }
    headers = None
    if error.status == 429 and "seconds" in error.params:
        headers = {"Retry-After": str(error.params["seconds"])}
    elif error.status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_UNAVAILABLE)}
    elif error.status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="drivershub"'}
    return problem(request, error.status, error.code, detail, headers=headers, **extensions)


def from_http(request: web.Request, exc: web.HTTPException) -> web.Response:
    code = HTTP_CODES.get(exc.status, "http_error")
    detail = _detail_of(exc) or exc.reason
    headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
    if exc.status == 503:
        headers.setdefault("Retry-After", str(RETRY_AFTER_UNAVAILABLE))
    return problem(request, exc.status, code, detail, headers=headers)


def _detail_of(exc: web.HTTPException) -> str | None:
    text = exc.text or ""
    if text.startswith("{"):
        try:
            return json.loads(text).get("detail")
        except ValueError:
            return None
    if exc.status == 413:
        return "The request body is too large."
    if exc.status == 404:
        return "No such route. The API lives under /api/v1; see /api/v1/docs."
    return None
