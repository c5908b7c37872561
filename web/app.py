"""The application factory."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from aiohttp import web

from core.config import Settings
from models import plugins
from web import (
    accounts,
    admin,
    clientip,
    hubs,
    login_links,
    mfa,
    middlewares,
    oauth,
    ratelimit,
    sessions,
    steam,
    system,
    users,
)
from web.api import PREFIX, Router
from web.keys import GATEWAY_STATE, SETTINGS
from web.metrics import protected_metrics
from web.openapi import build_document

log = logging.getLogger(__name__)

# The platform's routers, in the order they appear in the docs; packages' come from the registry.
PLATFORM_ROUTERS: list[Router] = [
    system.router,
    sessions.router,
    users.router,
    hubs.router,
    login_links.router,
    oauth.router,
    steam.router,
    accounts.router,
    mfa.router,
    admin.router,
]


def routers() -> list[Router]:
    """The platform's routers, then every registered package's (by its dotted path)."""
    found = list(PLATFORM_ROUTERS)
    for path in plugins.routers():
        try:
            found.append(plugins.load_object(path))
        except Exception as exc:  # a broken plugin must not stop the API
            log.error("router %s skipped: %s: %s", path, type(exc).__name__, exc)
    return found


def _version() -> str:
    try:
        return version("drivershub")
    except PackageNotFoundError:
        return "0.0.0"


def no_gateway() -> dict[str, Any]:
    return {"state": "disabled"}


def create_app(
    settings: Settings, *, gateway_state: Callable[[], dict[str, Any]] = no_gateway
) -> web.Application:
    """Build the API application; resources (database, cache) are opened by the runtime."""
    mounted = routers()  # once: a broken plugin router is logged once, then left out
    endpoints = [endpoint for router in mounted for endpoint in router.endpoints]
    stack = [middlewares.observe(log_requests=settings.web.access_log)]
    if settings.web.cors_origins:
        stack.append(middlewares.cors(settings.web.cors_origins))
    stack.append(middlewares.errors)
    if settings.rate_limit.enabled:
        by_handler = {endpoint.handler: endpoint for endpoint in endpoints}
        stack.append(ratelimit.middleware(settings.rate_limit, by_handler))
    app = web.Application(middlewares=stack, client_max_size=settings.web.max_body_size)
    app[SETTINGS] = settings
    if settings.web.cors_origins:
        app.on_response_prepare.append(middlewares.cors_headers(settings.web.cors_origins))
    clientip.install(app, settings.web.trusted_proxies)
    app[GATEWAY_STATE] = gateway_state
    app.cleanup_ctx.append(oauth.http_client_ctx)  # calls to Discord and Steam for logins
    for router in mounted:
        router.install(app)
    system.install_docs_assets(app)
    if settings.metrics.enabled and settings.metrics.token is not None:
        app.router.add_get("/metrics", protected_metrics)
    document = build_document(
        endpoints, version=_version(), server_url=settings.web.public_url.rstrip("/")
    )
    app[system.OPENAPI] = json.dumps(document).encode()
    return app


__all__ = ["PREFIX", "create_app"]
