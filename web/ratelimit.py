"""Rate limits per identity (user when authenticated, else client IP) and per sensitive route."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from core.config import RateLimitSettings
from models import ratelimit
from models.cache import CacheUnavailable, went_without
from models.errors import DomainError
from models.ratelimit import Limit, Verdict
from web.api import Endpoint
from web.auth import signed_claims
from web.clientip import client_ip


async def identity(request: web.Request) -> str:
    """`user:<id>` for a validly signed bearer token (revoked or not: the caller holds
    it), else `ip:<address>`."""
    if "Authorization" in request.headers:
        try:
            return f"user:{(await signed_claims(request)).user_id}"
        except DomainError:
            pass  # the handler reports bad credentials; the limit falls back to the IP
    return f"ip:{client_ip(request)}"


def middleware(settings: RateLimitSettings, endpoints: dict) -> web.Middleware:
    """Count every API request against the caller's global budget, and sensitive routes
    (login, register, reset, MFA, token creation) against a smaller one."""
    global_limit = Limit("global", settings.global_limit, settings.global_window)
    auth_limit = Limit("auth", settings.auth_limit, settings.auth_window)
    tracker_limit = Limit("tracker", settings.tracker_limit, settings.tracker_window)

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        endpoint: Endpoint | None = endpoints.get(request.match_info.handler)
        if endpoint is None or endpoint.tag == "system":
            return await handler(request)  # health checks and docs are never limited
        if endpoint.limit == "tracker":
            # One tracker address sends for every hub it serves: a budget per hub, not per IP.
            hub = request.match_info.get("hub", "")
            verdicts = [await _spend(tracker_limit, f"hub:{hub}", fail_open=True)]
            return await _within(request, handler, verdicts)
        who = await identity(request)
        verdicts = [await _spend(global_limit, who, fail_open=True)]
        if endpoint.limit == "auth":
            verdicts.append(
                await _spend(auth_limit, f"{endpoint.handler.__name__}:{who}", fail_open=False)
            )
        return await _within(request, handler, verdicts)

    return limit


async def _within(
    request: web.Request, handler: Handler, verdicts: list[Verdict | None]
) -> web.StreamResponse:
    refused = next((v for v in verdicts if v is not None and not v.allowed), None)
    if refused is not None:
        raise refused.refuse()
    response = await handler(request)
    _add_headers(response, [v for v in verdicts if v is not None])
    return response


async def _spend(limit: Limit, key: str, *, fail_open: bool) -> Verdict | None:
    try:
        return await ratelimit.hit(limit, key)
    except CacheUnavailable as exc:  # a 503 with Retry-After when it fails closed
        if not fail_open:
            raise
        went_without(f"rate limit {limit.name} not checked, serving", exc)
        return None


def _add_headers(response: web.StreamResponse, verdicts: list[Verdict]) -> None:
    if verdicts and not response.prepared:
        tightest = min(verdicts, key=lambda v: v.remaining)
        response.headers["RateLimit-Policy"] = ", ".join(v.limit.policy() for v in verdicts)
        response.headers["RateLimit"] = tightest.header()
